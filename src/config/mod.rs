//! Typed configuration, read once from the environment (and `.env`). `.env.example` is the
//! reference for every setting. Secrets (the password in `DATABASE_URL`) are never printed.

use std::fmt;
use std::time::Duration;

use crate::error::StartupError;

/// The default database: an SQLite file in the working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tkc_library.db";

/// Which kind of deployment this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// Every setting of the server.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://path` or `postgres://user:password@host:port/db`.
    pub database_url: String,
    /// `HOST`: the address to listen on.
    pub host: String,
    /// `PORT`: the port to listen on (0 picks a free one).
    pub port: u16,
    /// `APP_ENV`: `development` or `production`.
    pub app_env: AppEnv,
    /// `AUTO_MIGRATE`: run pending migrations at start-up.
    pub auto_migrate: bool,
    /// `SEED_DEMO`: write the demo data at start-up when the database has no users.
    pub seed_demo: bool,
    /// `DATABASE_MAX_CONNECTIONS`: the size of the connection pool.
    pub database_max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECS`: how long a request waits for a pooled connection.
    pub database_acquire_timeout: Duration,
    /// `SECRET_KEY`: signs the session cookie (at least 64 bytes; required in production).
    pub secret_key: SecretKey,
    /// `COOKIE_SECURE`: mark the session cookie `Secure` (and name it `__Host-tkc_session`).
    pub cookie_secure: bool,
    /// `SESSION_TTL`: a session's absolute lifetime (the cookie's Max-Age).
    pub session_ttl: Duration,
    /// `SESSION_IDLE_TTL`: a session unused for this long ends.
    pub session_idle_ttl: Duration,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`: failed logins for one account before it is throttled.
    pub login_max_failures_per_account: u32,
    /// `LOGIN_MAX_FAILURES_PER_CLIENT`: failed logins from one client address before it is throttled.
    pub login_max_failures_per_client: u32,
    /// `LOGIN_FAILURE_WINDOW`: how long a failed login counts.
    pub login_failure_window: Duration,
    /// `PASSWORD_HASH_CONCURRENCY`: argon2 computations at once (each takes 19 MiB).
    pub password_hash_concurrency: usize,
    /// `PASSWORD_HASH_QUEUE`: requests that may wait for an argon2 computation; more are refused
    /// (`TOO_MANY_REQUESTS`) at once instead of slowing everyone down.
    pub password_hash_queue: usize,
    /// `REGISTER_MAX_PER_CLIENT`: registrations (attempts) from one client address within
    /// `LOGIN_FAILURE_WINDOW` before it is throttled.
    pub register_max_per_client: u32,
    /// `REQUEST_TIMEOUT`: how long one HTTP request may take before it is answered 503.
    pub request_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT`: PostgreSQL's `statement_timeout` for every connection.
    pub database_statement_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT`: how long in-flight requests may run on after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// `HTTP_HEADER_READ_TIMEOUT`: how long a connection may take to send a request head, counted
    /// from its opening or from its previous response (so it also ends idle keep-alive).
    pub http_header_read_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS`: connections open at once; beyond, a new one evicts the oldest idle.
    pub http_max_connections: usize,
    /// Limits on what one GraphQL request may ask for.
    pub limits: GraphqlLimits,
    /// `GRAPHQL_DOCUMENT_CACHE`: parsed documents kept by their text (0: none).
    pub graphql_document_cache: usize,
    /// `GRAPHQL_INTROSPECTION`: answer introspection (and suggest field names in errors).
    pub introspection: bool,
    /// `PLAYGROUND`: serve the playground at `/`.
    pub playground: bool,
    /// `METRICS`: serve `GET /metrics` (request and SQL statement counters, Prometheus text).
    pub metrics: bool,
    /// `LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `CORS_ALLOWED_ORIGINS`: origins (exact, e.g. `https://app.example.org`) allowed to call the
    /// API from a browser with credentials.
    pub cors_allowed_origins: Vec<String>,
    /// `TRUSTED_PROXIES`: addresses of reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Not a setting: keep the text of recent SQL statements for tests to inspect.
    pub record_statements: bool,
    /// Not a setting: serve `/__test/panic` and `/__test/sleep/{ms}`, for tests of the panic and
    /// timeout layers. Nothing in the environment turns it on.
    pub test_routes: bool,
}

