//! Sessions in the database: started at sign-in, ended at sign-out or password change, expired
//! after `SESSION_TTL` or `SESSION_IDLE_TTL` of disuse.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::auth::{Viewer, session};
use crate::entity::sessions::{self, Column, Entity as Sessions};
use crate::entity::users;
use crate::error::AppError;

/// How often `last_seen_at` is written: finer than this buys nothing and costs a write per request.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Lifetimes of sessions.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub absolute: Duration,
    pub idle: Duration,
}

/// Starts a session for `user_id` and returns its token (the only copy: the database keeps its
/// hash) and its row.
pub async fn start(
    db: &impl ConnectionTrait,
    user_id: i64,
    lifetimes: Lifetimes,
) -> Result<(String, sessions::Model), AppError> {
    let token = session::new_token();
    let now = super::now();
    let row = Sessions::insert(sessions::ActiveModel {
        token_hash: Set(session::token_hash(&token)),
        user_id: Set(user_id),
        created_at: Set(now),
        expires_at: Set(now + chrono_duration(lifetimes.absolute)),
        last_seen_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(db)
    .await?;
    Ok((token, row))
}

/// The user behind `token`, if its session is alive; a dead session is deleted on sight.
pub async fn viewer(
    db: &impl ConnectionTrait,
    token: &str,
    lifetimes: Lifetimes,
) -> Result<Option<Viewer>, AppError> {
    let found = Sessions::find()
        .filter(Column::TokenHash.eq(session::token_hash(token)))
        .find_also_related(users::Entity)
        .one(db)
        .await?;
    let Some((session, Some(user))) = found else {
        return Ok(None);
    };
    let now = super::now();
    if !alive(&session, now, lifetimes) {
        Sessions::delete_by_id(session.id).exec(db).await?;
        return Ok(None);
    }
    let mut session = session;
    if now - session.last_seen_at >= TOUCH_EVERY {
        Sessions::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(now))
            .filter(Column::Id.eq(session.id))
            .exec(db)
            .await?;
        session.last_seen_at = now;
    }
    Ok(Some(Viewer { user, session }))
}

fn alive(session: &sessions::Model, now: DateTime<Utc>, lifetimes: Lifetimes) -> bool {
    session.expires_at > now && session.last_seen_at + chrono_duration(lifetimes.idle) > now
}

/// Ends one session.
pub async fn end(db: &impl ConnectionTrait, session_id: i64) -> Result<(), AppError> {
    Sessions::delete_by_id(session_id).exec(db).await?;
    Ok(())
}

/// Ends every session of `user_id` but `keep`.
pub async fn end_others(
    db: &impl ConnectionTrait,
    user_id: i64,
    keep: i64,
) -> Result<(), AppError> {
    Sessions::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Id.ne(keep))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every expired or idle session.
pub async fn purge_expired(
    db: &impl ConnectionTrait,
    lifetimes: Lifetimes,
) -> Result<u64, AppError> {
    let now = super::now();
    let result = Sessions::delete_many()
        .filter(
            Condition::any()
                .add(Column::ExpiresAt.lte(now))
                .add(Column::LastSeenAt.lte(now - chrono_duration(lifetimes.idle))),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
