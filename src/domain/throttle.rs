//! Throttling password guessing and registrations. The counts live in the database, so that every
//! server instance enforces one limit.
//!
//! An attempt is *reserved* before its password is checked: one short write transaction counts the
//! attempts in the window and, when the limits allow, writes this one. On SQLite write
//! transactions begin IMMEDIATE, which serializes them; on PostgreSQL the transaction takes an
//! advisory lock on each key it counts. So however many attempts arrive at once (concurrent
//! requests, a batch, aliases), no more are checked than the limits allow. A login that succeeds
//! deletes its reservation; a failed one stays, and is the failure that counts.
//!
//! What the caller sees depends only on what it already knows: the name it typed and its own
//! address. Logins are counted per name typed (`TOO_MANY_REQUESTS` beyond the limit), per client
//! address, and per account. When the *account* is over its limit but the name typed is not (its
//! username was locked, and now its email is tried), the password is not checked: the login is
//! answered like a wrong password, after the same work as for an unknown name, and counts for the
//! name typed. A username, an email and an unknown name thus behave alike, and the guesses against
//! one account stay bounded.

use std::time::Duration;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, Statement, sea_query::Condition,
};
use sha2::{Digest, Sha256};

use crate::entity::login_failures::{self, Column, Entity as LoginFailures};
use crate::error::AppError;

/// How many attempts are tolerated, and for how long each counts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Failed logins per account, and per name typed.
    pub per_account: u32,
    /// Failed logins per client address.
    pub per_client: u32,
    /// Registrations (attempts) per client address.
    pub registrations_per_client: u32,
    pub window: Duration,
}

impl Limits {
    fn since(&self) -> chrono::DateTime<chrono::Utc> {
        super::now() - chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX)
    }
}

/// Whose password an attempt checks, and from where.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// `user:<id>` for an existing account, else the name key.
    account: String,
    /// `name:<the login's case key>` for a login; the account key for a signed-in user.
    name: String,
    client_ip: String,
    /// Whether the caller is the account's owner (signed in): then a locked account is simply
    /// refused, since there is nothing to hide from its owner.
    owner: bool,
}

impl Attempt {
    /// A login naming `login` (a username or an email), which is account `user_id` if it exists.
    pub fn login(user_id: Option<i64>, login: &str, client_ip: &str) -> Self {
        // The same case key as the accounts' names, so `ÉMILE` and `émile` are one name here too.
        let name: String = super::validate::case_key(login.trim())
            .chars()
            .take(150)
            .collect();
        let name = format!("name:{name}");
        Self {
            account: user_id.map_or_else(|| name.clone(), |id| format!("user:{id}")),
            name,
            client_ip: client_ip.to_owned(),
            owner: false,
        }
    }

    /// A signed-in user checking their own password (`changePassword`).
    pub fn own_account(user_id: i64, client_ip: &str) -> Self {
        let account = format!("user:{id}", id = user_id);
        Self {
            name: account.clone(),
            account,
            client_ip: client_ip.to_owned(),
            owner: true,
        }
    }
}

/// A reserved attempt: delete it with [`succeeded`] when the password was right.
#[derive(Debug)]
#[must_use]
pub struct Reservation {
    id: i64,
    /// The account is over its limit: do not check its password (use the dummy hash), and answer
    /// as for a wrong one.
    pub account_locked: bool,
}

/// The counts of a login attempt: attempts in the window from its client, under its name, on
/// its account.
const LOGIN_COUNTS: &str = "SELECT \
     (SELECT COUNT(*) FROM login_failures \
       WHERE client_ip = ? AND action = 'login' AND failed_at > ?) AS client, \
     (SELECT COUNT(*) FROM login_failures WHERE login_name = ? AND failed_at > ?) AS name, \
     (SELECT COUNT(*) FROM login_failures WHERE account_key = ? AND failed_at > ?) AS account";

