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
    /// Where the item is in circulation; changed only by the lending flows, under the item's row
    /// lock.
    pub status: ItemStatus,
}

/// Where an item is in circulation.
// Declared once: stored as text under a CHECK constraint (SeaORM), and the `ItemStatus` enum of
// the schema (async-graphql).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, EnumIter, DeriveActiveEnum, async_graphql::Enum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ItemStatus {
    /// On the shelf: it can be checked out, and a hold on it is ready at once.
    #[default]
    #[sea_orm(string_value = "AVAILABLE")]
    Available,
    /// Lent to a member until its due date.
    #[sea_orm(string_value = "ON_LOAN")]
    OnLoan,
    /// Kept at the desk for the member whose hold is ready.
    #[sea_orm(string_value = "ON_HOLD_SHELF")]
    OnHoldShelf,
    /// Out of circulation (being repaired, say); waiting holds keep their places.
    #[sea_orm(string_value = "UNAVAILABLE")]
    Unavailable,
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
