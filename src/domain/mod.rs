//! Business rules as plain async functions over a database connection: no GraphQL, no HTTP.

pub mod accounts;
pub mod circulation;
pub mod demo;
pub mod events;
pub mod items;
pub mod lending;
pub mod page;
pub mod pictures;
pub mod posts;
pub mod sessions;
pub mod signin;
pub mod throttle;
pub mod users;
pub mod validate;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// The current time at the precision both databases store (microseconds), so that a value read
/// back equals the value written and keyset cursors compare exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Begins the transaction of one mutation. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`): a transaction that reads and then writes would otherwise fail with "database is
/// locked" when another writer got in between, instead of waiting its turn.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
