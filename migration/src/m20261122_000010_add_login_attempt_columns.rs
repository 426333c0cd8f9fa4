//! `login_failures` becomes the record of authentication attempts: an attempt is written before its
//! password is checked (and deleted when it succeeds), so concurrent guesses cannot overshoot the
//! limits. Two columns: `login_name`, the name typed (normalised), which the visible throttle is
//! keyed on so that it reveals nothing about which email belongs to which username; and `action`,
//! `login` or `register`, so that registrations are throttled per client too. Existing rows are
//! kept (as logins; those under an unknown name keep it as the name typed).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const LOGIN_NAME_INDEX: &str = "login_failures_login_name_failed_at_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(LoginFailures::Table)
                    .add_column(
                        ColumnDef::new(LoginFailures::LoginName)
                            .string_len(200)
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LoginFailures::Table)
                    .add_column(
                        ColumnDef::new(LoginFailures::Action)
                            .string_len(16)
                            .not_null()
                            .default("login"),
                    )
                    .to_owned(),
            )
            .await?;
        // A failure under an unknown name was typed as that name.
        manager
            .exec_stmt(
                Query::update()
                    .table(LoginFailures::Table)
                    .value(
                        LoginFailures::LoginName,
                        Expr::col(LoginFailures::AccountKey),
                    )
                    .and_where(Expr::col(LoginFailures::AccountKey).like("name:%"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LOGIN_NAME_INDEX)
                    .table(LoginFailures::Table)
                    .col(LoginFailures::LoginName)
                    .col(LoginFailures::FailedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Registrations were never login failures.
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(LoginFailures::Table)
                    .and_where(Expr::col(LoginFailures::Action).ne("login"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(LOGIN_NAME_INDEX)
                    .table(LoginFailures::Table)
                    .to_owned(),
            )
            .await?;
        for column in [LoginFailures::Action, LoginFailures::LoginName] {
            manager
                .alter_table(
                    Table::alter()
                        .table(LoginFailures::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    AccountKey,
    LoginName,
    Action,
    FailedAt,
}
