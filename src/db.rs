//! The connection pool: one place decides how SQLite and PostgreSQL are connected to, and every
//! statement is counted (the N+1 tests and the benchmarks read the count).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::Config;
use crate::error::StartupError;

/// How many statement texts are kept when recording is on.
const RECORDED_STATEMENTS: usize = 256;

/// Counts the SQL statements the server executes (and, for tests, keeps their text).
#[derive(Debug, Default)]
pub struct StatementMeter {
    count: AtomicU64,
    recent: Option<Mutex<VecDeque<String>>>,
}

impl StatementMeter {
    fn new(record: bool) -> Self {
        Self {
            count: AtomicU64::new(0),
            recent: record.then(|| Mutex::new(VecDeque::with_capacity(RECORDED_STATEMENTS))),
        }
    }

    /// Statements executed since start-up.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The most recent statements, oldest first (empty unless recording was asked for).
    pub fn recent(&self) -> Vec<String> {
        match &self.recent {
            Some(m) => m
                .lock()
                .map(|q| q.iter().cloned().collect())
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    fn record(&self, sql: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(Ok(mut q)) = self.recent.as_ref().map(Mutex::lock) {
            if q.len() == RECORDED_STATEMENTS {
                q.pop_front();
            }
            q.push_back(sql.to_owned());
        }
    }
}

/// The connection to migrate on: one connection (so that a session setting, such as the `PRAGMA
/// foreign_keys` that `fresh` sets on SQLite, holds for every statement) with no statement
/// timeout (an index on a large table takes as long as it takes: the request timeout is for
/// requests). `None` for an in-memory SQLite database, which exists only in the pool's own
/// connections: migrate it through the pool.
pub async fn migration_connection(
    config: &Config,
) -> Result<Option<DatabaseConnection>, StartupError> {
    if config.database.url.is_sqlite() && config.database.url.expose().contains("memory") {
        return Ok(None);
    }
    let mut own = config.clone();
    own.database.max_connections = 1;
    own.database.statement_timeout = Some(Duration::ZERO);
    Ok(Some(connect(&own, false).await?.0))
}

/// Opens the pool described by `config`, checking that the database answers.
pub async fn connect(
    config: &Config,
    record_statements: bool,
) -> Result<(DatabaseConnection, Arc<StatementMeter>), StartupError> {
    let mut options = ConnectOptions::new(config.database.url.expose());
    options
        .max_connections(config.database.max_connections)
        .min_connections(if config.database.url.is_sqlite() {
            1
        } else {
            0
        })
        .acquire_timeout(config.database.acquire_timeout)
        .connect_timeout(config.database.acquire_timeout)
        .idle_timeout(Duration::from_secs(600))
        // PostgreSQL aborts any statement running longer (no effect on SQLite).
        .statement_timeout(config.statement_timeout())
        // Statements are counted below; sqlx's own per-statement log lines are noise.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .foreign_keys(true)
                // Readers never block the writer, and a writer waits for the lock instead of
                // failing with "database is locked".
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
        });

    let mut db = Database::connect(options).await.map_err(|e| {
        StartupError::new(
            "DATABASE_URL",
            format!("cannot connect to {}: {e}", config.database.url),
        )
    })?;
    // SQLite opens lazily: make sure the file can really be created and read now.
    db.ping().await.map_err(|e| {
        StartupError::new(
            "DATABASE_URL",
            format!("cannot use {}: {e}", config.database.url),
        )
    })?;

    let meter = Arc::new(StatementMeter::new(record_statements));
    let m = Arc::clone(&meter);
    db.set_metric_callback(move |info| m.record(&info.statement.sql));
    Ok((db, meter))
}
