//! A row of `login_failures`: one authentication attempt that is not known to have succeeded. A
//! login writes its row before the password is checked and deletes it when it succeeds, so the
//! rows in the window are the failures plus the attempts in flight.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_failures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `user:<id>` for an attempt on an existing account's password, `name:<login in lower
    /// case>` otherwise; empty for registrations.
    pub account_key: String,
    pub client_ip: String,
    pub failed_at: DateTimeUtc,
    /// `name:<login in lower case>`: the name typed, which the visible throttle is keyed on.
    pub login_name: String,
    /// `login` or `register`.
    pub action: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