/// What one GraphQL request may ask for; each a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphqlLimits {
    /// `GRAPHQL_MAX_DEPTH`: nesting of fields (introspection excluded).
    pub depth: usize,
    /// `GRAPHQL_MAX_COMPLEXITY`: fields counted, each list field's children times its `first`.
    pub complexity: usize,
    /// `GRAPHQL_MAX_ALIASES`: aliased fields in one document.
    pub aliases: usize,
    /// `GRAPHQL_MAX_ROOT_FIELDS`: fields at the root of one operation (`__typename` included).
    pub root_fields: usize,
    /// `GRAPHQL_MAX_DIRECTIVES`: directives on one field.
    pub directives: usize,
    /// `GRAPHQL_MAX_BATCH`: operations in one batched (JSON array) request.
    pub batch: usize,
    /// `GRAPHQL_MAX_ERRORS`: errors in one response; the rest are dropped.
    pub errors: usize,
    /// `GRAPHQL_MAX_RESPONSE_BYTES`: the largest response body; a larger one is refused whole.
    pub response_bytes: usize,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The development-only signing key, used when `SECRET_KEY` is unset outside production. It is
/// public (it is in the source), so production refuses it.
pub const DEVELOPMENT_SECRET_KEY: &str =
    "tkc-library development key: public, never use it in production; set SECRET_KEY instead";

/// Keys that are published somewhere and so protect nothing.
const KNOWN_SECRET_KEYS: &[&str] = &[
    DEVELOPMENT_SECRET_KEY,
    "change-me-to-64-random-bytes-for-example-with-openssl-rand-base64-64",
];

