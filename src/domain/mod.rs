//! Business rules as plain async functions over a database connection: no GraphQL, no HTTP.

pub mod demo;
pub mod items;
pub mod page;
pub mod posts;
pub mod users;

use chrono::{DateTime, SubsecRound, Utc};

/// The current time at the precision both databases store (microseconds), so that a value read
/// back equals the value written and keyset cursors compare exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
