//! Argon2id password hashing. Hashing is slow and memory-hungry on purpose (19 MiB each), so it
//! runs on the blocking pool, never on the async workers, and at most `PASSWORD_HASH_CONCURRENCY`
//! at once: a storm of logins queues here while other queries keep answering.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// The shortest password accepted, in characters.
pub const MIN_LENGTH: usize = 8;
/// The longest password accepted, in characters; longer ones are refused, never truncated.
pub const MAX_LENGTH: usize = 128;

/// A password in clear: it prints as `***` and is dropped as soon as it is hashed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password without checking it (demo accounts, and passwords being verified).
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// Wraps a new password, checking its length; `field` names the input it came from.
    pub fn validated(field: &str, password: String) -> Result<Self, AppError> {
        let length = password.chars().count();
        if length < MIN_LENGTH {
            return Err(AppError::bad_input(
                field,
                format!("must be at least {MIN_LENGTH} characters long"),
            ));
        }
        if length > MAX_LENGTH {
            return Err(AppError::bad_input(
                field,
                format!("must be at most {MAX_LENGTH} characters long"),
            ));
        }
        Ok(Self(password))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Hashes and verifies passwords, a bounded number at a time.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A hash of a random password: unknown usernames are verified against it, so that they cost
    /// the same time as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// Prepares the hasher (computing the dummy hash once).
    pub async fn new(concurrency: usize) -> Result<Self, AppError> {
        let mut passwords = Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::from(""),
        };
        let random = Password(random_hex(24));
        passwords.dummy_hash = Arc::from(passwords.hash(random).await?);
        Ok(passwords)
    }

    /// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        self.blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            hasher()?
                .hash_password(password.0.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(AppError::internal)
        })
        .await
    }

    /// Whether `password` matches `hash`; with no hash (unknown user) it does the same work and
    /// answers false.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool, AppError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        self.blocking(move || {
            let parsed = PasswordHash::new(&hash).map_err(AppError::internal)?;
            let matches = hasher()?
                .verify_password(password.0.as_bytes(), &parsed)
                .is_ok();
            Ok(known && matches)
        })
        .await
    }

    /// Runs `work` on the blocking pool once a permit is free, keeping the caller's span.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            work()
        })
        .await
        .map_err(AppError::internal)?
    }
}

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
fn hasher() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19_456, 2, 1, None).map_err(AppError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// `bytes` random bytes from the OS, as hex.
pub fn random_hex(bytes: usize) -> String {
    use argon2::password_hash::rand_core::RngCore;
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_counted_in_characters_and_never_truncated() {
        assert!(Password::validated("p", "short".into()).is_err());
        assert!(
            Password::validated("p", "ünïcödé!".into()).is_ok(),
            "8 characters, 12 bytes"
        );
        assert!(Password::validated("p", "é".repeat(128)).is_ok());
        let err = Password::validated("password", "x".repeat(129)).unwrap_err();
        assert_eq!(err.field(), Some("password"));
        assert!(!format!("{:?}", Password::new("hunter22")).contains("hunter22"));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let passwords = Passwords::new(1).await.unwrap();
        let hash = passwords
            .hash(Password::new("correct horse"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = |p: &str, h: Option<String>| passwords.verify(Password::new(p), h);
        assert!(ok("correct horse", Some(hash.clone())).await.unwrap());
        assert!(!ok("correct horsf", Some(hash)).await.unwrap());
        assert!(!ok("anything", None).await.unwrap());
    }
}
