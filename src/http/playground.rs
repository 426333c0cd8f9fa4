//! The playground: a GraphiQL page built from `playground/` (see its README), embedded in the
//! release binary so that it needs nothing from the network, and the example operations it opens
//! as tabs. Debug builds read the files from disk, so a rebuilt page shows without recompiling.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use serde::Serialize;

use super::AppState;
use crate::config::AppEnv;

#[derive(RustEmbed)]
#[folder = "playground/dist/"]
struct Assets;

/// What the page may load and run: only its own files, and requests to this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /` and `GET /playground`.
pub async fn page() -> Response {
    serve("index.html", true)
}

/// `GET /playground/{*path}`: the page's assets.
pub async fn asset(Path(path): Path<String>) -> Response {
    serve(&path, path.ends_with(".html"))
}

fn serve(path: &str, is_page: bool) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = file.metadata.mimetype();
    let mut response = (
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        file.data,
    )
        .into_response();
    if is_page {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        response
            .headers_mut()
            .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// One ready-made tab of the playground.
#[derive(Serialize)]
pub struct Operation {
    /// The tab's title.
    name: &'static str,
    /// The GraphQL document.
    query: &'static str,
    /// The variables, as JSON text.
    variables: Option<&'static str>,
}

/// `(name, document, variables, development only)` of every file in `playground/operations/`.
/// A test checks that every file there is listed, and that each document validates against
/// `schema.graphql`.
pub const OPERATIONS: &[(&str, &str, Option<&str>, bool)] = &[
    (
        "Catalogue",
        include_str!("../../playground/operations/catalogue.graphql"),
        Some(include_str!("../../playground/operations/catalogue.json")),
        false,
    ),
    (
        "Catalogue from Z (backwards)",
        include_str!("../../playground/operations/catalogue-from-z.graphql"),
        Some(include_str!(
            "../../playground/operations/catalogue-from-z.json"
        )),
        false,
    ),
    (
        "Latest posts",
        include_str!("../../playground/operations/latest-posts.graphql"),
        Some(include_str!(
            "../../playground/operations/latest-posts.json"
        )),
        false,
    ),
    (
        "A user and their posts",
        include_str!("../../playground/operations/user-with-posts.graphql"),
        Some(include_str!(
            "../../playground/operations/user-with-posts.json"
        )),
        false,
    ),
    (
        "Log in (demo accounts)",
        include_str!("../../playground/operations/login.graphql"),
        Some(include_str!("../../playground/operations/login.json")),
        true,
    ),
    (
        "Who am I",
        include_str!("../../playground/operations/me.graphql"),
        None,
        false,
    ),
    (
        "Admin: create an item",
        include_str!("../../playground/operations/create-item.graphql"),
        Some(include_str!("../../playground/operations/create-item.json")),
        false,
    ),
    (
        "My loans and holds",
        include_str!("../../playground/operations/my-lending.graphql"),
        None,
        false,
    ),
    (
        "Place a hold",
        include_str!("../../playground/operations/place-hold.graphql"),
        Some(include_str!("../../playground/operations/place-hold.json")),
        false,
    ),
    (
        "Admin: check out",
        include_str!("../../playground/operations/check-out.graphql"),
        Some(include_str!("../../playground/operations/check-out.json")),
        false,
    ),
    (
        "Admin: return",
        include_str!("../../playground/operations/return-item.graphql"),
        Some(include_str!("../../playground/operations/return-item.json")),
        false,
    ),
    (
        "Admin: overdue loans",
        include_str!("../../playground/operations/overdue-loans.graphql"),
        Some(include_str!(
            "../../playground/operations/overdue-loans.json"
        )),
        false,
    ),
    (
        "Watch items (subscription)",
        include_str!("../../playground/operations/watch-items.graphql"),
        Some(include_str!("../../playground/operations/watch-items.json")),
        false,
    ),
    (
        "Log out",
        include_str!("../../playground/operations/logout.graphql"),
        None,
        false,
    ),
];

/// `GET /playground/operations.json`: the tabs to open (the demo login in development only).
pub async fn operations(State(state): State<AppState>) -> Json<Vec<Operation>> {
    let development = state.config.app_env == AppEnv::Development;
    Json(
        OPERATIONS
            .iter()
            .filter(|(_, _, _, dev_only)| development || !dev_only)
            .map(|&(name, query, variables, _)| Operation {
                name,
                query,
                variables,
            })
            .collect(),
    )
}