/// The session-signing key. Never printed.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// The key's bytes (at least 64).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl Config {
    /// Reads `.env` (if present) and then the process environment.
    pub fn from_env() -> Result<Self, StartupError> {
        // A missing .env is normal; a malformed one is worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(StartupError::new(".env", e.to_string())),
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any source of settings (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StartupError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let app_env = match get("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(StartupError::new(
                    "APP_ENV",
                    format!("`{other}` is not one of: development, production"),
                ));
            }
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(StartupError::new(
                "DATABASE_URL",
                format!(
                    "`{}` has an unsupported scheme; use sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DB",
                    redact_url(&database_url)
                ),
            ));
        }

        let port = match get("PORT") {
            None => 8000,
            Some(v) => v.parse::<u16>().map_err(|_| {
                StartupError::new("PORT", format!("`{v}` is not a port number (0-65535)"))
            })?,
        };

        let seed_default = app_env == AppEnv::Development;
        let seed_demo = parse_bool(get("SEED_DEMO"), "SEED_DEMO", seed_default)?;
        if seed_demo && app_env == AppEnv::Production {
            return Err(StartupError::new(
                "SEED_DEMO",
                "demo data (with its well-known passwords) is never written in production",
            ));
        }

        let production = app_env == AppEnv::Production;
        let secret_key = match get("SECRET_KEY") {
            Some(key) if KNOWN_SECRET_KEYS.contains(&key.as_str()) && production => {
                return Err(StartupError::new(
                    "SECRET_KEY",
                    "is a published example key; generate one with: openssl rand -base64 64",
                ));
            }
            Some(key) if key.len() < 64 => {
                return Err(StartupError::new(
                    "SECRET_KEY",
                    format!(
                        "is {} bytes long; it must be at least 64 (openssl rand -base64 64)",
                        key.len()
                    ),
                ));
            }
            Some(key) => SecretKey(key),
            None if production => {
                return Err(StartupError::new(
                    "SECRET_KEY",
                    "is required in production (generate one with: openssl rand -base64 64)",
                ));
            }
            None => SecretKey(DEVELOPMENT_SECRET_KEY.to_owned()),
        };
        let session_ttl = parse_duration(get("SESSION_TTL"), "SESSION_TTL", 14 * DAY)?;
        let session_idle_ttl =
            parse_duration(get("SESSION_IDLE_TTL"), "SESSION_IDLE_TTL", 24 * HOUR)?;
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);

        let request_timeout = parse_duration(
            get("REQUEST_TIMEOUT"),
            "REQUEST_TIMEOUT",
            Duration::from_secs(10),
        )?;
        let number = |name: &'static str, default: usize, max: usize| {
            parse_number(get(name), name, default, 1..=max)
        };
        let limits = GraphqlLimits {
            depth: number("GRAPHQL_MAX_DEPTH", 10, 1000)?,
            complexity: number("GRAPHQL_MAX_COMPLEXITY", 1000, 10_000_000)?,
            aliases: number("GRAPHQL_MAX_ALIASES", 30, 100_000)?,
            root_fields: number("GRAPHQL_MAX_ROOT_FIELDS", 20, 100_000)?,
            directives: number("GRAPHQL_MAX_DIRECTIVES", 5, 1000)?,
            batch: number("GRAPHQL_MAX_BATCH", 10, 1000)?,
            errors: number("GRAPHQL_MAX_ERRORS", 50, 100_000)?,
            response_bytes: number("GRAPHQL_MAX_RESPONSE_BYTES", 8 * 1024 * 1024, 1 << 30)?,
        };
        let graphql_document_cache = parse_number(
            get("GRAPHQL_DOCUMENT_CACHE"),
            "GRAPHQL_DOCUMENT_CACHE",
            1000,
            0..=1_000_000,
        )?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(StartupError::new(
                    "LOG_FORMAT",
                    format!("`{other}` is not one of: text, json"),
                ));
            }
        };
        let mut cors_allowed_origins = Vec::new();
        for origin in get("CORS_ALLOWED_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin
                    .trim_start_matches("http://")
                    .trim_start_matches("https://")
                    .contains('/')
                && axum::http::HeaderValue::from_str(origin).is_ok();
            if !valid || origin == "*" {
                return Err(StartupError::new(
                    "CORS_ALLOWED_ORIGINS",
                    format!(
                        "`{origin}` is not an origin such as https://app.example.org (no path, no wildcard)"
                    ),
                ));
            }
            cors_allowed_origins.push(origin.to_owned());
        }

        let mut trusted_proxies = Vec::new();
        for proxy in get("TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            trusted_proxies.push(proxy.parse().map_err(|_| {
                StartupError::new(
                    "TRUSTED_PROXIES",
                    format!("`{proxy}` is not an IP address such as 10.0.0.2 or ::1"),
                )
            })?);
        }

        Ok(Self {
            trusted_proxies,
            request_timeout,
            database_statement_timeout: parse_duration(
                get("DATABASE_STATEMENT_TIMEOUT"),
                "DATABASE_STATEMENT_TIMEOUT",
                request_timeout,
            )?,
            shutdown_timeout: parse_duration(
                get("SHUTDOWN_TIMEOUT"),
                "SHUTDOWN_TIMEOUT",
                Duration::from_secs(30),
            )?,
            http_header_read_timeout: parse_duration(
                get("HTTP_HEADER_READ_TIMEOUT"),
                "HTTP_HEADER_READ_TIMEOUT",
                Duration::from_secs(10),
            )?,
            http_max_connections: number("HTTP_MAX_CONNECTIONS", 4096, 1_000_000)?,
            limits,
            graphql_document_cache,
            introspection: parse_bool(
                get("GRAPHQL_INTROSPECTION"),
                "GRAPHQL_INTROSPECTION",
                !production,
            )?,
            playground: parse_bool(get("PLAYGROUND"), "PLAYGROUND", !production)?,
            metrics: parse_bool(get("METRICS"), "METRICS", !production)?,
            log_format,
            cors_allowed_origins,
            test_routes: false,
            secret_key,
            cookie_secure: parse_bool(get("COOKIE_SECURE"), "COOKIE_SECURE", production)?,
            session_ttl,
            session_idle_ttl,
            login_max_failures_per_account: parse_number(
                get("LOGIN_MAX_FAILURES_PER_ACCOUNT"),
                "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                5,
                1..=1_000_000,
            )?,
            login_max_failures_per_client: parse_number(
                get("LOGIN_MAX_FAILURES_PER_CLIENT"),
                "LOGIN_MAX_FAILURES_PER_CLIENT",
                100,
                1..=1_000_000,
            )?,
            login_failure_window: parse_duration(
                get("LOGIN_FAILURE_WINDOW"),
                "LOGIN_FAILURE_WINDOW",
                15 * MINUTE,
            )?,
            password_hash_concurrency: parse_number(
                get("PASSWORD_HASH_CONCURRENCY"),
                "PASSWORD_HASH_CONCURRENCY",
                cpus,
                1..=1024,
            )?,
            password_hash_queue: parse_number(
                get("PASSWORD_HASH_QUEUE"),
                "PASSWORD_HASH_QUEUE",
                32,
                0..=100_000,
            )?,
            register_max_per_client: parse_number(
                get("REGISTER_MAX_PER_CLIENT"),
                "REGISTER_MAX_PER_CLIENT",
                10,
                1..=1_000_000,
            )?,
            database_url,
            host: get("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port,
            app_env,
            auto_migrate: parse_bool(get("AUTO_MIGRATE"), "AUTO_MIGRATE", true)?,
            seed_demo,
            database_max_connections: parse_number(
                get("DATABASE_MAX_CONNECTIONS"),
                "DATABASE_MAX_CONNECTIONS",
                10,
                1..=1000,
            )?,
            database_acquire_timeout: Duration::from_secs(parse_number(
                get("DATABASE_ACQUIRE_TIMEOUT_SECS"),
                "DATABASE_ACQUIRE_TIMEOUT_SECS",
                5,
                1..=300,
            )?),
            record_statements: false,
        })
    }

    /// `DATABASE_URL` with any password replaced by `***`, fit for logs and error messages.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url)
    }

    /// Whether the database is SQLite (as opposed to PostgreSQL).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url_redacted())
            .field("host", &self.host)
            .field("port", &self.port)
            .field("app_env", &self.app_env)
            .field("auto_migrate", &self.auto_migrate)
            .field("seed_demo", &self.seed_demo)
            .field("database_max_connections", &self.database_max_connections)
            .field("database_acquire_timeout", &self.database_acquire_timeout)
            .field("secret_key", &self.secret_key)
            .field("cookie_secure", &self.cookie_secure)
            .field("session_ttl", &self.session_ttl)
            .field("session_idle_ttl", &self.session_idle_ttl)
            .field("login_failure_window", &self.login_failure_window)
            .field("password_hash_concurrency", &self.password_hash_concurrency)
            .field("password_hash_queue", &self.password_hash_queue)
            .field("register_max_per_client", &self.register_max_per_client)
            .field("request_timeout", &self.request_timeout)
            .field("http_header_read_timeout", &self.http_header_read_timeout)
            .field("http_max_connections", &self.http_max_connections)
            .field("limits", &self.limits)
            .field("graphql_document_cache", &self.graphql_document_cache)
            .field("introspection", &self.introspection)
            .field("playground", &self.playground)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .finish_non_exhaustive()
    }
}

