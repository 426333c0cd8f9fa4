//! The HTTP surface: the router, its layers and handlers.

mod graphql;
mod health;
mod identity;
mod playground;
mod response;
/// The accept loop: a header-read timeout and a cap on open connections.
pub mod serve;
mod tracing_layer;
/// `/graphql` over WebSocket: subscriptions.
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower_cookies::CookieManagerLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::AuthServices;
use crate::config::{Config, Origin};
use crate::db::StatementMeter;
use crate::error::Code;
use crate::graphql::{Admission, AppSchema};

/// The largest request body accepted (413 beyond, declared or chunked, before it is parsed).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: AppSchema,
    pub auth: AuthServices,
    pub statements: Arc<StatementMeter>,
    /// Every setting.
    pub config: Arc<Config>,
    /// What every operation passes first: persisted and trusted documents, parsed documents by
    /// their text, the cost limits.
    pub admission: Arc<Admission>,
    /// GraphQL requests answered (each operation of a batch counts).
    pub graphql_requests: Arc<std::sync::atomic::AtomicU64>,
    /// What WebSocket connections share.
    pub live: ws::Live,
}

/// Every route of the server, with its layers (and the test-only routes when asked).
pub fn router(state: AppState, test_routes: bool) -> Router {
    let config = Arc::clone(&state.config);
    let mut router = Router::new()
        .route(
            "/graphql",
            get(graphql::get_handler)
                .post(graphql::post_handler)
                .fallback(response::method_not_allowed),
        )
        .route("/health", get(health::ready))
        .route("/live", get(health::live));
    // Trusted-only mode runs nothing but the manifest's documents: no playground to type others.
    if config.http.playground && !config.graphql.trusted_documents_only {
        router = router
            .route("/", get(playground::page))
            .route("/playground", get(playground::page))
            .route("/playground/operations.json", get(playground::operations))
            .route("/playground/{*path}", get(playground::asset));
    }
    if config.http.metrics {
        router = router.route("/metrics", get(health::metrics));
    }
    if test_routes {
        router = router
            .route("/__test/panic", get(test_panic))
            .route("/__test/sleep/{ms}", get(test_sleep));
    }
    let mut router = router
        .layer(CookieManagerLayer::new())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    if let Some(cors) = cors(&config.http.cors_allowed_origins) {
        router = router
            .layer(cors)
            .layer(axum::middleware::map_response(only_for_allowed_origins));
    }
    router
        // Every response: no MIME sniffing, and no URL leaked to other sites.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            config.http.request_timeout,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(tracing_layer::trace))
        .with_state(state)
}

/// A request still running after `REQUEST_TIMEOUT` is dropped and answered 503, as a GraphQL error.
async fn timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?limit, "request timed out");
            response::refusal(
                Code::ServiceUnavailable,
                response::MediaType::Json,
                &format!("the request took longer than {limit:?} (REQUEST_TIMEOUT)"),
            )
        }
    }
}

/// Cross-origin access with credentials for exactly the configured origins; none configured means
/// no CORS headers at all (browsers then refuse other origins).
fn cors(origins: &[Origin]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.as_str()).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(600)),
    )
}

/// tower-http's CORS layer sends `Access-Control-Allow-Credentials` even to origins it does not
/// allow; an origin that is not allowed gets no CORS headers at all.
async fn only_for_allowed_origins(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
        headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
        headers.remove(header::ACCESS_CONTROL_ALLOW_METHODS);
        headers.remove(header::ACCESS_CONTROL_ALLOW_HEADERS);
        headers.remove(header::ACCESS_CONTROL_MAX_AGE);
    }
    response
}

/// A handler panicked: log it (the tracing span carries the request id) and answer a generic 500;
/// the process keeps serving.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = detail, "a handler panicked");
    let code = Code::InternalServerError;
    (
        code.status(),
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        code.body("internal server error"),
    )
        .into_response()
}

/// Test-only (see `Harness::test_routes`): a handler that panics.
async fn test_panic() -> &'static str {
    panic!("a test asked for a panic")
}

/// Test-only: a handler that takes `ms` milliseconds.
async fn test_sleep(axum::extract::Path(ms): axum::extract::Path<u64>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slept"
}
