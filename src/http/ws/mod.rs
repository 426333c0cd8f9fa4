//! `/graphql` over WebSocket, in the `graphql-transport-ws` protocol (the `graphql-ws` library's).
//! async-graphql runs the protocol ([`async_graphql::http::WebSocket`]); this module admits the
//! upgrade and drives the socket:
//!
//! - **Before the upgrade**: an `Origin` that is neither this server's nor in
//!   `CORS_ALLOWED_ORIGINS` is refused with 403 (the session cookie would otherwise let any site
//!   subscribe as the user: cross-site WebSocket hijacking); no `Origin` (a non-browser client) is
//!   fine. Beyond `WS_MAX_CONNECTIONS` open sockets, 503. The session cookie is read once, here.
//! - **While open**: `connection_init` within 10 s (else close 4408); a ping every
//!   `GRAPHQL_WS_KEEPALIVE`, and a client silent for twice that is closed; at most
//!   `GRAPHQL_WS_MAX_SUBSCRIPTIONS` subscriptions; every operation admitted by the same limits as
//!   over HTTP; mutations are refused (they go by POST, where cookies can be set). A `subscribe`
//!   may name its document by hash (`extensions.persistedQuery`); one whose document is refused
//!   before parsing (not trusted in trusted-only mode, an unknown hash) gets an `error` message.
//! - **The session**: checked again when the hub says the user's sessions or role changed (on any
//!   instance) and when it would expire; once it has ended the connection is anonymous and its
//!   personal subscriptions end with `UNAUTHENTICATED`.
//! - **Shutdown**: every socket is closed with 1001 (going away).
//!
//! async-graphql-axum's `GraphQLWebSocket::serve` runs the same protocol but has no way to close
//! on shutdown, to time out `connection_init`, to ping, or to give up on a client that does not
//! read: hence this loop, not a new dependency.

mod operations;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{WebSocket as Protocol, WsMessage};
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures_util::stream::StreamExt;
use futures_util::{SinkExt, future};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};

use super::identity::RequestIdentity;
use super::{AppState, MAX_BODY_BYTES};
use crate::auth::Asker;
use crate::config::Origin;
use crate::error::Code;
use crate::live::{Hub, Update};
use operations::Operations;
use session::Session;

/// The subprotocol spoken.
pub const SUBPROTOCOL: &str = "graphql-transport-ws";
/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one message may take to be sent before the client is given up on (it does not read).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Refusals of `subscribe` messages waiting to be sent; beyond, async-graphql answers them.
const UNSENT_REFUSALS: usize = 16;

/// What WebSocket connections share.
#[derive(Clone)]
pub struct Live {
    pub hub: Hub,
    /// One permit per open socket (`WS_MAX_CONNECTIONS`).
    pub permits: Arc<Semaphore>,
    /// Turns true when the server stops: every socket closes with 1001.
    pub stopping: watch::Receiver<bool>,
}

/// Whether the request asks to become a WebSocket.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Admits (or refuses) an upgrade on `/graphql`.
pub async fn upgrade(state: AppState, mut parts: Parts) -> HttpResponse {
    if !origin_allowed(&parts.headers, &state.config.http.cors_allowed_origins) {
        return refuse(
            StatusCode::FORBIDDEN,
            Code::Forbidden,
            "WebSocket connections are accepted only from this server's origin and CORS_ALLOWED_ORIGINS",
        );
    }
    if !offers_subprotocol(&parts.headers) {
        return refuse(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "a WebSocket on /graphql speaks graphql-transport-ws: send Sec-WebSocket-Protocol: graphql-transport-ws",
        );
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(permit) = Arc::clone(&state.live.permits).try_acquire_owned() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::ServiceUnavailable,
            "too many WebSocket connections are open (WS_MAX_CONNECTIONS); try again later",
        );
    };
    // Listening before the session is read: a sign-out right after the lookup is not missed.
    let updates = state.live.hub.subscribe();
    let who = match RequestIdentity::from_request_parts(&mut parts, &state).await {
        Ok(who) => who,
        Err(never) => match never {},
    };
    let token = state.auth.cookies.token(&who.cookies);
    upgrade
        .protocols([SUBPROTOCOL])
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| serve(socket, state, who, token, updates, permit))
}

fn refuse(status: StatusCode, code: Code, message: &str) -> HttpResponse {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        code.body(message),
    )
        .into_response()
}

/// No `Origin` (not a browser), this server's own origin (the `Host` it was asked for), or one of
/// `allowed`.
fn origin_allowed(headers: &HeaderMap, allowed: &[Origin]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed.iter().any(|o| o.as_str() == origin) {
        return true;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

fn offers_subprotocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL)
}

