//! Who is asking: the session cookie resolved to a user (one query, role read fresh), and the
//! client's address. A bad cookie of any kind is simply anonymous.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tower_cookies::Cookies;

use super::AppState;
use crate::domain::sessions;
use crate::graphql::context::{ClientIp, Identity};

/// The request's identity, cookie jar and client address, ready to hand to the schema.
pub struct RequestIdentity {
    pub identity: Identity,
    pub cookies: Cookies,
    pub client_ip: ClientIp,
}

impl FromRequestParts<AppState> for RequestIdentity {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client_ip = ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        );
        let Some(cookies) = parts.extensions.get::<Cookies>().cloned() else {
            // The cookie layer is missing: nobody can be signed in.
            tracing::error!("CookieManagerLayer is not installed");
            return Ok(Self {
                identity: Identity::Anonymous,
                cookies: Cookies::default(),
                client_ip,
            });
        };
        let identity = match state.auth.cookies.token(&cookies) {
            None => Identity::Anonymous,
            Some(token) => match sessions::viewer(&state.db, &token, state.auth.lifetimes).await {
                Ok(Some(viewer)) => Identity::User(Box::new(viewer)),
                Ok(None) => Identity::Anonymous,
                Err(e) => {
                    tracing::warn!(error = %e, "could not check the session");
                    Identity::Unknown
                }
            },
        };
        Ok(Self {
            identity,
            cookies,
            client_ip,
        })
    }
}
