//! `posts`: what users write; a user's posts go when the user goes.

use sea_orm_migration::prelude::*;

use crate::m20261121_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Posts::Table)
                    .col(
                        ColumnDef::new(Posts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Posts::Title)
                            .string_len(100)
                            .not_null()
                            .check(Expr::cust("length(title) BETWEEN 1 AND 100")),
                    )
                    .col(
                        ColumnDef::new(Posts::Body)
                            .text()
                            .not_null()
                            .check(Expr::cust("length(body) > 0")),
                    )
                    .col(
                        ColumnDef::new(Posts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Posts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Posts::AuthorId).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("posts_author_id_fkey")
                            .from(Posts::Table, Posts::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // The global feed: newest first, keyset on (created_at, id).
        manager
            .create_index(
                Index::create()
                    .name("posts_created_at_id_idx")
                    .table(Posts::Table)
                    .col(Posts::CreatedAt)
                    .col(Posts::Id)
                    .to_owned(),
            )
            .await?;
        // One author's posts, newest first: serves the foreign key, `User.posts` and `postCount`.
        manager
            .create_index(
                Index::create()
                    .name("posts_author_id_created_at_id_idx")
                    .table(Posts::Table)
                    .col(Posts::AuthorId)
                    .col(Posts::CreatedAt)
                    .col(Posts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Posts::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Title,
    Body,
    CreatedAt,
    UpdatedAt,
    AuthorId,
}
