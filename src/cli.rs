//! The command line. Every command reads its settings from the environment (see `.env.example`).

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::config::{AppEnv, Config};
use crate::error::StartupError;
use crate::startup::Application;
use crate::{db, domain, graphql, telemetry};

/// tkc-library: the GraphQL API of a small lending library.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default): migrates and, in development, seeds the demo data first.
    Serve,
    /// Apply or undo schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL): `tkc-library print-schema > schema.graphql`.
    PrintSchema,
    /// Write the demo data (skipping what exists); refused in production.
    SeedDemo,
}

#[derive(Subcommand, Debug, Clone, Copy)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Undo the last applied migration.
    Down,
    /// List the migrations and whether each is applied.
    Status,
    /// Drop every table, then apply every migration.
    Fresh,
}

/// Runs one command; an error is one line for the operator.
pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintSchema => {
            print!("{}", graphql::sdl(&graphql::build(None)));
            Ok(())
        }
        Command::Serve => {
            let config = Config::from_env()?;
            telemetry::init()?;
            let app = Application::build(&config).await?;
            tracing::info!(
                "serving http://{}:{}/ (GraphQL at /graphql), database {}",
                config.host,
                app.port(),
                config.database_url_redacted()
            );
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate { action } => {
            let config = Config::from_env()?;
            telemetry::init()?;
            migrate(&config, action).await?;
            Ok(())
        }
        Command::SeedDemo => {
            let config = Config::from_env()?;
            telemetry::init()?;
            if config.app_env == AppEnv::Production {
                return Err(StartupError::new(
                    "APP_ENV",
                    "seed-demo refuses to run in production: the demo accounts have well-known passwords",
                )
                .into());
            }
            let (db, _) = db::connect(&config).await?;
            if config.auto_migrate {
                Migrator::up(&db, None).await?;
            }
            let seeded = domain::demo::seed(&db)
                .await
                .map_err(|e| format!("{e:?}"))?;
            println!(
                "added {} users, {} items, {} posts (demo accounts: admin/admin, borrower/borrower)",
                seeded.users, seeded.items, seeded.posts
            );
            Ok(())
        }
    }
}

async fn migrate(config: &Config, action: MigrateAction) -> Result<(), Box<dyn std::error::Error>> {
    let (db, _) = db::connect(config).await?;
    match action {
        MigrateAction::Up => Migrator::up(&db, None).await?,
        MigrateAction::Down => Migrator::down(&db, Some(1)).await?,
        MigrateAction::Fresh => Migrator::fresh(&db).await?,
        MigrateAction::Status => {}
    }
    for m in Migrator::get_migration_with_status(&db).await? {
        println!("{:<8} {}", m.status().to_string(), m.name());
    }
    Ok(())
}
