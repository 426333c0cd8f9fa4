//! `/graphql`, spoken as the GraphQL-over-HTTP specification says: POST with a JSON body (a batch
//! is a JSON array), or GET with the query in the URL (queries only: a GET must not change
//! anything). The response is `application/graphql-response+json` when the client accepts it,
//! `application/json` otherwise; a request error (a body that is not a GraphQL request, a document
//! that does not parse or validate, a limit exceeded) has no `data` and, in the new media type, the
//! status 400. Each request gets its own batch loaders and identity.

use std::collections::HashMap;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Variables};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::identity::RequestIdentity;
use crate::graphql::REQUEST_ERROR_CODES;
use crate::graphql::loaders::Loaders;

/// The media types a GraphQL response can be sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MediaType {
    /// `application/graphql-response+json`: request errors get HTTP 400.
    GraphqlResponse,
    /// `application/json`, for legacy clients: always HTTP 200 once the request is well-formed.
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept` (no header: `application/json`); `None` when the
/// client accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let mime = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match mime.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        // The new media type wins ties: it tells request errors apart by status.
        let better = match best {
            None => true,
            Some((bq, bm)) => {
                q > bq || (q == bq && media == MediaType::GraphqlResponse && bm != media)
            }
        };
        if q > 0.0 && better {
            best = Some((q, media));
        }
    }
    best.map(|(_, media)| media)
}

/// One GraphQL request as a JSON body carries it; `null` means absent, unknown keys are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    extensions: Option<HashMap<String, serde_json::Value>>,
}

/// A POST body: one request or a batch of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum PostBody {
    Single(PostParams),
    Batch(Vec<PostParams>),
}

/// The parameters of a GraphQL GET (`variables` and `extensions` are JSON text).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// A response for a request that is not a GraphQL request at all.
fn bad_request(media: MediaType, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }]
    });
    (
        StatusCode::BAD_REQUEST,
        [
            (header::CONTENT_TYPE, media.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        "accept application/graphql-response+json or application/json",
    )
        .into_response()
}

/// Builds the executable request from its parts; `Err` is the message of a 400.
fn request(
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<HashMap<String, serde_json::Value>>,
) -> Result<async_graphql::Request, &'static str> {
    let query = query
        .filter(|q| !q.trim().is_empty())
        .ok_or("the `query` parameter is missing")?;
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = variables {
        request = request.variables(Variables::from_json(variables));
    }
    for (key, value) in extensions.unwrap_or_default() {
        let value = async_graphql::Value::from_json(value)
            .map_err(|_| "`extensions` is not a JSON object")?;
        request.extensions.insert(key, value);
    }
    Ok(request)
}

/// Whether `Content-Type` is JSON in UTF-8 (the only encoding GraphQL over HTTP allows).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';').map(str::trim);
    let json = parts
        .next()
        .is_some_and(|mime| mime.eq_ignore_ascii_case("application/json"));
    json && parts.all(|p| match p.split_once('=') {
        Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => charset
            .trim()
            .trim_matches('"')
            .eq_ignore_ascii_case("utf-8"),
        _ => true,
    })
}

/// POST: a JSON body (`Content-Type: application/json`, else 415 before anything runs).
pub async fn post_handler(
    State(state): State<AppState>,
    who: RequestIdentity,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_json(&headers) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /graphql takes a body of Content-Type: application/json (UTF-8)",
        )
            .into_response();
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let body: PostBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return bad_request(media, "the body is not valid JSON");
        }
        Err(_) => {
            return bad_request(
                media,
                "the body is not a GraphQL request: a string `query`, and optionally a string `operationName` and objects `variables` and `extensions`",
            );
        }
    };
    let into_request = |p: PostParams| {
        request(
            p.query,
            p.operation_name,
            p.variables.map(serde_json::Value::Object),
            p.extensions,
        )
    };
    let batch = match body {
        PostBody::Single(params) => match into_request(params) {
            Ok(r) => BatchRequest::Single(r),
            Err(message) => return bad_request(media, message),
        },
        PostBody::Batch(list) => {
            let max = state.limits.batch;
            if list.is_empty() || list.len() > max {
                return bad_request(media, &format!("a batch holds 1 to {max} operations"));
            }
            match list
                .into_iter()
                .map(into_request)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(requests) => BatchRequest::Batch(requests),
                Err(message) => return bad_request(media, message),
            }
        }
    };
    let batch = attach(batch, &state, who);
    respond(media, state.schema.execute_batch(batch).await)
}

/// GET: `?query=…&operationName=…&variables=<JSON>`; a mutation is refused with 405.
pub async fn get_handler(
    State(state): State<AppState>,
    who: RequestIdentity,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let Ok(Query(params)) = params else {
        return bad_request(media, "the query string is malformed");
    };
    let variables = match params.variables.as_deref().map(serde_json::from_str) {
        None => None,
        Some(Ok(serde_json::Value::Null)) => None,
        Some(Ok(value @ serde_json::Value::Object(_))) => Some(value),
        Some(_) => return bad_request(media, "`variables` is not a JSON object"),
    };
    let extensions = match params.extensions.as_deref().map(serde_json::from_str) {
        None => None,
        Some(Ok(extensions)) => Some(extensions),
        Some(Err(_)) => return bad_request(media, "`extensions` is not a JSON object"),
    };
    let request = match request(params.query, params.operation_name, variables, extensions) {
        Ok(request) => request,
        Err(message) => return bad_request(media, message),
    };
    if is_mutation(&request) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("POST"))],
            "mutations must be sent with POST",
        )
            .into_response();
    }
    let batch = attach(BatchRequest::Single(request), &state, who);
    respond(media, state.schema.execute_batch(batch).await)
}

/// Attaches what a request's resolvers need: its loaders and who is asking; names the operations
/// in the request's log span.
fn attach(batch: BatchRequest, state: &AppState, who: RequestIdentity) -> BatchRequest {
    let names: Vec<&str> = batch
        .iter()
        .map(|r| r.operation_name.as_deref().unwrap_or("-"))
        .collect();
    tracing::Span::current().record("operation", names.join(",").as_str());
    state
        .graphql_requests
        .fetch_add(names.len() as u64, std::sync::atomic::Ordering::Relaxed);
    batch
        .data(Loaders::new(state.db.clone()))
        .data(who.identity)
        .data(who.cookies)
        .data(who.client_ip)
}

/// Serializes the response, keeping fields in the order the query asked for them: a request
/// error loses its `data` entry and, in the new media type, gets HTTP 400. GraphQL responses are
/// never cached.
fn respond(media: MediaType, response: BatchResponse) -> Response {
    let (body, request_error) = match response {
        BatchResponse::Single(r) => serialize(r),
        BatchResponse::Batch(list) => {
            let parts: Vec<String> = list.into_iter().map(|r| serialize(r).0).collect();
            (format!("[{}]", parts.join(",")), false)
        }
    };
    let status = if request_error && media == MediaType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (
        status,
        [
            (header::CONTENT_TYPE, media.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// One response as JSON, and whether it is a request error (nothing was executed).
fn serialize(response: async_graphql::Response) -> (String, bool) {
    /// A request error: no `data` entry at all.
    #[derive(serde::Serialize)]
    struct RequestError<'a> {
        errors: &'a [async_graphql::ServerError],
    }
    let request_error = !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| {
            let code = e.extensions.as_ref().and_then(|x| x.get("code"));
            e.path.is_empty() &&
            matches!(code, Some(async_graphql::Value::String(c)) if REQUEST_ERROR_CODES.contains(&c.as_str()))
        });
    let json = if request_error {
        serde_json::to_string(&RequestError {
            errors: &response.errors,
        })
    } else {
        serde_json::to_string(&response)
    };
    let json = json.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a response did not serialize");
        r#"{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#.to_owned()
    });
    (json, request_error)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: Option<&str>) -> Option<MediaType> {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        negotiate(&headers)
    }

    #[test]
    fn the_accept_header_picks_the_media_type() {
        use MediaType::*;
        assert_eq!(accept(None), Some(Json));
        assert_eq!(accept(Some("application/json")), Some(Json));
        assert_eq!(accept(Some("*/*")), Some(Json));
        assert_eq!(
            accept(Some("application/graphql-response+json")),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accept(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accept(Some(
                "application/json, application/graphql-response+json;q=0.5"
            )),
            Some(Json)
        );
        assert_eq!(accept(Some("text/html")), None);
        assert_eq!(accept(Some("application/json;q=0")), None);
    }
}
