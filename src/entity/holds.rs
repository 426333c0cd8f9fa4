//! A row of `holds`: a member's place in an item's queue, and what became of it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "holds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    pub member_id: i64,
    pub status: HoldStatus,
    pub placed_at: DateTimeUtc,
    /// Set while `READY`: the hold expires after it.
    pub pickup_by: Option<DateTimeUtc>,
    /// When it was fulfilled, cancelled or expired.
    pub ended_at: Option<DateTimeUtc>,
}

/// Where a hold stands.
// Declared once: stored as text under a CHECK constraint (SeaORM), and the `HoldStatus` enum of
// the schema (async-graphql).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum HoldStatus {
    /// In the queue.
    #[sea_orm(string_value = "WAITING")]
    Waiting,
    /// On the hold shelf for the member, until `pickupBy`.
    #[sea_orm(string_value = "READY")]
    Ready,
    /// The member checked the item out.
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
    /// Cancelled by the member or an admin (or with the item or the account).
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
    /// Not picked up by `pickupBy`.
    #[sea_orm(string_value = "EXPIRED")]
    Expired,
}

impl HoldStatus {
    /// Waiting or ready: the hold still counts.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Waiting | Self::Ready)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
