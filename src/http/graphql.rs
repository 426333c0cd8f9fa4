//! `/graphql`: POST with a JSON body, or GET with the query in the URL (queries only: a GET must
//! not change anything). Each request gets its own batch loaders.

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, Variables};
use async_graphql_axum::GraphQLResponse;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::identity::RequestIdentity;
use crate::graphql::loaders::Loaders;

/// Attaches what a request's resolvers need: its loaders and who is asking.
fn prepare<R: WithData>(request: R, state: &AppState, who: RequestIdentity) -> R {
    request
        .with(Loaders::new(state.db.clone()))
        .with(who.identity)
        .with(who.cookies)
        .with(who.client_ip)
}

/// `data` on a single request or a batch alike.
trait WithData: Sized {
    fn with<D: std::any::Any + Clone + Send + Sync>(self, data: D) -> Self;
}

impl WithData for async_graphql::Request {
    fn with<D: std::any::Any + Clone + Send + Sync>(self, data: D) -> Self {
        self.data(data)
    }
}

impl WithData for BatchRequest {
    fn with<D: std::any::Any + Clone + Send + Sync>(self, data: D) -> Self {
        self.data(data)
    }
}

/// POST: a JSON body (`Content-Type: application/json`, else 415), one operation or a batch.
pub async fn post_handler(
    State(state): State<AppState>,
    who: RequestIdentity,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return (rejection.status(), rejection.body_text()).into_response(),
    };
    let request = prepare(request, &state, who);
    GraphQLResponse::from(state.schema.execute_batch(request).await).into_response()
}

/// The parameters of a GraphQL GET, named as the GraphQL-over-HTTP specification names them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// GET: `?query=…&operationName=…&variables=<JSON>`; a mutation is refused with 405.
pub async fn get_handler(
    State(state): State<AppState>,
    who: RequestIdentity,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return (StatusCode::BAD_REQUEST, "malformed query string").into_response();
    };
    let Some(query) = params.query.filter(|q| !q.trim().is_empty()) else {
        return (StatusCode::BAD_REQUEST, "the `query` parameter is missing").into_response();
    };
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        None => {}
        Some(Ok(value)) => request = request.variables(Variables::from_json(value)),
        Some(Err(_)) => {
            return (StatusCode::BAD_REQUEST, "`variables` is not valid JSON").into_response();
        }
    }
    match params.extensions.as_deref().map(serde_json::from_str) {
        None => {}
        Some(Ok(extensions)) => request.extensions = extensions,
        Some(Err(_)) => {
            return (StatusCode::BAD_REQUEST, "`extensions` is not valid JSON").into_response();
        }
    }
    if is_mutation(&request) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("POST"))],
            "mutations must be sent with POST",
        )
            .into_response();
    }
    let request = prepare(request, &state, who);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
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
