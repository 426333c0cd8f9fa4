//! Login throttling: failed logins are counted per account and per client address over a sliding
//! window. The counts live in the database, so that every server instance enforces one limit.

use std::time::Duration;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::entity::login_failures::{self, Column, Entity as LoginFailures};
use crate::error::AppError;

/// How many failures are tolerated, and for how long each counts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub per_account: u32,
    pub per_client: u32,
    pub window: Duration,
}

/// `TOO_MANY_REQUESTS` when the account or the client has failed too often within the window.
pub async fn check(
    db: &impl ConnectionTrait,
    limits: Limits,
    account_key: &str,
    client_ip: &str,
) -> Result<(), AppError> {
    let since =
        super::now() - chrono::Duration::from_std(limits.window).unwrap_or(chrono::Duration::MAX);
    let account = LoginFailures::find()
        .filter(Column::AccountKey.eq(account_key))
        .filter(Column::FailedAt.gt(since))
        .count(db)
        .await?;
    if account >= u64::from(limits.per_account) {
        return Err(AppError::RateLimited);
    }
    let client = LoginFailures::find()
        .filter(Column::ClientIp.eq(client_ip))
        .filter(Column::FailedAt.gt(since))
        .count(db)
        .await?;
    if client >= u64::from(limits.per_client) {
        return Err(AppError::RateLimited);
    }
    Ok(())
}

/// Counts one failed login, and forgets failures older than the window.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    limits: Limits,
    account_key: &str,
    client_ip: &str,
) -> Result<(), AppError> {
    let now = super::now();
    LoginFailures::insert(login_failures::ActiveModel {
        account_key: Set(account_key.to_owned()),
        client_ip: Set(client_ip.to_owned()),
        failed_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    let expired = now - chrono::Duration::from_std(limits.window).unwrap_or(chrono::Duration::MAX);
    LoginFailures::delete_many()
        .filter(Column::FailedAt.lte(expired))
        .exec(db)
        .await?;
    Ok(())
}

/// The key failures are counted under: the account when it exists, else the name tried.
pub fn account_key(user_id: Option<i64>, login: &str) -> String {
    match user_id {
        Some(id) => format!("user:{id}"),
        None => {
            let name: String = login.trim().to_lowercase().chars().take(150).collect();
            format!("name:{name}")
        }
    }
}
