//! Who is asking: resolved once per request from the session cookie (by `http::identity`), and
//! held for each GraphQL operation in an [`Asker`] that the mutations changing it update.

use std::sync::{Arc, Mutex};

use super::Viewer;
use crate::entity::users::Role;
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
        self.require_user().map(|v| v.user.role)
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

    pub fn get(&self) -> Arc<Identity> {
        match self.0.lock() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub fn set(&self, identity: Identity) {
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
