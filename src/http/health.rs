//! `GET /live`: the process serves (no database involved). `GET /health`: ready, i.e. the
//! database answers a real round-trip. `GET /metrics`: counters for benchmarks and monitoring.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use crate::auth::password::PasswordStats;

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "database": "ok" })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}

/// `GET /metrics`, in Prometheus' text format: the SQL statements run and the GraphQL requests
/// answered since start-up (their ratio is the statements per request the benchmark prints).
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let passwords = state.auth.passwords.stats();
    let body = format!(
        "# HELP tkc_sql_statements_total SQL statements executed.\n\
         # TYPE tkc_sql_statements_total counter\n\
         tkc_sql_statements_total {}\n\
         # HELP tkc_graphql_requests_total GraphQL requests answered.\n\
         # TYPE tkc_graphql_requests_total counter\n\
         tkc_graphql_requests_total {}\n\
         # HELP tkc_password_verifications_total Passwords verified, against an account's hash or the dummy one.\n\
         # TYPE tkc_password_verifications_total counter\n\
         tkc_password_verifications_total{{against=\"account\"}} {}\n\
         tkc_password_verifications_total{{against=\"dummy\"}} {}\n\
         # HELP tkc_password_hashes_total New password hashes computed.\n\
         # TYPE tkc_password_hashes_total counter\n\
         tkc_password_hashes_total {}\n\
         # HELP tkc_password_queue_refusals_total Requests refused because the password hash queue was full.\n\
         # TYPE tkc_password_queue_refusals_total counter\n\
         tkc_password_queue_refusals_total {}\n",
        state.statements.count(),
        state
            .graphql_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        PasswordStats::get(&passwords.verified_account),
        PasswordStats::get(&passwords.verified_dummy),
        PasswordStats::get(&passwords.hashed),
        PasswordStats::get(&passwords.refused),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
