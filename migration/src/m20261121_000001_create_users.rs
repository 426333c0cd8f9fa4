//! `users`: the people who borrow, write posts and (as admins) run the catalogue.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(
                        ColumnDef::new(Users::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Users::Username)
                            .string_len(64)
                            .not_null()
                            .check(Expr::cust("length(username) BETWEEN 1 AND 64")),
                    )
                    .col(
                        ColumnDef::new(Users::Email)
                            .string_len(120)
                            .not_null()
                            .check(Expr::cust("length(email) BETWEEN 3 AND 120")),
                    )
                    .col(
                        ColumnDef::new(Users::PasswordHash)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Users::Role)
                            .string_len(16)
                            .not_null()
                            .default("borrower")
                            .check(Expr::col(Users::Role).is_in(["borrower", "admin"])),
                    )
                    .col(
                        ColumnDef::new(Users::ImageFile)
                            .string_len(120)
                            .not_null()
                            .default("default.jpg"),
                    )
                    .col(
                        ColumnDef::new(Users::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        // Case-insensitive uniqueness is an expression index, which sea-query cannot express;
        // this SQL is the same on SQLite and PostgreSQL.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))",
        )
        .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))")
            .await?;

        // `users` lists oldest first, keyset-paginated on (created_at, id).
        manager
            .create_index(
                Index::create()
                    .name("users_created_at_id_idx")
                    .table(Users::Table)
                    .col(Users::CreatedAt)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    Role,
    ImageFile,
    CreatedAt,
}
