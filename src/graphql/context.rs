//! What resolvers read from their context: the database, the request's loaders and identity, the
//! authentication services, and ID parsing.

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
    /// Who is asking.
    fn identity(&self) -> &Identity;
    /// The signed-in user, or `UNAUTHENTICATED`.
    fn require_user(&self) -> Result<&Viewer, AppError> {
        self.identity().require_user()
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

    fn identity(&self) -> &Identity {
        self.data_opt::<Identity>().unwrap_or(&Identity::Anonymous)
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
        if let Some(budget) = self.data_opt::<std::sync::Arc<ResponseBudget>>() {
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
