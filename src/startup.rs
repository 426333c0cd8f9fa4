//! Building and running the server. Tests start it exactly as production does, on port 0.

use std::sync::Arc;

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::auth::AuthServices;
use crate::auth::password::Passwords;
use crate::auth::session::SessionCookies;
use crate::clock::Clock;
use crate::config::{Config, Lending};
use crate::db::{self, StatementMeter};
use crate::domain::events::Bus;
use crate::domain::{demo, lending, sessions, throttle};
use crate::error::StartupError;
use crate::graphql;
use crate::graphql::Admission;
use crate::graphql::persisted::Manifest;
use crate::http::{self, AppState};
use crate::live;

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    harness: Harness,
    clock: Clock,
    /// Where the hub hears of changes.
    source: Option<live::Source>,
    /// Where the background tasks announce what they change.
    bus: Bus,
    /// Tells WebSocket connections (and the background tasks) that the server stops.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// What only tests turn on: nothing in the environment does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Harness {
    /// Serve `/__test/panic` and `/__test/sleep/{ms}`, for tests of the panic and timeout layers.
    pub test_routes: bool,
    /// Keep the text of recent SQL statements for tests to inspect.
    pub record_statements: bool,
}

impl Application {
    /// Connects to the database, migrates and seeds as configured, and binds the listener.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        Self::build_with(config, Harness::default()).await
    }

    /// The same, with test-only switches.
    pub async fn build_with(config: &Config, harness: Harness) -> Result<Self, StartupError> {
        let manifest = trusted_documents(config)?;
        let (db, statements) = db::connect(config, harness.record_statements).await?;
        let passwords = Passwords::for_settings(&config.sessions)
            .await
            .map_err(|e| StartupError::new("PASSWORD_HASH_CONCURRENCY", format!("{e:?}")))?;

        if config.database.auto_migrate {
            let own = db::migration_connection(config).await?;
            Migrator::up(own.as_ref().unwrap_or(&db), None)
                .await
                .map_err(|e| StartupError::new("AUTO_MIGRATE", format!("migrating failed: {e}")))?;
            if let Some(own) = own {
                own.close().await.ok();
            }
        }
        if config.database.seed_demo {
            seed_if_empty(&db, &passwords, &config.lending).await?;
        }

        let address = format!("{}:{}", config.http.host, config.http.port);
        let listener = TcpListener::bind(&address).await.map_err(|e| {
            StartupError::new("HOST/PORT", format!("cannot listen on {address}: {e}"))
        })?;

        let auth = AuthServices {
            passwords,
            cookies: SessionCookies::new(&config.sessions),
            lifetimes: sessions::Lifetimes {
                absolute: config.sessions.ttl,
                idle: config.sessions.idle_ttl,
            },
            limits: throttle::Limits {
                per_account: config.sessions.login_max_failures_per_account,
                per_client: config.sessions.login_max_failures_per_client,
                registrations_per_client: config.sessions.register_max_per_client,
                window: config.sessions.login_failure_window,
            },
        };
        let clock = Clock::default();
        let bus = Bus::new(config.live.buffer);
        let hub = live::Hub::new(db.clone(), config.live.buffer);
        let source = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => live::Source::Postgres(Box::new(
                (*db.get_postgres_connection_pool().connect_options()).clone(),
            )),
            _ => live::Source::Local(bus.clone()),
        };
        let schema = graphql::build(
            graphql::Services {
                db: db.clone(),
                auth: auth.clone(),
                lending: config.lending.clone(),
                clock: clock.clone(),
                bus: bus.clone(),
                hub: hub.clone(),
            },
            graphql::Options::from_config(config),
        );
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        Ok(Self {
            listener,
            state: AppState {
                db,
                schema,
                auth,
                statements,
                config: Arc::new(config.clone()),
                admission: Arc::new(Admission::new(config, manifest)),
                graphql_requests: Arc::default(),
                live: http::ws::Live {
                    hub,
                    permits: Arc::new(tokio::sync::Semaphore::new(config.live.max_connections)),
                    stopping: stopping_rx,
                },
            },
            harness,
            clock,
            source: Some(source),
            bus,
            stopping,
        })
    }

    /// The port the server listens on (the real one when `PORT=0`).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The connection pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// The counter of executed SQL statements.
    pub fn statements(&self) -> Arc<StatementMeter> {
        Arc::clone(&self.state.statements)
    }

    /// The clock the lending rules go by (tests move it forward).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Where this server's changes are announced (for calling the domain's flows directly).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The authentication services (for calling the domain's account flows directly).
    pub fn auth(&self) -> &AuthServices {
        &self.state.auth
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting, lets in-flight requests finish (for
    /// up to `SHUTDOWN_TIMEOUT`) and closes the pool.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        if let Some(open_files) = http::serve::raise_open_files_limit() {
            let needed = self.state.config.http.max_connections as u64
                + self.state.config.live.max_connections as u64
                + u64::from(self.state.config.database.max_connections)
                + 64;
            if open_files < needed {
                tracing::warn!(
                    open_files,
                    "the open files limit is below HTTP_MAX_CONNECTIONS and WS_MAX_CONNECTIONS plus the pool; \
                     accept may fail before the connection limit is reached"
                );
            }
        }
        let router = http::router(self.state.clone(), self.harness.test_routes);
        let limits = http::serve::ConnectionLimits {
            header_read_timeout: self.state.config.http.header_read_timeout,
            max_connections: self.state.config.http.max_connections,
        };
        let mut stopped = self.stopping.subscribe();
        let sweeper = tokio::spawn(sweep_holds(
            self.state.db.clone(),
            self.bus.clone(),
            self.state.config.lending.clone(),
            self.clock.clone(),
            stopped.clone(),
        ));
        let listener = self.source.take().map(|source| {
            tokio::spawn(live::run(
                self.state.live.hub.clone(),
                source,
                stopped.clone(),
            ))
        });
        let stopping = self.stopping.clone();
        let server = http::serve::serve(self.listener, router, limits, async move {
            shutdown_signal().await;
            stopping.send_replace(true);
        });
        // Done when the HTTP connections are, and every WebSocket has been closed (1001): each
        // holds a permit until its task ends.
        let sockets = Arc::clone(&self.state.live.permits);
        let all = u32::try_from(self.state.config.live.max_connections).unwrap_or(u32::MAX);
        let server = async move {
            server.await;
            sockets.acquire_many(all).await.ok();
        };
        let grace = self.state.config.http.shutdown_timeout;
        let deadline = async move {
            if stopped.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {},
            () = deadline => tracing::warn!("requests still running after {grace:?}; stopping anyway"),
        }
        sweeper.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        self.state.db.close().await.ok();
        tracing::info!("stopped");
        Ok(())
    }
}