fn parse_bool(
    value: Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, StartupError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(StartupError::new(
            name,
            format!("`{other}` is not a boolean (true or false)"),
        )),
    }
}

fn parse_number<T>(
    value: Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, StartupError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(v) = value else { return Ok(default) };
    match v.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(StartupError::new(
            name,
            format!(
                "`{v}` is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// A duration such as `90s`, `15m`, `24h`, `14d`, or a plain number of seconds.
fn parse_duration(
    value: Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, StartupError> {
    let Some(v) = value else { return Ok(default) };
    let (number, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v.as_str(), "s"),
    };
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && seconds > 0 => Ok(Duration::from_secs(n.saturating_mul(seconds))),
        _ => Err(StartupError::new(
            name,
            format!("`{v}` is not a duration such as 90s, 15m, 24h or 14d"),
        )),
    }
}

/// Hides the password of a URL such as `postgres://user:secret@host/db`.
fn redact_url(url: &str) -> String {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, StartupError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_sqlite_on_localhost_8000_in_development() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8000));
        assert_eq!(c.app_env, AppEnv::Development);
        assert!(c.auto_migrate && c.seed_demo);
    }

    #[test]
    fn a_bad_value_names_its_setting() {
        assert_eq!(config(&[("PORT", "eighty")]).unwrap_err().setting, "PORT");
        assert_eq!(config(&[("PORT", "70000")]).unwrap_err().setting, "PORT");
        assert_eq!(
            config(&[("APP_ENV", "staging")]).unwrap_err().setting,
            "APP_ENV"
        );
        assert_eq!(
            config(&[("AUTO_MIGRATE", "maybe")]).unwrap_err().setting,
            "AUTO_MIGRATE"
        );
        let err = config(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]).unwrap_err();
        assert_eq!(err.setting, "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn production_never_seeds_demo_accounts() {
        let key = "k".repeat(64);
        let c = config(&[("APP_ENV", "production"), ("SECRET_KEY", &key)]).unwrap();
        assert!(!c.seed_demo);
        let err = config(&[("APP_ENV", "production"), ("SEED_DEMO", "true")]).unwrap_err();
        assert_eq!(err.setting, "SEED_DEMO");
    }

    #[test]
    fn production_demands_a_strong_secret_key() {
        let strong = "k".repeat(64);
        let prod = |key: Option<&str>| {
            let mut pairs = vec![("APP_ENV", "production")];
            if let Some(k) = key {
                pairs.push(("SECRET_KEY", k));
            }
            config(&pairs)
        };
        assert_eq!(prod(None).unwrap_err().setting, "SECRET_KEY");
        assert_eq!(prod(Some("short")).unwrap_err().setting, "SECRET_KEY");
        assert_eq!(
            prod(Some(DEVELOPMENT_SECRET_KEY)).unwrap_err().setting,
            "SECRET_KEY"
        );
        let c = prod(Some(&strong)).unwrap();
        assert!(
            c.cookie_secure,
            "cookies are Secure in production by default"
        );
        assert!(
            !format!("{c:?}").contains(&strong),
            "the key is never printed"
        );
        // Development works without a key, and never with a short one.
        assert!(!config(&[]).unwrap().cookie_secure);
        assert_eq!(
            config(&[("SECRET_KEY", "short")]).unwrap_err().setting,
            "SECRET_KEY"
        );
    }

    #[test]
    fn production_hides_introspection_and_the_playground_unless_asked() {
        let key = "k".repeat(64);
        let prod = config(&[("APP_ENV", "production"), ("SECRET_KEY", &key)]).unwrap();
        assert!(!prod.introspection && !prod.playground && !prod.metrics);
        let asked = config(&[
            ("APP_ENV", "production"),
            ("SECRET_KEY", &key),
            ("GRAPHQL_INTROSPECTION", "true"),
            ("PLAYGROUND", "true"),
        ])
        .unwrap();
        assert!(asked.introspection && asked.playground);
        let dev = config(&[]).unwrap();
        assert!(dev.introspection && dev.playground);
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        let c = config(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://a.example, http://localhost:5173",
        )])
        .unwrap();
        assert_eq!(
            c.cors_allowed_origins,
            ["https://a.example", "http://localhost:5173"]
        );
        for bad in ["*", "a.example", "https://a.example/path"] {
            assert_eq!(
                config(&[("CORS_ALLOWED_ORIGINS", bad)])
                    .unwrap_err()
                    .setting,
                "CORS_ALLOWED_ORIGINS",
                "{bad}"
            );
        }
    }

    #[test]
    fn trusted_proxies_are_ip_addresses() {
        let c = config(&[("TRUSTED_PROXIES", "10.0.0.2, ::1")]).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(
            config(&[("TRUSTED_PROXIES", "proxy.local")])
                .unwrap_err()
                .setting,
            "TRUSTED_PROXIES"
        );
    }

    #[test]
    fn durations_take_units() {
        let c = config(&[("SESSION_TTL", "2h"), ("SESSION_IDLE_TTL", "90")]).unwrap();
        assert_eq!(c.session_ttl, Duration::from_secs(7200));
        assert_eq!(c.session_idle_ttl, Duration::from_secs(90));
        assert_eq!(
            config(&[]).unwrap().session_ttl,
            Duration::from_secs(14 * 86_400)
        );
        for bad in ["0", "2 weeks", "h", "-1d"] {
            assert_eq!(
                config(&[("SESSION_TTL", bad)]).unwrap_err().setting,
                "SESSION_TTL"
            );
        }
    }

    #[test]
    fn the_hash_queue_and_the_registration_limit_have_defaults_and_bounds() {
        let c = config(&[]).unwrap();
        assert_eq!((c.password_hash_queue, c.register_max_per_client), (32, 10));
        let c = config(&[
            ("PASSWORD_HASH_QUEUE", "0"),
            ("REGISTER_MAX_PER_CLIENT", "3"),
        ])
        .unwrap();
        assert_eq!((c.password_hash_queue, c.register_max_per_client), (0, 3));
        for (name, bad) in [
            ("PASSWORD_HASH_QUEUE", "-1"),
            ("PASSWORD_HASH_QUEUE", "lots"),
            ("REGISTER_MAX_PER_CLIENT", "0"),
        ] {
            assert_eq!(config(&[(name, bad)]).unwrap_err().setting, name);
        }
    }

    #[test]
    fn connection_limits_have_defaults_and_bounds() {
        let c = config(&[]).unwrap();
        assert_eq!(c.http_header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.http_max_connections, 4096);
        let c = config(&[
            ("HTTP_HEADER_READ_TIMEOUT", "30s"),
            ("HTTP_MAX_CONNECTIONS", "100"),
        ])
        .unwrap();
        assert_eq!(c.http_header_read_timeout, Duration::from_secs(30));
        assert_eq!(c.http_max_connections, 100);
        for (name, bad) in [
            ("HTTP_HEADER_READ_TIMEOUT", "0"),
            ("HTTP_MAX_CONNECTIONS", "0"),
        ] {
            assert_eq!(config(&[(name, bad)]).unwrap_err().setting, name);
        }
    }

    #[test]
    fn the_document_cache_can_be_turned_off() {
        assert_eq!(config(&[]).unwrap().graphql_document_cache, 1000);
        let off = config(&[("GRAPHQL_DOCUMENT_CACHE", "0")]).unwrap();
        assert_eq!(off.graphql_document_cache, 0);
        let bad = config(&[("GRAPHQL_DOCUMENT_CACHE", "-1")]).unwrap_err();
        assert_eq!(bad.setting, "GRAPHQL_DOCUMENT_CACHE");
    }

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_url("postgres://postgres:s3cret@localhost:5521/tkc_library"),
            "postgres://postgres:***@localhost:5521/tkc_library"
        );
        assert_eq!(
            redact_url("sqlite://tkc_library.db"),
            "sqlite://tkc_library.db"
        );
    }
}
