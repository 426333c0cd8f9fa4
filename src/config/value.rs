//! How one setting's text becomes its value: one parser per type, each answering a reason that
//! completes the start-up line `SETTING: reason`. Secrets are types whose `Debug` hides them.

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use super::{AppEnv, LogFormat};

/// A type a setting can hold, parsed from the setting's (trimmed, non-empty) text.
pub trait Setting: Sized {
    fn parse(text: &str) -> Result<Self, String>;
}

impl Setting for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

/// A file's path, as written.
impl Setting for std::path::PathBuf {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(Self::from(text))
    }
}

impl Setting for bool {
    fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!("`{text}` is not a boolean (true or false)")),
        }
    }
}

/// A duration such as `90s`, `15m`, `24h`, `14d` (any unit `humantime` knows, e.g. `1h 30m`), or
/// a plain number of seconds; never zero.
impl Setting for Duration {
    fn parse(text: &str) -> Result<Self, String> {
        let parsed = match text.parse::<u64>() {
            Ok(seconds) => Ok(Duration::from_secs(seconds)),
            Err(_) => humantime::parse_duration(text),
        };
        match parsed {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(format!(
                "`{text}` is not a duration such as 90s, 15m, 24h or 14d"
            )),
        }
    }
}

/// An optional setting: set means `Some`.
impl<T: Setting> Setting for Option<T> {
    fn parse(text: &str) -> Result<Self, String> {
        T::parse(text).map(Some)
    }
}

/// A comma-separated list (empty items skipped).
impl<T: Setting> Setting for Vec<T> {
    fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(T::parse)
            .collect()
    }
}

impl Setting for IpAddr {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("`{text}` is not an IP address such as 10.0.0.2 or ::1"))
    }
}

/// A whole number within `range`.
pub fn number<T>(text: &str, range: RangeInclusive<T>) -> Result<T, String>
where
    T: FromStr + PartialOrd + fmt::Display,
{
    match text.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}` is not a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// A port number (0 picks a free one).
pub fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a port number (0-65535)"))
}

/// A whole number of seconds within `range`.
pub fn seconds(text: &str, range: RangeInclusive<u64>) -> Result<Duration, String> {
    number(text, range).map(Duration::from_secs)
}

/// The settings that name one of a few words.
macro_rules! choice {
    ($($ty:ty { $($word:literal => $value:expr),+ })*) => {$(
        impl Setting for $ty {
            fn parse(text: &str) -> Result<Self, String> {
                match text {
                    $($word => Ok($value),)+
                    _ => Err(format!(
                        "`{text}` is not one of: {}",
                        [$($word),+].join(", ")
                    )),
                }
            }
        }
    )*};
}

choice! {
    AppEnv { "development" => AppEnv::Development, "production" => AppEnv::Production }
    LogFormat { "text" => LogFormat::Text, "json" => LogFormat::Json }
}

/// An exact browser origin such as `https://app.example.org`: no path, no wildcard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Setting for Origin {
    fn parse(text: &str) -> Result<Self, String> {
        let host = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"));
        match host {
            Some(host)
                if !host.is_empty()
                    && !host.contains(['/', '*'])
                    && axum::http::HeaderValue::from_str(text).is_ok() =>
            {
                Ok(Self(text.to_owned()))
            }
            _ => Err(format!(
                "`{text}` is not an origin such as https://app.example.org (no path, no wildcard)"
            )),
        }
    }
}

/// A log filter in `tracing`'s `EnvFilter` syntax, checked when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFilter(String);

impl LogFilter {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for LogFilter {
    fn default() -> Self {
        Self("info".to_owned())
    }
}

impl Setting for LogFilter {
    fn parse(text: &str) -> Result<Self, String> {
        tracing_subscriber::EnvFilter::try_new(text)
            .map(|_| Self(text.to_owned()))
            .map_err(|e| format!("`{text}` is not a log filter: {e}"))
    }
}

/// The database's URL. Its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, password included: for connecting, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the database is SQLite (as opposed to PostgreSQL).
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl Default for DatabaseUrl {
    /// An SQLite file in the working directory, created if missing.
    fn default() -> Self {
        Self(super::DEFAULT_DATABASE_URL.to_owned())
    }
}

impl Setting for DatabaseUrl {
    fn parse(text: &str) -> Result<Self, String> {
        if ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| text.starts_with(scheme))
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "`{}` has an unsupported scheme; use sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DB",
                redact_url(text)
            ))
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Hides the password of a URL such as `postgres://user:secret@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// The development-only signing key, used when `SECRET_KEY` is unset outside production. It is
/// public (it is in the source), so production refuses it.
pub const DEVELOPMENT_SECRET_KEY: &str =
    "tkc-library development key: public, never use it in production; set SECRET_KEY instead";

/// Keys that are published somewhere and so protect nothing.
const PUBLISHED_SECRET_KEYS: &[&str] = &[
    DEVELOPMENT_SECRET_KEY,
    "change-me-to-64-random-bytes-for-example-with-openssl-rand-base64-64",
];

/// The session-signing key: at least 64 bytes. Never printed.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// The public development key.
    pub fn development() -> Self {
        Self(DEVELOPMENT_SECRET_KEY.to_owned())
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the key is published (in this source or in `.env.example`) and so protects nothing.
    pub fn is_published(&self) -> bool {
        PUBLISHED_SECRET_KEYS.contains(&self.0.as_str())
    }
}

impl Setting for SecretKey {
    fn parse(text: &str) -> Result<Self, String> {
        if text.len() < 64 {
            return Err(format!(
                "is {} bytes long; it must be at least 64 (openssl rand -base64 64)",
                text.len()
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}