/// The manifest of `TRUSTED_DOCUMENTS` (empty when unset); a file that cannot be read, is not a
/// manifest, or has a key that is not its document's hash stops start-up, naming the file.
fn trusted_documents(config: &Config) -> Result<Manifest, StartupError> {
    let graphql = &config.graphql;
    let Some(path) = &graphql.trusted_documents else {
        if graphql.trusted_documents_only {
            return Err(StartupError::new(
                "TRUSTED_DOCUMENTS_ONLY",
                crate::config::TRUSTED_ONLY_NEEDS_A_MANIFEST,
            ));
        }
        return Ok(Manifest::default());
    };
    let manifest = Manifest::load(path)
        .map_err(|e| StartupError::new("TRUSTED_DOCUMENTS", format!("{}: {e}", path.display())))?;
    tracing::info!(
        documents = manifest.len(),
        only = graphql.trusted_documents_only,
        "loaded the trusted documents of {}",
        path.display()
    );
    Ok(manifest)
}

/// Every `HOLD_SWEEP_INTERVAL` until the server stops, expires the ready holds past their pickup
/// time and hands their items on (safe with any number of instances: see
/// [`lending::sweep_expired_holds`]). A failure is logged and tried again at the next tick.
async fn sweep_holds(
    db: DatabaseConnection,
    bus: Bus,
    rules: Lending,
    clock: Clock,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let every = rules.hold_sweep_interval;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        match lending::sweep_expired_holds(&db, &bus, &rules, clock.now()).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired ready holds not picked up"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired holds failed"),
        }
    }
}

async fn seed_if_empty(
    db: &DatabaseConnection,
    passwords: &Passwords,
    rules: &Lending,
) -> Result<(), StartupError> {
    let fail = |e: crate::error::AppError| StartupError::new("SEED_DEMO", format!("{e:?}"));
    if demo::has_users(db).await.map_err(fail)? {
        return Ok(());
    }
    let seeded = demo::seed(db, passwords, rules).await.map_err(fail)?;
    tracing::info!(
        users = seeded.users,
        items = seeded.items,
        posts = seeded.posts,
        loans = seeded.loans,
        holds = seeded.holds,
        "seeded the demo data; demo accounts: admin/admin and borrower/borrower"
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
