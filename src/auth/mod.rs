//! Identity: password hashing, session tokens and cookies, and who is asking.

mod identity;
pub mod password;
pub mod session;

pub use identity::{Asker, ClientIp, Identity};

use crate::domain::{sessions as session_rows, throttle};
use crate::entity::{sessions, users};

/// The signed-in user of a request, read fresh from the database (never trusted from the cookie).
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: users::Model,
    pub session: sessions::Model,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.user.role == users::Role::Admin
    }
}

/// The authentication services, shared by every request.
#[derive(Clone)]
pub struct AuthServices {
    pub passwords: password::Passwords,
    pub cookies: session::SessionCookies,
    pub lifetimes: session_rows::Lifetimes,
    pub limits: throttle::Limits,
}
