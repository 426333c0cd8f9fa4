//! `/graphql`, spoken as the GraphQL-over-HTTP specification says: POST with a JSON body (a batch
//! is a JSON array), or GET with the query in the URL (queries only: a GET must not change
//! anything). The response is `application/graphql-response+json` when the client accepts it,
//! `application/json` otherwise; a request error (a body that is not a GraphQL request, a document
//! that does not parse or validate, a limit exceeded) has no `data` and, in the new media type, the
//! status 400. A request may name its document by hash instead of sending it
//! (`extensions.persistedQuery`: see [`crate::graphql::persisted`]), which makes GET URLs short.
//! Each request gets its own batch loaders and identity.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Variables;
use async_graphql::parser::types::OperationType;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Deserialize;

use super::identity::RequestIdentity;
use super::response::{
    MediaType, bad_request, is_json, negotiate, not_acceptable, refusal, respond, too_large,
};
use super::{AppState, MAX_BODY_BYTES};
use crate::auth::Asker;
use crate::error::Code;
use crate::graphql::budget::ResponseBudget;
use crate::graphql::loaders::Loaders;
use crate::graphql::persisted;

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

/// Builds the executable request from its parts; `Err` is the message of a 400. A request with
/// `extensions.persistedQuery` may leave `query` out: its hash names the document.
fn request(
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<HashMap<String, serde_json::Value>>,
) -> Result<async_graphql::Request, &'static str> {
    let mut request = async_graphql::Request::new(query.unwrap_or_default());
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
    if request.query.trim().is_empty() && !persisted::names_a_document(&request) {
        return Err("the `query` parameter is missing");
    }
    Ok(request)
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
            Code::UnsupportedMediaType,
            media,
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
            let max = state.config.limits.batch;
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

/// GET: `?query=…&operationName=…&variables=<JSON>&extensions=<JSON>`, or the document named by
/// its hash alone (`extensions={"persistedQuery":…}`, no `query`: a short, stable URL); a
/// mutation is refused with 405, however it was named.
pub async fn get_handler(
    State(state): State<AppState>,
    mut parts: Parts,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if super::ws::is_upgrade(&parts.headers) {
        return super::ws::upgrade(state, parts).await;
    }
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
            Code::MethodNotAllowed,
            media,
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

/// Settles, parses and measures one operation before anything else is spent on it (see
/// [`crate::graphql::Admission`]); a refusal is that operation's response.
fn admit(
    mut request: async_graphql::Request,
    state: &AppState,
) -> Result<async_graphql::Request, Box<async_graphql::Response>> {
    match state.admission.admit(&mut request) {
        Ok(()) => Ok(request),
        Err(error) => Err(Box::new(async_graphql::Response::from_errors(vec![error]))),
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
    requests: Vec<Result<async_graphql::Request, Box<async_graphql::Response>>>,
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
    let budget = Arc::new(ResponseBudget::new(state.config.limits.response_bytes));
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
                        .data(Asker::new(data.1))
                        .data(data.2)
                        .data(data.3)
                        .data(data.4);
                    let mut response = state.schema.execute(request).await;
                    crate::graphql::finish(&mut response, state.config.limits.errors);
                    response
                }
                Err(refused) => *refused,
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
    super::tracing_layer::cut(name, 64).into_owned()
}

/// Whether the operation an admitted request would run is a mutation.
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    crate::graphql::operation_type(request) == Some(OperationType::Mutation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_cut_short_for_the_log() {
        assert_eq!(for_log("GetItems"), "GetItems");
        let long = "é".repeat(900_000);
        let logged = for_log(&long);
        assert_eq!(logged.chars().count(), 65);
        assert!(logged.ends_with('…'));
    }
}
