//! Typed configuration, read once from the environment (and `.env`).
//!
//! Each setting is declared once below, in its group: its environment variable, its type (whose
//! [`Setting`] parser reads it, see `value.rs`), its default and its doc. [`Config::NAMES`] lists
//! them all, and a test holds `.env.example` and the README's table to exactly that list.

mod value;

use std::time::Duration;

pub use value::{DEVELOPMENT_SECRET_KEY, DatabaseUrl, LogFilter, Origin, SecretKey, Setting};

use crate::error::StartupError;

/// The default database: an SQLite file in the working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tkc_library.db";

/// Why `TRUSTED_DOCUMENTS_ONLY` cannot go without `TRUSTED_DOCUMENTS`.
pub const TRUSTED_ONLY_NEEDS_A_MANIFEST: &str =
    "needs TRUSTED_DOCUMENTS, the manifest of the documents to run";

/// Which kind of deployment this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// What the defaults depend on.
struct Context {
    production: bool,
    cpus: usize,
}

/// Declares groups of settings: each field with its variable, its default and (optionally) how it
/// is parsed when not by its type's [`Setting`] parser: `range` for a bounded number, `via` for a
/// function of the text. Generates the struct, its `NAMES` and its reader.
macro_rules! settings {
    (context: $ctx:ident; $(
        $(#[$meta:meta])*
        pub struct $group:ident {$(
            $(#[doc = $doc:literal])+
            $field:ident: $ty:ty = $name:literal, default $default:expr $(, $how:ident $arg:expr)?;
        )*}
    )*) => {$(
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $group {$(
            #[doc = concat!("`", $name, "`:")]
            $(#[doc = $doc])+
            pub $field: $ty,
        )*}

        impl $group {
            /// The environment variables of this group.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            #[allow(unused_variables)]
            fn read(
                get: &dyn Fn(&str) -> Option<String>,
                $ctx: &Context,
            ) -> Result<Self, StartupError> {
                Ok(Self {$(
                    $field: match get($name) {
                        None => $default,
                        Some(text) => settings!(@parse text, $ty $(, $how $arg)?)
                            .map_err(|reason| StartupError::new($name, reason))?,
                    },
                )*})
            }
        }
    )*};
    (@parse $text:ident, $ty:ty) => { <$ty as Setting>::parse(&$text) };
    (@parse $text:ident, $ty:ty, range $range:expr) => { value::number::<$ty>(&$text, $range) };
    (@parse $text:ident, $ty:ty, via $parse:expr) => { ($parse)(&$text) };
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

settings! {
    context: ctx;

    /// Where the data lives, and what start-up does to it.
    pub struct Database {
        /// `sqlite://path` or `postgres://user:password@host:port/db` (printed without password).
        url: DatabaseUrl = "DATABASE_URL", default DatabaseUrl::default();
        /// The size of the connection pool.
        max_connections: u32 = "DATABASE_MAX_CONNECTIONS", default 10, range 1..=1000;
        /// How long a request waits for a pooled connection (whole seconds).
        acquire_timeout: Duration = "DATABASE_ACQUIRE_TIMEOUT_SECS", default Duration::from_secs(5),
            via |text: &str| value::seconds(text, 1..=300);
        /// PostgreSQL's `statement_timeout` for every connection (unset: `REQUEST_TIMEOUT`; see
        /// [`Config::statement_timeout`]).
        statement_timeout: Option<Duration> = "DATABASE_STATEMENT_TIMEOUT", default None;
        /// Run pending migrations at start-up.
        auto_migrate: bool = "AUTO_MIGRATE", default true;
        /// Write the demo data at start-up when the database has no users (never in production).
        seed_demo: bool = "SEED_DEMO", default !ctx.production;
    }

    /// Session cookies, login throttling and password hashing.
    pub struct Sessions {
        /// Signs the session cookie (at least 64 bytes; required in production).
        secret_key: SecretKey = "SECRET_KEY", default SecretKey::development();
        /// Mark the session cookie `Secure` (and name it `__Host-tkc_session`).
        cookie_secure: bool = "COOKIE_SECURE", default ctx.production;
        /// A session's absolute lifetime (the cookie's Max-Age).
        ttl: Duration = "SESSION_TTL", default 14 * DAY;
        /// A session unused for this long ends.
        idle_ttl: Duration = "SESSION_IDLE_TTL", default 24 * HOUR;
        /// Failed logins for one account before it is throttled.
        login_max_failures_per_account: u32 = "LOGIN_MAX_FAILURES_PER_ACCOUNT", default 5,
            range 1..=1_000_000;
        /// Failed logins from one client address before it is throttled.
        login_max_failures_per_client: u32 = "LOGIN_MAX_FAILURES_PER_CLIENT", default 100,
            range 1..=1_000_000;
        /// How long a failed login (or a registration) counts.
        login_failure_window: Duration = "LOGIN_FAILURE_WINDOW", default 15 * MINUTE;
        /// Registrations (attempts) from one client address within the window before it is
        /// throttled.
        register_max_per_client: u32 = "REGISTER_MAX_PER_CLIENT", default 10, range 1..=1_000_000;
        /// Argon2 computations at once (each takes 19 MiB).
        password_hash_concurrency: usize = "PASSWORD_HASH_CONCURRENCY", default ctx.cpus,
            range 1..=1024;
        /// Requests that may wait for an argon2 computation; more are refused
        /// (`TOO_MANY_REQUESTS`) at once instead of slowing everyone down.
        password_hash_queue: usize = "PASSWORD_HASH_QUEUE", default 32, range 0..=100_000;
    }

    /// The listener, its connections and its routes.
    pub struct Http {
        /// The address to listen on.
        host: String = "HOST", default "127.0.0.1".to_owned();
        /// The port to listen on (0 picks a free one).
        port: u16 = "PORT", default 8000, via value::port;
        /// How long one HTTP request may take before it is answered 503.
        request_timeout: Duration = "REQUEST_TIMEOUT", default Duration::from_secs(10);
        /// How long in-flight requests may run on after SIGTERM/SIGINT.
        shutdown_timeout: Duration = "SHUTDOWN_TIMEOUT", default Duration::from_secs(30);
        /// How long a connection may take to send a request head, counted from its opening or
        /// from its previous response (so it also ends idle keep-alive).
        header_read_timeout: Duration = "HTTP_HEADER_READ_TIMEOUT", default Duration::from_secs(10);
        /// Connections open at once; beyond, a new one evicts the oldest idle.
        max_connections: usize = "HTTP_MAX_CONNECTIONS", default 4096, range 1..=1_000_000;
        /// Origins (exact, e.g. `https://app.example.org`) allowed to call the API from a browser
        /// with credentials.
        cors_allowed_origins: Vec<Origin> = "CORS_ALLOWED_ORIGINS", default Vec::new();
        /// Addresses of reverse proxies whose `X-Forwarded-For` names the client.
        trusted_proxies: Vec<std::net::IpAddr> = "TRUSTED_PROXIES", default Vec::new();
        /// Serve the playground at `/`.
        playground: bool = "PLAYGROUND", default !ctx.production;
        /// Serve `GET /metrics` (request and SQL statement counters, Prometheus text).
        metrics: bool = "METRICS", default !ctx.production;
    }

    /// What one GraphQL request may ask for.
    #[derive(Copy, PartialEq, Eq)]
    pub struct GraphqlLimits {
        /// Nesting of fields (introspection excluded).
        depth: usize = "GRAPHQL_MAX_DEPTH", default 10, range 1..=1000;
        /// Fields counted, each list field's children times its `first`.
        complexity: usize = "GRAPHQL_MAX_COMPLEXITY", default 1000, range 1..=10_000_000;
        /// Aliased fields in one document.
        aliases: usize = "GRAPHQL_MAX_ALIASES", default 30, range 1..=100_000;
        /// Fields at the root of one operation (`__typename` included).
        root_fields: usize = "GRAPHQL_MAX_ROOT_FIELDS", default 20, range 1..=100_000;
        /// Directives on one field.
        directives: usize = "GRAPHQL_MAX_DIRECTIVES", default 5, range 1..=1000;
        /// Operations in one batched (JSON array) request.
        batch: usize = "GRAPHQL_MAX_BATCH", default 10, range 1..=1000;
        /// Errors in one response; the rest are dropped.
        errors: usize = "GRAPHQL_MAX_ERRORS", default 50, range 1..=100_000;
        /// The largest response body; a larger one is refused whole.
        response_bytes: usize = "GRAPHQL_MAX_RESPONSE_BYTES", default 8 * 1024 * 1024,
            range 1..=1 << 30;
    }

    /// The GraphQL service beyond its limits.
    pub struct Graphql {
        /// Parsed documents kept by their text (0: none).
        document_cache: usize = "GRAPHQL_DOCUMENT_CACHE", default 1000, range 0..=1_000_000;
        /// Answer introspection (and suggest field names in errors); when off, a document that
        /// selects `__schema` or `__type` is refused.
        introspection: bool = "GRAPHQL_INTROSPECTION", default !ctx.production;
        /// Documents registered by automatic persisted queries, kept by their hash (0: the
        /// protocol is off).
        persisted_queries: usize = "GRAPHQL_PERSISTED_QUERIES", default 1000, range 0..=1_000_000;
        /// A manifest (JSON: sha256 → document) of the documents the server's own apps send,
        /// loaded at start-up; they are always found by their hash.
        trusted_documents: Option<std::path::PathBuf> = "TRUSTED_DOCUMENTS", default None;
        /// Run only the documents of `TRUSTED_DOCUMENTS` (the playground is then off).
        trusted_documents_only: bool = "TRUSTED_DOCUMENTS_ONLY", default false;
    }

    /// Subscriptions over WebSocket.
    pub struct Live {
        /// Operations (subscriptions, and queries in flight) one WebSocket connection may run at
        /// once.
        max_subscriptions: usize = "GRAPHQL_WS_MAX_SUBSCRIPTIONS", default 20, range 1..=10_000;
        /// WebSocket connections open at once on this instance (503 beyond).
        max_connections: usize = "WS_MAX_CONNECTIONS", default 10_000, range 1..=1_000_000;
        /// How often the server pings a WebSocket client; a client silent for twice as long is
        /// disconnected.
        keepalive: Duration = "GRAPHQL_WS_KEEPALIVE", default Duration::from_secs(15);
        /// Updates a subscriber may fall behind before its subscription ends (`SLOW_SUBSCRIBER`).
        buffer: usize = "GRAPHQL_WS_BUFFER", default 256, range 1..=1_000_000;
    }

    /// Loans and holds.
    pub struct Lending {
        /// How long a loan runs (and a renewal extends it to from now).
        loan_period: Duration = "LOAN_PERIOD", default 14 * DAY;
        /// Renewals one loan may have.
        max_renewals: u32 = "MAX_RENEWALS", default 2, range 0..=100;
        /// Active loans one member may have at once.
        max_loans_per_member: u32 = "MAX_LOANS_PER_MEMBER", default 5, range 1..=1000;
        /// Open holds (waiting or ready) one member may have at once.
        max_holds_per_member: u32 = "MAX_HOLDS_PER_MEMBER", default 5, range 1..=1000;
        /// How long a ready hold waits on the hold shelf before it expires and the item goes to
        /// the next member.
        hold_pickup_window: Duration = "HOLD_PICKUP_WINDOW", default 7 * DAY;
        /// How often each server instance expires ready holds past their pickup time.
        hold_sweep_interval: Duration = "HOLD_SWEEP_INTERVAL", default MINUTE;
    }

    /// Log lines.
    pub struct Logging {
        /// `text` or `json`.
        format: LogFormat = "LOG_FORMAT", default LogFormat::Text;
        /// Which lines are written (`tracing`'s `EnvFilter` syntax), e.g. `tkc_library=debug,info`.
        filter: LogFilter = "RUST_LOG", default LogFilter::default();
    }
}

/// Every setting of the server, by group.
#[derive(Clone, Debug)]
pub struct Config {
    /// `APP_ENV`: `development` or `production`; other defaults follow it.
    pub app_env: AppEnv,
    pub database: Database,
    pub sessions: Sessions,
    pub http: Http,
    pub limits: GraphqlLimits,
    pub graphql: Graphql,
    pub live: Live,
    pub lending: Lending,
    pub logging: Logging,
}

impl Config {
    /// Every environment variable the server reads.
    pub const NAMES: &'static [&'static [&'static str]] = &[
        &["APP_ENV"],
        Database::NAMES,
        Sessions::NAMES,
        Http::NAMES,
        GraphqlLimits::NAMES,
        Graphql::NAMES,
        Live::NAMES,
        Lending::NAMES,
        Logging::NAMES,
    ];

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
    /// An empty or blank value counts as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StartupError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let app_env = match get("APP_ENV") {
            None => AppEnv::Development,
            Some(text) => AppEnv::parse(&text).map_err(|e| StartupError::new("APP_ENV", e))?,
        };
        let ctx = Context {
            production: app_env == AppEnv::Production,
            cpus: std::thread::available_parallelism().map_or(2, usize::from),
        };
        let config = Self {
            app_env,
            database: Database::read(&get, &ctx)?,
            sessions: Sessions::read(&get, &ctx)?,
            http: Http::read(&get, &ctx)?,
            limits: GraphqlLimits::read(&get, &ctx)?,
            graphql: Graphql::read(&get, &ctx)?,
            live: Live::read(&get, &ctx)?,
            lending: Lending::read(&get, &ctx)?,
            logging: Logging::read(&get, &ctx)?,
        };
        if config.graphql.trusted_documents_only && config.graphql.trusted_documents.is_none() {
            return Err(StartupError::new(
                "TRUSTED_DOCUMENTS_ONLY",
                TRUSTED_ONLY_NEEDS_A_MANIFEST,
            ));
        }
        if ctx.production {
            if config.database.seed_demo {
                return Err(StartupError::new(
                    "SEED_DEMO",
                    "demo data (with its well-known passwords) is never written in production",
                ));
            }
            if get("SECRET_KEY").is_none() {
                return Err(StartupError::new(
                    "SECRET_KEY",
                    "is required in production (generate one with: openssl rand -base64 64)",
                ));
            }
            if config.sessions.secret_key.is_published() {
                return Err(StartupError::new(
                    "SECRET_KEY",
                    "is a published example key; generate one with: openssl rand -base64 64",
                ));
            }
        }
        Ok(config)
    }

    /// PostgreSQL's `statement_timeout`: `DATABASE_STATEMENT_TIMEOUT`, else `REQUEST_TIMEOUT`.
    pub fn statement_timeout(&self) -> Duration {
        self.database
            .statement_timeout
            .unwrap_or(self.http.request_timeout)
    }
}

#[cfg(test)]
mod tests;
