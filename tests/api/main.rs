//! The integration suite: one binary, every test against the real HTTP router and a real, fresh
//! database (SQLite by default; PostgreSQL when `TEST_DATABASE_URL` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admission;
mod admission_auth;
mod auth;
mod batching;
mod cli;
mod connections;
mod cors;
mod errors;
mod execution;
mod flows;
mod hardening;
mod health;
mod helpers;
mod http;
mod lending;
mod lending_concurrency;
mod limits;
mod live;
mod migrations;
mod mutations;
mod ordering;
mod outage;
mod over_http;
mod pagination;
mod persisted;
mod playground;
mod process;
mod production;
mod queries;
mod roles;
mod schema;
mod strings;
mod throttle;
