//! `/graphql`: POST with a JSON body, or GET with the query in the URL (queries only: a GET must
//! not change anything). Each request gets its own batch loaders.

use async_graphql::parser::types::OperationType;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::graphql::loaders::Loaders;

pub async fn post_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLBatchRequest,
) -> Response {
    if !is_json(&headers) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /graphql takes a body of Content-Type: application/json",
        )
            .into_response();
    }
    let request = request.into_inner().data(Loaders::new(state.db.clone()));
    GraphQLResponse::from(state.schema.execute_batch(request).await).into_response()
}

pub async fn get_handler(State(state): State<AppState>, request: GraphQLRequest) -> Response {
    let request = request.into_inner();
    if is_mutation(&request) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("POST"))],
            "mutations must be sent with POST",
        )
            .into_response();
    }
    let request = request.data(Loaders::new(state.db.clone()));
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether the operation the request would run is a mutation. A document that does not parse is
/// left to the executor, which answers it with a parse error.
fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let operation = match &request.operation_name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => doc.operations.iter().next().map(|(_, op)| op),
    };
    operation.is_some_and(|op| op.node.ty == OperationType::Mutation)
}