/// `TOO_MANY_REQUESTS` when the login would surely be refused, from one read that takes no lock:
/// the cheap check made before the request is admitted to the hash queue, so that a throttled
/// storm neither waits for the write lock nor holds places in the queue. [`reserve`] decides.
pub async fn precheck(
    db: &DatabaseConnection,
    limits: Limits,
    attempt: &Attempt,
) -> Result<(), AppError> {
    let counts = count(
        db,
        LOGIN_COUNTS,
        &[&attempt.client_ip, &attempt.name, &attempt.account],
        limits.since(),
    )
    .await?;
    refuse_login(limits, attempt, &counts).map(|_| ())
}

/// Whether the account is locked, or `TOO_MANY_REQUESTS`.
fn refuse_login(limits: Limits, attempt: &Attempt, counts: &[i64]) -> Result<bool, AppError> {
    let [client, name, account] = counts[..] else {
        return Err(AppError::internal("the throttle counts are missing"));
    };
    let account_locked = account >= i64::from(limits.per_account);
    if client >= i64::from(limits.per_client)
        || name >= i64::from(limits.per_account)
        || (account_locked && attempt.owner)
    {
        return Err(AppError::RateLimited);
    }
    Ok(account_locked)
}

/// Reserves one login attempt, or `TOO_MANY_REQUESTS` when the name typed or the client address
/// is over its limit (and, for an owner, when the account is).
pub async fn reserve(
    db: &DatabaseConnection,
    limits: Limits,
    attempt: &Attempt,
) -> Result<Reservation, AppError> {
    let client_key = format!("login:{}", attempt.client_ip);
    let txn = super::begin_write(db).await?;
    lock(&txn, &[&client_key, &attempt.name, &attempt.account]).await?;
    let counts = count(
        &txn,
        LOGIN_COUNTS,
        &[&attempt.client_ip, &attempt.name, &attempt.account],
        limits.since(),
    )
    .await?;
    let account_locked = match refuse_login(limits, attempt, &counts) {
        Ok(locked) => locked,
        Err(refused) => {
            txn.rollback().await?;
            return Err(refused);
        }
    };
    // An attempt on a locked account checks no password of the account, so it does not count
    // against the account: it counts for the name typed, as an unknown name's would.
    let account_key = if account_locked {
        &attempt.name
    } else {
        &attempt.account
    };
    let id = insert(
        &txn,
        account_key,
        &attempt.name,
        &attempt.client_ip,
        "login",
    )
    .await?;
    txn.commit().await?;
    Ok(Reservation { id, account_locked })
}

