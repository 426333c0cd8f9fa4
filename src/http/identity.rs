//! Who is asking: the session cookie resolved to a user (one query, role read fresh), and the
//! client's address. A bad cookie of any kind is simply anonymous.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tower_cookies::Cookies;

use super::AppState;
use crate::auth::{ClientIp, Identity};
use crate::domain::sessions;

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
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client_ip = ClientIp(match peer {
            Some(peer) => {
                client_address(peer, &parts.headers, &state.config.http.trusted_proxies).to_string()
            }
            None => "unknown".to_owned(),
        });
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

/// The client's address: the TCP peer, unless the peer is a trusted proxy; then the last address
/// in `X-Forwarded-For` that is not a trusted proxy itself (earlier entries can be forged by the
/// client, the ones the proxies appended cannot).
fn client_address(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        let client: IpAddr = "203.0.113.7".parse().unwrap();

        assert_eq!(client_address(proxy, &headers, &[proxy]), client);
        assert_eq!(
            client_address(proxy, &headers, &[]),
            proxy,
            "an untrusted peer is the client"
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_address(stranger, &headers, &[proxy]), stranger);
        assert_eq!(
            client_address(proxy, &axum::http::HeaderMap::new(), &[proxy]),
            proxy
        );
    }
}
