//! Argon2id password hashing. Hashing is slow and memory-hungry on purpose (19 MiB each), so it
//! runs on the blocking pool, never on the async workers, and at most `PASSWORD_HASH_CONCURRENCY`
//! at once. At most `PASSWORD_HASH_QUEUE` more wait their turn: a request is admitted to the queue
//! (or refused, `TOO_MANY_REQUESTS`, at once) before it does any other work, so a storm of logins
//! gets quick refusals instead of making every login slower.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

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

/// Hashes and verifies passwords, a bounded number at a time, each in a reused 19 MiB block of
/// memory: allocating and freeing that much per hash makes the allocator keep a copy per worker
/// thread, and the process would grow to hundreds of MiB under a login storm.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Places in the queue: the computations running plus those waiting.
    places: Arc<Semaphore>,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// A hash of a random password: unknown usernames are verified against it, so that they cost
    /// the same time as a wrong password.
    dummy_hash: Arc<str>,
    stats: Arc<PasswordStats>,
}

/// What the hasher has done since start-up, for `GET /metrics` (and the tests that count how many
/// guesses were really evaluated).
#[derive(Debug, Default)]
pub struct PasswordStats {
    /// Passwords verified against an account's real hash.
    pub verified_account: AtomicU64,
    /// Passwords verified against the dummy hash (unknown or locked names).
    pub verified_dummy: AtomicU64,
    /// New hashes computed (registrations, password changes).
    pub hashed: AtomicU64,
    /// Requests refused because the queue was full.
    pub refused: AtomicU64,
}

impl PasswordStats {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl Passwords {
    /// The hasher `PASSWORD_HASH_CONCURRENCY` and `PASSWORD_HASH_QUEUE` describe.
    pub async fn for_settings(settings: &crate::config::Sessions) -> Result<Self, AppError> {
        Self::new(
            settings.password_hash_concurrency,
            settings.password_hash_queue,
        )
        .await
    }

    /// Prepares the hasher (computing the dummy hash once): `concurrency` computations at once,
    /// and `queue` more waiting.
    pub async fn new(concurrency: usize, queue: usize) -> Result<Self, AppError> {
        let concurrency = concurrency.max(1);
        let mut passwords = Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            places: Arc::new(Semaphore::new(concurrency.saturating_add(queue))),
            memory: Arc::default(),
            dummy_hash: Arc::from(""),
            stats: Arc::default(),
        };
        let random = Password(random_hex(24));
        passwords.dummy_hash = Arc::from(passwords.hash(random).await?);
        Ok(passwords)
    }

