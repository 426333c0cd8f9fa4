//! Identity: password hashing, session tokens and cookies, and who is asking.

pub mod password;
pub mod session;

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
