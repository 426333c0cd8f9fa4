//! The shape of every answer on `/graphql`: the media type negotiated from `Accept`, refusals as
//! coded GraphQL errors, and the serialized responses (request errors without `data`, bodies over
//! `GRAPHQL_MAX_RESPONSE_BYTES` refused whole).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::MAX_BODY_BYTES;
use crate::error::{AppError, Code};
use crate::graphql::budget::ResponseBudget;
use crate::graphql::is_request_error;

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
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
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

/// A refusal before anything runs, as GraphQL clients read errors: `{"errors": [...]}` with a code.
pub fn refusal(code: Code, media: MediaType, message: &str) -> Response {
    (
        code.status(),
        [
            (header::CONTENT_TYPE, media.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        code.body(message),
    )
        .into_response()
}

/// A response for a request that is not a GraphQL request at all.
pub fn bad_request(media: MediaType, message: &str) -> Response {
    refusal(Code::BadRequest, media, message)
}

pub fn not_acceptable() -> Response {
    refusal(
        Code::NotAcceptable,
        MediaType::Json,
        "accept application/graphql-response+json or application/json",
    )
}

/// A body over the limit, declared or found while reading it.
pub fn too_large(media: MediaType) -> Response {
    refusal(
        Code::RequestTooLarge,
        media,
        &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// Any method but GET and POST on `/graphql`.
pub async fn method_not_allowed() -> Response {
    let mut response = refusal(
        Code::MethodNotAllowed,
        MediaType::Json,
        "/graphql takes GET (queries) and POST",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
    response
}

/// Whether `Content-Type` is JSON in UTF-8 (the only encoding GraphQL over HTTP allows).
pub fn is_json(headers: &HeaderMap) -> bool {
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

/// Serializes the responses, keeping fields in the order the query asked for them: a request
/// error loses its `data` entry and, in the new media type, gets HTTP 400. A body over
/// `GRAPHQL_MAX_RESPONSE_BYTES` is never sent: each operation is answered `RESPONSE_TOO_LARGE`
/// instead. GraphQL responses are never cached.
pub fn respond(
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
                "message": AppError::ResponseTooLarge { max: budget.max() }.to_string(),
                "extensions": { "code": Code::ResponseTooLarge.as_str() },
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
    // A resolver's error on a non-null root field also nulls `data`, but something ran: that is
    // not a request error, whatever its code (it has a path).
    let request_error = !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(is_request_error);
    let json = if request_error {
        serde_json::to_string(&RequestError {
            errors: &response.errors,
        })
    } else {
        serde_json::to_string(&response)
    };
    let json = json.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a response did not serialize");
        Code::InternalServerError.body("internal server error")
    });
    (json, request_error)
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
