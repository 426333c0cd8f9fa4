//! The command line. Every command reads its settings from the environment (see `.env.example`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tracing_appender::non_blocking::WorkerGuard;

use crate::auth::password::Passwords;
use crate::config::{AppEnv, Config};
use crate::domain::accounts;
use crate::entity::users::Role;
use crate::error::StartupError;
use crate::graphql::persisted::{self, Manifest};
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
    /// Expire the ready holds not picked up in time, handing their items on (each server does it
    /// every HOLD_SWEEP_INTERVAL; this does it once, now).
    SweepHolds,
    /// Create an account, e.g. the first admin. The password is read from a prompt, or from
    /// standard input with --password-stdin.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value_t = Role::Borrower)]
        role: Role,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Write the manifest of trusted documents (for TRUSTED_DOCUMENTS) from `.graphql` files, one
    /// document per file, kept as its exact text: a JSON object of SHA-256 → document.
    TrustedDocuments {
        /// The `.graphql` files, e.g. the app's operations.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write the manifest to this file instead of standard output.
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
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
            print!("{}", graphql::sdl(&graphql::printable()));
            Ok(())
        }
        Command::Serve => {
            let (config, _log) = start()?;
            let app = Application::build(&config).await?;
            tracing::info!(
                "serving http://{}:{}/ (GraphQL at /graphql), database {}",
                config.http.host,
                app.port(),
                config.database.url
            );
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate { action } => {
            let (config, _log) = start()?;
            migrate(&config, action).await?;
            Ok(())
        }
        Command::CreateUser {
            username,
            email,
            role,
            password_stdin,
        } => {
            let (config, _log) = start()?;
            create_user(&config, &username, &email, role, password_stdin).await
        }
        Command::TrustedDocuments { files, output } => trusted_documents(&files, output),
        Command::SweepHolds => {
            let (config, _log) = start()?;
            let db = connect(&config).await?;
            let now = crate::clock::Clock::default().now();
            let expired = domain::lending::sweep_expired_holds(
                &db,
                &domain::events::Bus::detached(),
                &config.lending,
                now,
            )
            .await?;
            println!("expired {expired} ready holds not picked up in time");
            Ok(())
        }
        Command::SeedDemo => {
            let (config, _log) = start()?;
            if config.app_env == AppEnv::Production {
                return Err(StartupError::new(
                    "APP_ENV",
                    "seed-demo refuses to run in production: the demo accounts have well-known passwords",
                )
                .into());
            }
            let passwords = Passwords::for_settings(&config.sessions).await?;
            let db = connect(&config).await?;
            let seeded = domain::demo::seed(&db, &passwords, &config.lending).await?;
            println!(
                "added {} users, {} items, {} posts, {} loans, {} holds (demo accounts: admin/admin, borrower/borrower)",
                seeded.users, seeded.items, seeded.posts, seeded.loans, seeded.holds
            );
            Ok(())
        }
    }
}

/// Reads each file as one document, refuses one that does not parse (naming the file), and writes
/// the manifest to `output` or standard output.
fn trusted_documents(
    files: &[PathBuf],
    output: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut documents = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("{}: cannot be read: {e}", file.display()))?;
        if let Some(failure) = persisted::parse_failure(&text) {
            return Err(format!("{}: is not a GraphQL document: {failure}", file.display()).into());
        }
        documents.push(text);
    }
    let manifest = Manifest::from_documents(documents);
    match output {
        None => print!("{}", manifest.to_json()),
        Some(path) => {
            std::fs::write(&path, manifest.to_json())
                .map_err(|e| format!("{}: cannot be written: {e}", path.display()))?;
            eprintln!(
                "wrote {} trusted documents to {}",
                manifest.len(),
                path.display()
            );
        }
    }
    Ok(())
}

/// The first steps of every command that touches the database: read the settings, start logging
/// (keep the guard until the command ends).
fn start() -> Result<(Config, WorkerGuard), StartupError> {
    let config = Config::from_env()?;
    let log = telemetry::init(&config.logging)?;
    Ok((config, log))
}

/// The pool, migrated first when `AUTO_MIGRATE` says so.
async fn connect(config: &Config) -> Result<DatabaseConnection, Box<dyn std::error::Error>> {
    let (db, _) = db::connect(config, false).await?;
    if config.database.auto_migrate {
        let own = db::migration_connection(config).await?;
        Migrator::up(own.as_ref().unwrap_or(&db), None).await?;
    }
    Ok(db)
}

async fn create_user(
    config: &Config,
    username: &str,
    email: &str,
    role: Role,
    password_stdin: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password(format!("Password for {}: ", username.trim()))?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        first
    };
    // The same rules as `register`, checked before touching the database.
    let passwords = Passwords::for_settings(&config.sessions).await?;
    let account = accounts::NewAccount::prepare(&passwords, username, email, password, role)
        .await
        .map_err(explain)?;

    let db = connect(config).await?;
    let txn = domain::begin_write(&db).await?;
    let user = accounts::create(&txn, account).await.map_err(explain)?;
    txn.commit().await?;
    println!(
        "created user {} (id {}, role {})",
        user.username,
        user.id,
        match user.role {
            Role::Borrower => "borrower",
            Role::Admin => "admin",
        }
    );
    Ok(())
}

/// An application error as one line for the operator: the field it is about, and for an internal
/// error its cause (the operator is not a remote client).
fn explain(e: crate::error::AppError) -> String {
    match (&e, e.field()) {
        (crate::error::AppError::Internal(inner), _) => inner.to_string(),
        (_, Some(field)) => format!("{field}: {e}"),
        (_, None) => e.to_string(),
    }
}

async fn migrate(config: &Config, action: MigrateAction) -> Result<(), Box<dyn std::error::Error>> {
    // One connection (see `migration_connection`): `fresh` turns SQLite's foreign keys off with a
    // PRAGMA, which holds for its own connection only; from a pool, a later DROP could run on
    // another connection with them on, and fail on a table already dropped.
    let db = match db::migration_connection(config).await? {
        Some(own) => own,
        None => db::connect(config, false).await?.0,
    };
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
