//! The HTTP surface: the router and its handlers.

mod graphql;
mod health;
mod playground;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use sea_orm::DatabaseConnection;

use crate::db::StatementMeter;
use crate::graphql::AppSchema;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: AppSchema,
    pub statements: Arc<StatementMeter>,
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_handler).post(graphql::post_handler),
        )
        .route("/health", get(health::handler))
        .route("/", get(playground::page))
        .route("/playground", get(playground::page))
        .route("/playground/playground.js", get(playground::script))
        .with_state(state)
}
