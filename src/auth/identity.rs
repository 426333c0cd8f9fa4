//! Who is asking: resolved once per request from the session cookie (by `http::identity`), and
//! held for each GraphQL operation in an [`Asker`] that the mutations changing it update.

use std::sync::Arc;

use tokio::sync::watch;

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
///
/// A WebSocket connection holds one for all its operations (clones share it): when its session
/// ends, it becomes anonymous, and the subscriptions that watch it ([`Asker::watch`]) end.
#[derive(Clone)]
pub struct Asker(Arc<watch::Sender<Arc<Identity>>>);

impl Asker {
    pub fn new(identity: Identity) -> Self {
        Self(Arc::new(watch::Sender::new(Arc::new(identity))))
    }

    pub fn get(&self) -> Arc<Identity> {
        Arc::clone(&self.0.borrow())
    }

    pub fn set(&self, identity: Identity) {
        self.0.send_replace(Arc::new(identity));
    }

    /// Told of every change of identity from now on.
    pub fn watch(&self) -> watch::Receiver<Arc<Identity>> {
        self.0.subscribe()
    }
}

/// The client's address, for login throttling.
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);
