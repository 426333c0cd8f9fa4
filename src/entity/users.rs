//! A row of `users`.

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use crate::domain::validate::case_key;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    pub email: String,
    /// `username` in any case ([`case_key`]): unique. Set by [`ActiveModel::before_save`].
    #[sea_orm(column_type = "Text")]
    pub username_key: String,
    /// `email` in any case ([`case_key`]): unique. Set by [`ActiveModel::before_save`].
    #[sea_orm(column_type = "Text")]
    pub email_key: String,
    pub password_hash: String,
    pub role: Role,
    pub image_file: String,
    pub created_at: DateTimeUtc,
}

/// What a user may do.
// Declared once: stored as text under a CHECK constraint (SeaORM), the `Role` enum of the schema
// (async-graphql), and the `--role` of `create-user` (clap).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    async_graphql::Enum,
    clap::ValueEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Role {
    /// Borrows items and writes posts.
    #[sea_orm(string_value = "borrower")]
    Borrower,
    /// Also runs the catalogue and manages users.
    #[sea_orm(string_value = "admin")]
    Admin,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::posts::Entity")]
    Posts,
}

impl Related<super::posts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Posts.def()
    }
}

impl ActiveModel {
    /// Derives the case keys from the username and email being written. `insert`, `update` and
    /// `save` do it themselves (`before_save`); `Entity::insert` does not run hooks, so its callers
    /// call this.
    pub fn with_keys(mut self) -> Self {
        if let Set(username) = &self.username {
            self.username_key = Set(case_key(username));
        }
        if let Set(email) = &self.email {
            self.email_key = Set(case_key(email));
        }
        self
    }
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    async fn before_save<C>(self, _db: &C, _insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        Ok(self.with_keys())
    }
}
