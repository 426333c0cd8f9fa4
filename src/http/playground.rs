//! The playground page, embedded in the binary so that it needs nothing from the network.

use axum::http::header;
use axum::response::{Html, IntoResponse};

pub async fn page() -> Html<&'static str> {
    Html(include_str!("../../playground/index.html"))
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../playground/playground.js"),
    )
}
