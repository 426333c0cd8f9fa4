//! Session tokens and the session cookie. The cookie carries a random token (256 bits, fresh at
//! every sign-in); the database keeps only its SHA-256, and tower-cookies signs the cookie with
//! `SECRET_KEY` so a tampered one is rejected before any lookup.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tower_cookies::cookie::{SameSite, time};
use tower_cookies::{Cookie, Cookies, Key};

use crate::config::Sessions;

/// The cookie's name over plain HTTP (development).
pub const COOKIE_NAME: &str = "tkc_session";
/// The cookie's name when it is `Secure`: the `__Host-` prefix pins it to this host and path.
pub const SECURE_COOKIE_NAME: &str = "__Host-tkc_session";

/// How session cookies are made, read and removed.
#[derive(Clone)]
pub struct SessionCookies {
    key: Key,
    secure: bool,
    max_age: Duration,
}

impl SessionCookies {
    pub fn new(config: &Sessions) -> Self {
        Self {
            key: Key::from(config.secret_key.as_bytes()),
            secure: config.cookie_secure,
            max_age: config.ttl,
        }
    }

    pub fn name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        }
    }

    /// The token of the request's session cookie, if it is there and its signature holds.
    pub fn token(&self, cookies: &Cookies) -> Option<String> {
        cookies
            .signed(&self.key)
            .get(self.name())
            .map(|c| c.value().to_owned())
    }

    /// Sets the session cookie to `token`.
    pub fn set(&self, cookies: &Cookies, token: &str) {
        let max_age =
            time::Duration::seconds(i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX));
        let cookie = Cookie::build((self.name(), token.to_owned()))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(max_age)
            .build();
        cookies.signed(&self.key).add(cookie);
    }

    /// Tells the browser to forget the session cookie.
    pub fn clear(&self, cookies: &Cookies) {
        let cookie = Cookie::build((self.name(), ""))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .path("/")
            .build();
        cookies.remove(cookie);
    }
}

/// A fresh session token: 32 random bytes, hex.
pub fn new_token() -> String {
    super::password::random_hex(32)
}

/// What the database stores of a token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
