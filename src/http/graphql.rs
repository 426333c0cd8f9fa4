//! `/graphql`, spoken as the GraphQL-over-HTTP specification says: POST with a JSON body (a batch
//! is a JSON array), or GET with the query in the URL (queries only: a GET must not change
//! anything). The response is `application/graphql-response+json` when the client accepts it,
//! `application/json` otherwise; a request error (a body that is not a GraphQL request, a document
//! that does not parse or validate, a limit exceeded) has no `data` and, in the new media type, the
//! status 400. Each request gets its own batch loaders and identity.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Variables;
use async_graphql::parser::types::OperationType;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;

use super::identity::RequestIdentity;
use super::{AppState, MAX_BODY_BYTES};
use crate::graphql::REQUEST_ERROR_CODES;
use crate::graphql::budget::ResponseBudget;
use crate::graphql::loaders::Loaders;

/// The media types a GraphQL response can be sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
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

/// A refusal before anything runs, as GraphQL clients read errors: `{"errors": [...]}` with a code.
pub fn refusal(status: StatusCode, media: MediaType, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (
        status,
        [
            (header::CONTENT_TYPE, media.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A response for a request that is not a GraphQL request at all.
fn bad_request(media: MediaType, message: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", message)
}

fn not_acceptable() -> Response {
    refusal(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        "NOT_ACCEPTABLE",
        "accept application/graphql-response+json or application/json",
    )
}

/// A body over the limit, declared or found while reading it.
fn too_large(media: MediaType) -> Response {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        media,
        "REQUEST_TOO_LARGE",
        &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// Any method but GET and POST on `/graphql`.
pub async fn method_not_allowed() -> Response {
    let mut response = refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        MediaType::Json,
        "METHOD_NOT_ALLOWED",
        "/graphql takes GET (queries) and POST",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
    response
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

/// POST: a JSON body (`Content-Type: application/json`, else 415 before anything runs). The cheap
/// checks (media types, a declared length over the limit) come before the body is read and before
/// the session is looked up.
pub async fn post_handler(State(state): State<AppState>, http: Request) -> Response {
    let (mut parts, body) = http.into_parts();
    let Some(media) = negotiate(&parts.headers) else {
        return not_acceptable();
    };
    if !is_json(&parts.headers) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST /graphql takes a body of Content-Type: application/json (UTF-8)",
        );
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large(media);
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return too_large(media);
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
    let (requests, batch) = match body {
        PostBody::Single(params) => match into_request(params) {
            Ok(r) => (vec![r], false),
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
                Ok(requests) => (requests, true),
                Err(message) => return bad_request(media, message),
            }
        }
    };
    let requests = requests
        .into_iter()
        .map(|r| admit(r, &state))
        .collect::<Vec<_>>();
    let who = identify(&mut parts, &state).await;
    execute(&state, who, requests, batch, media).await
}

/// GET: `?query=…&operationName=…&variables=<JSON>`; a mutation is refused with 405.
pub async fn get_handler(
    State(state): State<AppState>,
    mut parts: Parts,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(media) = negotiate(&parts.headers) else {
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
    let mut request = admit(request, &state);
    if let Ok(request) = &mut request
        && is_mutation(request)
    {
        let mut response = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let who = identify(&mut parts, &state).await;
    execute(&state, who, vec![request], false, media).await
}

/// Parses and measures one operation before anything else is spent on it (see
/// [`crate::graphql::admit`]); a refusal is that operation's response.
fn admit(
    mut request: async_graphql::Request,
    state: &AppState,
) -> Result<async_graphql::Request, async_graphql::Response> {
    match crate::graphql::admit(&mut request, &state.limits) {
        Ok(()) => Ok(request),
        Err(error) => Err(async_graphql::Response::from_errors(vec![error])),
    }
}

/// Who is asking: the session looked up once the request has passed the cheap checks.
async fn identify(parts: &mut Parts, state: &AppState) -> RequestIdentity {
    match RequestIdentity::from_request_parts(parts, state).await {
        Ok(who) => who,
        Err(never) => match never {},
    }
}

/// Runs the admitted operations (a batch's concurrently, answered in order) with what their
/// resolvers need: loaders, who is asking, and one response budget for the whole HTTP response.
async fn execute(
    state: &AppState,
    who: RequestIdentity,
    requests: Vec<Result<async_graphql::Request, async_graphql::Response>>,
    batch: bool,
    media: MediaType,
) -> Response {
    let names: Vec<String> = requests
        .iter()
        .map(|r| match r {
            Ok(r) => r
                .operation_name
                .as_deref()
                .map_or_else(|| "-".to_owned(), for_log),
            Err(_) => "(refused)".to_owned(),
        })
        .collect();
    tracing::Span::current().record("operation", names.join(",").as_str());
    state
        .graphql_requests
        .fetch_add(names.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let budget = Arc::new(ResponseBudget::new(state.limits.response_bytes));
    let loaders = Loaders::new(state.db.clone());
    let runs = requests.into_iter().map(|request| {
        let data = (
            loaders.clone(),
            who.identity.clone(),
            who.cookies.clone(),
            who.client_ip.clone(),
            Arc::clone(&budget),
        );
        async move {
            match request {
                Ok(request) => {
                    let request = request
                        .data(data.0)
                        .data(data.1)
                        .data(data.2)
                        .data(data.3)
                        .data(data.4);
                    state.schema.execute(request).await
                }
                Err(refused) => refused,
            }
        }
    });
    let responses: Vec<async_graphql::Response> =
        futures_util::stream::FuturesOrdered::from_iter(runs)
            .collect()
            .await;
    respond(media, responses, batch, &budget)
}

/// An operation name as the log shows it: at most 64 characters, so a client cannot fill the log.
fn for_log(name: &str) -> String {
    const MAX: usize = 64;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

/// Serializes the responses, keeping fields in the order the query asked for them: a request
/// error loses its `data` entry and, in the new media type, gets HTTP 400. A body over
/// `GRAPHQL_MAX_RESPONSE_BYTES` is never sent: each operation is answered `RESPONSE_TOO_LARGE`
/// instead. GraphQL responses are never cached.
fn respond(
    media: MediaType,
    responses: Vec<async_graphql::Response>,
    batch: bool,
    budget: &ResponseBudget,
) -> Response {
    let count = responses.len();
    let parts: Vec<(String, bool)> = responses.into_iter().map(serialize).collect();
    let size: usize = parts.iter().map(|(json, _)| json.len() + 1).sum();
    let (body, request_error) = if budget.exceeded() || size > budget.max() {
        let error = serde_json::json!({
            "data": null,
            "errors": [{
                "message": crate::error::AppError::ResponseTooLarge { max: budget.max() }.to_string(),
                "extensions": { "code": "RESPONSE_TOO_LARGE" },
            }]
        })
        .to_string();
        if batch {
            (format!("[{}]", vec![error; count].join(",")), false)
        } else {
            (error, false)
        }
    } else if batch {
        let list: Vec<String> = parts.into_iter().map(|(json, _)| json).collect();
        (format!("[{}]", list.join(",")), false)
    } else {
        parts
            .into_iter()
            .next()
            .unwrap_or_else(|| ("[]".to_owned(), false))
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

/// Whether the operation an admitted request would run is a mutation.
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false;
    };
    let operation = match &name {
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