    /// A place in the queue, taken before any other work of a request that will hash or verify:
    /// `TOO_MANY_REQUESTS` at once when the queue is full. The place is held until it is dropped.
    pub fn admit(&self) -> Result<Admitted, AppError> {
        match Arc::clone(&self.places).try_acquire_owned() {
            Ok(place) => Ok(Admitted {
                passwords: self.clone(),
                _place: place,
            }),
            Err(TryAcquireError::NoPermits) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                Err(AppError::RateLimited)
            }
            Err(e @ TryAcquireError::Closed) => Err(AppError::internal(e)),
        }
    }

    /// Admits, then hashes (see [`Admitted::hash`]).
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        self.admit()?.hash(password).await
    }

    /// Admits, then verifies (see [`Admitted::verify`]).
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool, AppError> {
        self.admit()?.verify(password, hash).await
    }

    async fn compute_hash(&self, password: Password) -> Result<String, AppError> {
        self.stats.hashed.fetch_add(1, Ordering::Relaxed);
        self.blocking(move |memory| {
            let params = params()?;
            let salt = SaltString::generate(&mut OsRng);
            let mut salt_bytes = [0u8; 64];
            let raw_salt = salt
                .decode_b64(&mut salt_bytes)
                .map_err(AppError::internal)?;
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let output = Output::init_with(OUTPUT_LEN, |out| {
                argon2
                    .hash_password_into_with_memory(password.0.as_bytes(), raw_salt, out, memory)
                    .map_err(|_| password_hash::Error::Crypto)
            })
            .map_err(AppError::internal)?;
            let phc = PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params).map_err(AppError::internal)?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            };
            Ok(phc.to_string())
        })
        .await
    }

    async fn compute_verify(
        &self,
        password: Password,
        hash: Option<String>,
    ) -> Result<bool, AppError> {
        let known = hash.is_some();
        let counter = if known {
            &self.stats.verified_account
        } else {
            &self.stats.verified_dummy
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        self.blocking(move |memory| {
            let parsed = PasswordHash::new(&hash).map_err(AppError::internal)?;
            let algorithm = Algorithm::try_from(parsed.algorithm).map_err(AppError::internal)?;
            let version = parsed
                .version
                .map(Version::try_from)
                .transpose()
                .map_err(AppError::internal)?
                .unwrap_or(Version::V0x13);
            let params = Params::try_from(&parsed).map_err(AppError::internal)?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                return Err(AppError::internal("a stored hash without salt or output"));
            };
            let mut salt_bytes = [0u8; 64];
            let raw_salt = salt
                .decode_b64(&mut salt_bytes)
                .map_err(AppError::internal)?;
            let argon2 = Argon2::new(algorithm, version, params.clone());
            // A hash made with other parameters needs its own amount of memory.
            let mut own = Vec::new();
            let memory = if params.block_count() == memory.len() {
                memory
            } else {
                own.resize(params.block_count(), Block::new());
                &mut own[..]
            };
            let actual = Output::init_with(expected.len(), |out| {
                argon2
                    .hash_password_into_with_memory(password.0.as_bytes(), raw_salt, out, memory)
                    .map_err(|_| password_hash::Error::Crypto)
            })
            .map_err(AppError::internal)?;
            // `Output` compares in constant time.
            Ok(known && actual == expected)
        })
        .await
    }

    /// The counters of what was hashed and verified.
    pub fn stats(&self) -> &PasswordStats {
        &self.stats
    }

    /// Runs `work` on the blocking pool once a permit is free, with a memory block of its own,
    /// keeping the caller's span.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let mut memory = self
            .memory
            .lock()
            .map_err(|_| AppError::internal("the password memory pool is poisoned"))?
            .pop()
            .unwrap_or_default();
        let blocks = params()?.block_count();
        if memory.len() != blocks {
            memory = vec![Block::new(); blocks];
        }
        let span = tracing::Span::current();
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let result = work(&mut memory);
            (result, memory)
        })
        .await
        .map_err(AppError::internal)?;
        if let Ok(mut pool) = self.memory.lock() {
            pool.push(memory);
        }
        result
    }
}

/// A request's place in the hash queue (see [`Passwords::admit`]).
pub struct Admitted {
    passwords: Passwords,
    _place: OwnedSemaphorePermit,
}

impl Admitted {
    /// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        self.passwords.compute_hash(password).await
    }

    /// Whether `password` matches `hash`; with no hash (unknown user, or a locked account) it
    /// does the same work and answers false.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool, AppError> {
        self.passwords.compute_verify(password, hash).await
    }
}

/// The length of the hash output, in bytes.
const OUTPUT_LEN: usize = 32;

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
fn params() -> Result<Params, AppError> {
    Params::new(19_456, 2, 1, Some(OUTPUT_LEN)).map_err(AppError::internal)
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
        let passwords = Passwords::new(1, 0).await.unwrap();
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
        // A hash made by the argon2 crate's own API (and other parameters) verifies too.
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse", &salt)
        .unwrap()
        .to_string();
        assert!(ok("correct horse", Some(other.clone())).await.unwrap());
        assert!(!ok("correct horsf", Some(other)).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_a_freed_place_is_reused() {
        let passwords = Passwords::new(1, 1).await.unwrap();
        let first = passwords.admit().unwrap();
        let second = passwords.admit().unwrap();
        assert!(matches!(passwords.admit(), Err(AppError::RateLimited)));
        assert_eq!(PasswordStats::get(&passwords.stats().refused), 1);
        drop(first);
        let third = passwords.admit().unwrap();
        assert!(third.hash(Password::new("x")).await.is_ok());
        drop(second);
    }
}
