//! What resolvers read from their context: the database, the request's loaders and identity (the
//! types live in [`crate::auth`]), the authentication services, and ID parsing.

use std::sync::Arc;

use async_graphql::{Context, ID};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tower_cookies::Cookies;

use super::budget::ResponseBudget;
use super::loaders::Loaders;
use crate::auth::{Asker, AuthServices, ClientIp, Identity, Viewer};
use crate::clock::Clock;
use crate::config::Lending;
use crate::domain::events::Bus;
use crate::error::AppError;

/// What a resolver reads from its context.
pub trait ContextExt {
    /// The connection pool.
    fn db(&self) -> Result<&DatabaseConnection, AppError>;
    /// This request's batch loaders.
    fn loaders(&self) -> Result<&Loaders, AppError>;
    /// Who is asking, now.
    fn identity(&self) -> Arc<Identity>;
    /// From now on, this operation runs as `identity` (after signing in or out, say).
    fn set_identity(&self, identity: Identity);
    /// The signed-in user, or `UNAUTHENTICATED`.
    fn require_user(&self) -> Result<Viewer, AppError> {
        self.identity().require_user().cloned()
    }
    /// Passwords, session cookies, lifetimes and limits.
    fn auth(&self) -> Result<&AuthServices, AppError>;
    /// The request's cookie jar (to set or clear the session cookie).
    fn cookies(&self) -> Result<&Cookies, AppError>;
    /// The client's address.
    fn client_ip(&self) -> &str;
    /// Where a mutation's changes are announced (see [`crate::domain::events`]).
    fn bus(&self) -> Result<&Bus, AppError>;
    /// The lending rules.
    fn lending(&self) -> Result<&Lending, AppError>;
    /// The time now, as the lending rules see it.
    fn now(&self) -> Result<DateTime<Utc>, AppError> {
        self.clock().map(Clock::now)
    }
    /// The clock the lending flows read once they hold their locks.
    fn clock(&self) -> Result<&Clock, AppError>;
    /// Hands out a text field's value, charging its bytes to the response's size budget.
    fn text<'t>(&self, text: &'t str) -> Result<&'t str, AppError>;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> Result<&DatabaseConnection, AppError> {
        required(self)
    }

    fn loaders(&self) -> Result<&Loaders, AppError> {
        required(self)
    }

    fn identity(&self) -> Arc<Identity> {
        self.data_opt::<Asker>()
            .map_or_else(|| Arc::new(Identity::Anonymous), Asker::get)
    }

    fn set_identity(&self, identity: Identity) {
        if let Some(asker) = self.data_opt::<Asker>() {
            asker.set(identity);
        }
    }

    fn auth(&self) -> Result<&AuthServices, AppError> {
        required(self)
    }

    fn cookies(&self) -> Result<&Cookies, AppError> {
        required(self)
    }

    fn lending(&self) -> Result<&Lending, AppError> {
        required(self)
    }

    fn bus(&self) -> Result<&Bus, AppError> {
        required(self)
    }

    fn clock(&self) -> Result<&Clock, AppError> {
        required(self)
    }

    fn client_ip(&self) -> &str {
        self.data_opt::<ClientIp>()
            .map_or("unknown", |ip| ip.0.as_str())
    }

    fn text<'t>(&self, text: &'t str) -> Result<&'t str, AppError> {
        if let Some(budget) = self.data_opt::<Arc<ResponseBudget>>() {
            budget.charge(text.len())?;
        }
        Ok(text)
    }
}

/// Data every request's context holds (the schema's services, the request's loaders and cookie
/// jar): missing, it is a bug of ours, answered as an internal error.
fn required<'c, T: std::any::Any + Send + Sync>(ctx: &'c Context<'_>) -> Result<&'c T, AppError> {
    ctx.data::<T>().map_err(|e| AppError::internal(e.message))
}

/// Reads a numeric `ID` argument; anything else is `BAD_USER_INPUT` on `field`.
pub fn parse_id(field: &str, id: &ID) -> Result<i64, AppError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::bad_input(field, format!("`{}` is not a valid id", id.as_str())))
}

/// The answer of a nullable field: `None` when there is nothing, and an error as the field's own
/// (the field is `null` with its error; async-graphql would null the parent for a
/// `Result<Option<T>>`).
pub fn nullable<T>(found: Result<Option<T>, AppError>) -> Option<async_graphql::Result<T>> {
    found.map_err(async_graphql::Error::from).transpose()
}