/// Drives one socket until it closes, the server stops, or the client stops reading.
async fn serve(
    socket: WebSocket,
    state: AppState,
    who: RequestIdentity,
    token: Option<String>,
    updates: broadcast::Receiver<Arc<Update>>,
    _permit: OwnedSemaphorePermit,
) {
    let settings = state.config.live.clone();
    let asker = Asker::new(who.identity);
    let mut data = Data::default();
    data.insert(asker.clone());
    data.insert(who.client_ip);
    let operations = Operations {
        state: state.clone(),
        running: Arc::default(),
    };
    let (mut sink, input) = socket.split();
    // A `subscribe` whose document is refused before parsing (not trusted, an unknown hash) is
    // answered here with the protocol's `error` message; async-graphql never sees it.
    let (refusals_tx, mut refusals) = tokio::sync::mpsc::channel::<String>(UNSENT_REFUSALS);
    let initialised = Arc::new(AtomicBool::new(false));
    let admission = Arc::clone(&state.admission);
    let gate = Arc::clone(&initialised);
    let input = input
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(move |m| {
            let bytes = match m {
                Ok(Message::Text(text)) => axum::body::Bytes::from(text),
                Ok(Message::Binary(bytes)) => bytes,
                _ => return future::ready(None),
            };
            if gate.load(Ordering::Acquire)
                && let Some(refusal) = refuse_subscribe(&admission, &bytes)
                // Too many refusals not sent yet: async-graphql answers this one (`next`).
                && refusals_tx.try_send(refusal).is_ok()
            {
                return future::ready(None);
            }
            future::ready(Some(bytes))
        });
    let protocol = Protocol::new(
        operations,
        input,
        async_graphql::http::WebSocketProtocols::GraphQLWS,
    )
    .connection_data(data)
    .keepalive_timeout(settings.keepalive * 2);
    let mut protocol = std::pin::pin!(protocol);
    let mut session = Session::new(updates, &asker, token, state.auth.lifetimes);
    let init = tokio::time::sleep(INIT_TIMEOUT);
    let mut init = std::pin::pin!(init);
    let mut acknowledged = false;
    let mut pings = tokio::time::interval_at(
        tokio::time::Instant::now() + settings.keepalive,
        settings.keepalive,
    );
    let mut stopping = state.live.stopping.clone();
    loop {
        let step = tokio::select! {
            biased;
            _ = stopping.wait_for(|s| *s) => Step::Close(1001, "the server is shutting down".into()),
            () = &mut init, if !acknowledged => {
                Step::Close(4408, "Connection initialisation timeout".into())
            }
            () = session.due() => Step::CheckSession,
            _ = pings.tick(), if acknowledged => Step::Send(Message::Text(r#"{"type":"ping"}"#.into())),
            Some(refusal) = refusals.recv() => Step::Send(Message::Text(refusal.into())),
            message = protocol.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if !acknowledged && text.contains(r#""connection_ack""#) {
                        acknowledged = true;
                        initialised.store(true, Ordering::Release);
                    }
                    Step::Send(Message::Text(text.into()))
                }
                Some(WsMessage::Close(code, reason)) => Step::Close(code, reason),
                None => return,
            },
        };
        let out = match step {
            Step::Send(out) => out,
            Step::CheckSession => {
                session.check(&state, &asker).await;
                continue;
            }
            Step::Close(code, reason) => {
                close(&mut sink, code, &reason).await;
                return;
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(out)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::info!("a WebSocket client stopped reading; disconnected");
                return;
            }
        }
    }
}

/// The `error` message answering `message` when it is a `subscribe` whose document is refused
/// before it is parsed ([`crate::graphql::Admission::settle`]); `None` for anything else.
fn refuse_subscribe(admission: &crate::graphql::Admission, message: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Incoming {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
        payload: Option<serde_json::Value>,
    }
    let incoming: Incoming = serde_json::from_slice(message).ok()?;
    if incoming.kind != "subscribe" {
        return None;
    }
    let mut request: async_graphql::Request = serde_json::from_value(incoming.payload?).ok()?;
    let error = admission.settle(&mut request).err()?;
    Some(serde_json::json!({ "type": "error", "id": incoming.id?, "payload": [error] }).to_string())
}

/// What the connection does next.
enum Step {
    Send(Message),
    CheckSession,
    Close(u16, String),
}

async fn close<S>(sink: &mut S, code: u16, reason: &str)
where
    S: futures_util::Sink<Message> + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(frame))))
        .await
        .ok();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_this_servers_or_allowed_ones() {
        let allowed =
            vec![<Origin as crate::config::Setting>::parse("https://app.example").unwrap()];
        let headers = |origin: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static("api.example:8000"));
            if let Some(o) = origin {
                h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
            }
            h
        };
        assert!(origin_allowed(&headers(None), &allowed));
        assert!(origin_allowed(
            &headers(Some("http://api.example:8000")),
            &allowed
        ));
        assert!(origin_allowed(
            &headers(Some("https://app.example")),
            &allowed
        ));
        assert!(!origin_allowed(
            &headers(Some("https://evil.example")),
            &allowed
        ));
        assert!(!origin_allowed(&headers(Some("null")), &allowed));
        assert!(!origin_allowed(
            &headers(Some("http://api.example")),
            &allowed
        ));
    }
}
