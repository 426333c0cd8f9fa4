//! What resolvers read from their context: the database, the request's loaders and identity, the
//! authentication services, and ID parsing.

use std::sync::{Arc, Mutex};

use async_graphql::{Context, ID};
use sea_orm::DatabaseConnection;
use tower_cookies::Cookies;

use super::budget::ResponseBudget;
use super::loaders::Loaders;
use super::user::Role;
use crate::auth::Viewer;
use crate::auth::password::Passwords;
use crate::auth::session::SessionCookies;
use crate::domain::{sessions, throttle};
use crate::error::AppError;

/// Who is asking, resolved once per request from the session cookie.
#[derive(Clone, Debug)]
pub enum Identity {
    /// No session cookie, or one that is forged, tampered with, expired or unknown.
    Anonymous,
    /// A live session; the user (and role) as the database has them now.
    User(Box<Viewer>),
    /// The session could not be checked (the database did not answer).
    Unknown,
}

impl Identity {
    pub fn viewer(&self) -> Option<&Viewer> {
        match self {
            Self::User(viewer) => Some(viewer),
            _ => None,
        }
    }

    /// The signed-in user, or `UNAUTHENTICATED` (`SERVICE_UNAVAILABLE` if it could not be checked).
    pub fn require_user(&self) -> Result<&Viewer, AppError> {
        match self {
            Self::User(viewer) => Ok(viewer),
            Self::Anonymous => Err(AppError::Unauthenticated),
            Self::Unknown => Err(AppError::Unavailable),
        }
    }

    /// The signed-in user's role.
    pub fn role(&self) -> Result<Role, AppError> {
        self.require_user().map(|v| v.user.role.into())
    }
}

/// Who is asking, for one operation: resolved from the session cookie when the request arrives,
/// and replaced by the mutations that change it (signing in or out, a user deleting or demoting
/// themselves), so that the later root fields of a mutation run as who the user is now.
pub struct Asker(Mutex<Arc<Identity>>);

impl Asker {
    pub fn new(identity: Identity) -> Self {
        Self(Mutex::new(Arc::new(identity)))
    }

    fn get(&self) -> Arc<Identity> {
        match self.0.lock() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn set(&self, identity: Identity) {
        let identity = Arc::new(identity);
        match self.0.lock() {
            Ok(mut current) => *current = identity,
            Err(poisoned) => *poisoned.into_inner() = identity,
        }
    }
}

/// The client's address, for login throttling.
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

/// The authentication services, shared by every request.
#[derive(Clone)]
pub struct AuthServices {
    pub passwords: Passwords,
    pub cookies: SessionCookies,
    pub lifetimes: sessions::Lifetimes,
    pub limits: throttle::Limits,
}

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
    /// Hands out a text field's value, charging its bytes to the response's size budget.
    fn text<'t>(&self, text: &'t str) -> Result<&'t str, AppError>;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> Result<&DatabaseConnection, AppError> {
        self.data::<DatabaseConnection>()
            .map_err(|e| AppError::internal(e.message))
    }

    fn loaders(&self) -> Result<&Loaders, AppError> {
        self.data::<Loaders>()
            .map_err(|e| AppError::internal(e.message))
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
        self.data::<AuthServices>()
            .map_err(|e| AppError::internal(e.message))
    }

    fn cookies(&self) -> Result<&Cookies, AppError> {
        self.data::<Cookies>()
            .map_err(|e| AppError::internal(e.message))
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
