//! The session a WebSocket connection runs under: read once at the upgrade, checked again when
//! the hub says the user's sessions or role changed (on any instance), when updates may have been
//! missed, and when it would expire; once ended, the connection is anonymous.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future;
use tokio::sync::broadcast;

use crate::auth::{Asker, Identity};
use crate::domain::sessions;
use crate::http::AppState;
use crate::live::Update;

/// Retry a session check that could not reach the database after this long.
const RECHECK_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The session a connection runs under, checked again when it may have changed.
pub(super) struct Session {
    token: Option<String>,
    user: Option<i64>,
    /// When the session would expire, unless used meanwhile.
    deadline: Option<tokio::time::Instant>,
    updates: Option<broadcast::Receiver<Arc<Update>>>,
}

impl Session {
    pub(super) fn new(
        updates: broadcast::Receiver<Arc<Update>>,
        asker: &Asker,
        token: Option<String>,
        lifetimes: sessions::Lifetimes,
    ) -> Self {
        let identity = asker.get();
        let viewer = identity.viewer();
        Self {
            user: viewer.map(|v| v.user.id),
            deadline: viewer.map(|v| expiry(v, lifetimes)),
            updates: viewer.map(|_| updates),
            token: token.filter(|_| viewer.is_some()),
        }
    }

    /// Resolves when the session should be checked: the user's sessions changed somewhere, live
    /// updates may have been missed, or it expires. Never, for an anonymous connection.
    pub(super) async fn due(&mut self) {
        let (Some(user), Some(updates)) = (self.user, self.updates.as_mut()) else {
            return future::pending().await;
        };
        let deadline = self.deadline;
        let expired = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => future::pending().await,
            }
        };
        let changed = async {
            loop {
                match updates.recv().await {
                    Ok(update) => match &*update {
                        Update::Accounts(users) if users.contains(&user) => return,
                        Update::Resync => return,
                        _ => {}
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => return future::pending().await,
                }
            }
        };
        tokio::select! {
            () = expired => {}
            () = changed => {}
        }
    }

    pub(super) async fn check(&mut self, state: &AppState, asker: &Asker) {
        let Some(token) = &self.token else {
            return;
        };
        match sessions::viewer(&state.db, token, state.auth.lifetimes).await {
            Ok(Some(viewer)) => {
                self.deadline = Some(expiry(&viewer, state.auth.lifetimes));
                asker.set(Identity::User(Box::new(viewer)));
            }
            Ok(None) => {
                self.user = None;
                self.updates = None;
                asker.set(Identity::Anonymous);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not check a WebSocket connection's session");
                self.deadline = Some(tokio::time::Instant::now() + RECHECK_AFTER_FAILURE);
            }
        }
    }
}

/// When `viewer`'s session expires if not used: its absolute end or its idle end, whichever
/// comes first (a little after, so that the check finds it over).
fn expiry(viewer: &crate::auth::Viewer, lifetimes: sessions::Lifetimes) -> tokio::time::Instant {
    let session = &viewer.session;
    let idle = chrono::Duration::from_std(lifetimes.idle).unwrap_or(chrono::Duration::MAX);
    let idle_end = session
        .last_seen_at
        .checked_add_signed(idle)
        .unwrap_or(session.expires_at);
    let ends = session.expires_at.min(idle_end);
    let left = (ends - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO)
        // A session years away: check again in a day (an `Instant` cannot go that far).
        .min(Duration::from_secs(86_400));
    tokio::time::Instant::now() + left + Duration::from_millis(50)
}
