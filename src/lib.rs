//! tkc-library: the GraphQL API of a small lending library. Start reading here; each module says
//! what it is for.

/// Identity: password hashing, session tokens and cookies, who is asking (`Identity`, `Viewer`)
/// and the authentication services.
pub mod auth;
/// The command line: `serve`, `migrate`, `print-schema`, `seed-demo`, `trusted-documents`, …
pub mod cli;
/// The time the server goes by (tests move it forward).
pub mod clock;
/// Typed settings from the environment and `.env`: each declared once, in its group (database,
/// sessions, HTTP, GraphQL limits, GraphQL, lending, logging).
pub mod config;
/// The connection pool and the statement counter.
pub mod db;
/// Business rules as plain functions over a database connection (lending: loans and holds).
pub mod domain;
/// SeaORM entities: the rows of each table.
pub mod entity;
/// The one error type, every `extensions.code` (`Code`) and lending refusal (`Reason`), and
/// start-up errors.
pub mod error;
/// The GraphQL schema: admission (cost limits), resolvers, role guards, batch loaders, and the
/// mapping of errors to their codes.
pub mod graphql;
/// The HTTP router and handlers.
pub mod http;
/// Live updates for subscriptions: hearing every committed change, and loading it once.
pub mod live;
/// Building and running the server.
pub mod startup;
/// Logging.
pub mod telemetry;
