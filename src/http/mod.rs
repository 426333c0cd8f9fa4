//! The HTTP surface: the router, its layers and handlers.

mod graphql;
mod health;
mod identity;
mod playground;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower_cookies::CookieManagerLayer;

use crate::db::StatementMeter;
use crate::graphql::AppSchema;
use crate::graphql::context::AuthServices;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: AppSchema,
    pub auth: AuthServices,
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
        .layer(CookieManagerLayer::new())
        .with_state(state)
}
