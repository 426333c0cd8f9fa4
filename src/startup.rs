//! Building and running the server. Tests start it exactly as production does, on port 0.

use std::sync::Arc;

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::auth::AuthServices;
use crate::auth::password::Passwords;
use crate::auth::session::SessionCookies;
use crate::config::Config;
use crate::db::{self, StatementMeter};
use crate::domain::{demo, sessions, throttle};
use crate::error::StartupError;
use crate::graphql;
use crate::graphql::documents::DocumentCache;
use crate::http::{self, AppState};

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    config: Config,
}

impl Application {
    /// Connects to the database, migrates and seeds as configured, and binds the listener.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let (db, statements) = db::connect(config).await?;
        let passwords =
            Passwords::new(config.password_hash_concurrency, config.password_hash_queue)
                .await
                .map_err(|e| StartupError::new("PASSWORD_HASH_CONCURRENCY", format!("{e:?}")))?;

        if config.auto_migrate {
            Migrator::up(&db, None)
                .await
                .map_err(|e| StartupError::new("AUTO_MIGRATE", format!("migrating failed: {e}")))?;
        }
        if config.seed_demo {
            seed_if_empty(&db, &passwords).await?;
        }

        let address = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&address).await.map_err(|e| {
            StartupError::new("HOST/PORT", format!("cannot listen on {address}: {e}"))
        })?;

        let auth = AuthServices {
            passwords,
            cookies: SessionCookies::new(config),
            lifetimes: sessions::Lifetimes {
                absolute: config.session_ttl,
                idle: config.session_idle_ttl,
            },
            limits: throttle::Limits {
                per_account: config.login_max_failures_per_account,
                per_client: config.login_max_failures_per_client,
                registrations_per_client: config.register_max_per_client,
                window: config.login_failure_window,
            },
        };
        let schema = graphql::build(
            graphql::Services {
                db: db.clone(),
                auth: auth.clone(),
            },
            graphql::Options::from_config(config),
        );
        Ok(Self {
            listener,
            state: AppState {
                db,
                schema,
                auth,
                statements,
                app_env: config.app_env,
                limits: config.limits,
                documents: Arc::new(DocumentCache::new(config.graphql_document_cache)),
                graphql_requests: Arc::default(),
                trusted_proxies: config.trusted_proxies.clone().into(),
            },
            config: config.clone(),
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

    /// The authentication services (for calling the domain's account flows directly).
    pub fn auth(&self) -> &AuthServices {
        &self.state.auth
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting, lets in-flight requests finish (for
    /// up to `SHUTDOWN_TIMEOUT`) and closes the pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if let Some(open_files) = http::serve::raise_open_files_limit() {
            let needed = self.config.http_max_connections as u64
                + u64::from(self.config.database_max_connections)
                + 64;
            if open_files < needed {
                tracing::warn!(
                    open_files,
                    "the open files limit is below HTTP_MAX_CONNECTIONS plus the pool; \
                     accept may fail before the connection limit is reached"
                );
            }
        }
        let router = http::router(self.state.clone(), &self.config);
        let limits = http::serve::ConnectionLimits {
            header_read_timeout: self.config.http_header_read_timeout,
            max_connections: self.config.http_max_connections,
        };
        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let server = http::serve::serve(self.listener, router, limits, async move {
            shutdown_signal().await;
            stopping.send_replace(true);
        });
        let grace = self.config.shutdown_timeout;
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
        self.state.db.close().await.ok();
        tracing::info!("stopped");
        Ok(())
    }
}

async fn seed_if_empty(db: &DatabaseConnection, passwords: &Passwords) -> Result<(), StartupError> {
    let fail = |e: crate::error::AppError| StartupError::new("SEED_DEMO", format!("{e:?}"));
    if demo::has_users(db).await.map_err(fail)? {
        return Ok(());
    }
    let seeded = demo::seed(db, passwords).await.map_err(fail)?;
    tracing::info!(
        users = seeded.users,
        items = seeded.items,
        posts = seeded.posts,
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