/// The password was right: the attempt is not a failure. (Also forgets attempts older than the
/// window, in the same statement.)
pub async fn succeeded(
    db: &impl ConnectionTrait,
    limits: Limits,
    reservation: Reservation,
) -> Result<(), AppError> {
    LoginFailures::delete_many()
        .filter(
            Condition::any()
                .add(Column::Id.eq(reservation.id))
                .add(Column::FailedAt.lte(limits.since())),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// The password was wrong: the reservation stays, as the failure. Forgets attempts older than the
/// window.
pub async fn failed(
    db: &impl ConnectionTrait,
    limits: Limits,
    _reservation: Reservation,
) -> Result<(), AppError> {
    LoginFailures::delete_many()
        .filter(Column::FailedAt.lte(limits.since()))
        .exec(db)
        .await?;
    Ok(())
}

/// The registrations in the window from one client.
const REGISTRATION_COUNT: &str = "SELECT (SELECT COUNT(*) FROM login_failures \
       WHERE client_ip = ? AND action = 'register' AND failed_at > ?) AS client";

/// `TOO_MANY_REQUESTS` when the client is surely over its registration limit, from one read that
/// takes no lock (see [`precheck`]); [`reserve_registration`] decides.
pub async fn precheck_registration(
    db: &DatabaseConnection,
    limits: Limits,
    client_ip: &str,
) -> Result<(), AppError> {
    let counts = count(db, REGISTRATION_COUNT, &[client_ip], limits.since()).await?;
    refuse_registration(limits, &counts)
}

fn refuse_registration(limits: Limits, counts: &[i64]) -> Result<(), AppError> {
    if counts.first().copied().unwrap_or(0) >= i64::from(limits.registrations_per_client) {
        return Err(AppError::RateLimited);
    }
    Ok(())
}

/// Counts one registration from `client_ip`, or `TOO_MANY_REQUESTS` when the client has made
/// `registrations_per_client` within the window. Every attempt counts, refused ones included:
/// registering taken names over and over is the abuse this bounds (each `CONFLICT` also tells
/// whether a name or an email is registered).
pub async fn reserve_registration(
    db: &DatabaseConnection,
    limits: Limits,
    client_ip: &str,
) -> Result<(), AppError> {
    let txn = super::begin_write(db).await?;
    lock(&txn, &[&format!("register:{client_ip}")]).await?;
    let counts = count(&txn, REGISTRATION_COUNT, &[client_ip], limits.since()).await?;
    if let Err(refused) = refuse_registration(limits, &counts) {
        txn.rollback().await?;
        return Err(refused);
    }
    insert(&txn, "", "", client_ip, "register").await?;
    txn.commit().await?;
    Ok(())
}

async fn insert(
    db: &impl ConnectionTrait,
    account_key: &str,
    login_name: &str,
    client_ip: &str,
    action: &str,
) -> Result<i64, AppError> {
    let result = LoginFailures::insert(login_failures::ActiveModel {
        account_key: Set(account_key.to_owned()),
        login_name: Set(login_name.to_owned()),
        client_ip: Set(client_ip.to_owned()),
        action: Set(action.to_owned()),
        failed_at: Set(super::now()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(result.last_insert_id)
}

/// Runs a `SELECT` of counts whose `?` placeholders come in pairs: each key, then `since`.
async fn count(
    db: &impl ConnectionTrait,
    sql: &str,
    keys: &[&str],
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>, AppError> {
    let backend = db.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(keys.len() * 2);
    for key in keys {
        values.push((*key).into());
        values.push(since.into());
    }
    let sql = match backend {
        DbBackend::Postgres => numbered_placeholders(sql),
        _ => sql.to_owned(),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| AppError::internal("a count returned no row"))?;
    let names = ["client", "name", "account"];
    names[..keys.len()]
        .iter()
        .map(|name| row.try_get::<i64>("", name).map_err(AppError::from))
        .collect()
}

/// `?` placeholders as PostgreSQL's `$1`, `$2`, …
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// On PostgreSQL, takes a transaction-scoped advisory lock on each key, in a fixed order (so that
/// two transactions sharing keys cannot deadlock). SQLite needs none: its write transactions
/// begin IMMEDIATE and so run one at a time.
async fn lock(txn: &impl ConnectionTrait, keys: &[&str]) -> Result<(), AppError> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut ids: Vec<i64> = keys.iter().map(|key| lock_id(key)).collect();
    ids.sort_unstable();
    ids.dedup();
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    // `unnest` yields the array in order, and each lock is taken before the next row.
    let sql = format!(
        "SELECT pg_advisory_xact_lock(k) FROM unnest(ARRAY[{}]::bigint[]) AS t(k)",
        placeholders.join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        ids.into_iter().map(sea_orm::Value::from),
    ))
    .await?;
    Ok(())
}

/// A stable 64-bit advisory lock id for a throttle key (the same in every instance and version).
fn lock_id(key: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"tkc-library throttle\0")
        .chain_update(key.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_an_email_and_an_unknown_name_are_each_their_own_name() {
        let username = Attempt::login(Some(7), " Ada ", "ip");
        let email = Attempt::login(Some(7), "ADA@example.org", "ip");
        let unknown = Attempt::login(None, "nobody@example.org", "ip");
        assert_eq!(username.account, email.account);
        assert_eq!(
            (username.name.as_str(), email.name.as_str()),
            ("name:ada", "name:ada@example.org")
        );
        assert_eq!(unknown.account, unknown.name);
        assert_eq!(
            numbered_placeholders("a = ? AND b > ?"),
            "a = $1 AND b > $2"
        );
        assert_ne!(lock_id("name:ada"), lock_id("name:adb"));
    }
}
