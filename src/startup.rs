//! Building and running the server. Tests start it exactly as production does, on port 0.

use std::sync::Arc;

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::db::{self, StatementMeter};
use crate::domain::demo;
use crate::error::StartupError;
use crate::graphql;
use crate::http::{self, AppState};

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects to the database, migrates and seeds as configured, and binds the listener.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let (db, statements) = db::connect(config).await?;

        if config.auto_migrate {
            Migrator::up(&db, None)
                .await
                .map_err(|e| StartupError::new("AUTO_MIGRATE", format!("migrating failed: {e}")))?;
        }
        if config.seed_demo {
            seed_if_empty(&db).await?;
        }

        let address = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&address).await.map_err(|e| {
            StartupError::new("HOST/PORT", format!("cannot listen on {address}: {e}"))
        })?;

        let schema = graphql::build(Some(db.clone()));
        Ok(Self {
            listener,
            state: AppState {
                db,
                schema,
                statements,
            },
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

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let router = http::router(self.state.clone());
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        self.state.db.close().await.ok();
        Ok(())
    }
}

async fn seed_if_empty(db: &DatabaseConnection) -> Result<(), StartupError> {
    let fail = |e: crate::error::AppError| StartupError::new("SEED_DEMO", format!("{e:?}"));
    if demo::has_users(db).await.map_err(fail)? {
        return Ok(());
    }
    let seeded = demo::seed(db).await.map_err(fail)?;
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
