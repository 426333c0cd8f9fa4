//! A row of `items`.

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use crate::domain::validate::case_key;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `name` in any case ([`case_key`]), what `search` matches. Set by
    /// [`ActiveModel::before_save`].
    #[sea_orm(column_type = "Text")]
    pub name_key: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModel {
    /// Derives the name's case key. `insert`, `update` and `save` do it themselves
    /// (`before_save`); `Entity::insert` does not run hooks, so its callers call this.
    pub fn with_keys(mut self) -> Self {
        if let Set(name) = &self.name {
            self.name_key = Set(case_key(name));
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
