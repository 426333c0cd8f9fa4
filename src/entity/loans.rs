//! A row of `loans`: one item lent to one member, from check-out to return.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "loans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    /// Null once the member's account is deleted (the history is kept, anonymised).
    pub borrower_id: Option<i64>,
    pub checked_out_at: DateTimeUtc,
    pub due_at: DateTimeUtc,
    /// Null while the loan is active (at most one active loan per item: a unique index).
    pub returned_at: Option<DateTimeUtc>,
    pub renewal_count: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
