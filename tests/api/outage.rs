//! A database outage (PostgreSQL, through a TCP proxy that is cut and restored): coded errors
//! within the acquire timeout, a live process, and recovery without a restart.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use tkc_library::config::{Config, DatabaseUrl, Setting};

use crate::helpers::{TestApp, error_codes, postgres_url};

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored, or made to drop a connection the moment it carries a given text (a statement sent
/// mid-request).
struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    trap: Arc<Mutex<Option<Trap>>>,
}

/// What the proxy does to a connection that sends the trapped text.
#[derive(Clone)]
struct Trap {
    text: Vec<u8>,
    /// Answer as PostgreSQL does when its backend is terminated (`FATAL 57P01`) before closing.
    as_terminated: bool,
}

/// PostgreSQL's `ErrorResponse` for a backend ended by `pg_terminate_backend` or a shutdown.
fn terminated_message() -> Vec<u8> {
    let mut fields = Vec::new();
    for (kind, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "57P01"),
        (b'M', "terminating connection due to administrator command"),
    ] {
        fields.push(kind);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    message.extend_from_slice(&fields);
    message
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let trap: Arc<Mutex<Option<Trap>>> = Arc::default();
        let (up2, connections2, trap2) =
            (Arc::clone(&up), Arc::clone(&connections), Arc::clone(&trap));
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let trap = Arc::clone(&trap2);
                let task = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    let (kill, mut killed) = tokio::sync::oneshot::channel::<bool>();
                    let down = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            tokio::select! {
                                read = from_server.read(&mut buf) => match read {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => {
                                        if to_client.write_all(&buf[..n]).await.is_err() {
                                            break;
                                        }
                                    }
                                },
                                kill = &mut killed => {
                                    if kill == Ok(true) {
                                        let _ = to_client.write_all(&terminated_message()).await;
                                    }
                                    break;
                                }
                            }
                        }
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from_client.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let trapped = trap.lock().unwrap().clone().filter(|t| {
                            buf[..n]
                                .windows(t.text.len())
                                .any(|w| w == t.text.as_slice())
                        });
                        if let Some(trap) = trapped {
                            let _ = kill.send(trap.as_terminated);
                            let _ = down.await;
                            return;
                        }
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    down.abort();
                });
                connections2.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            address,
            up,
            connections,
            trap,
        }
    }

    /// From now on, a connection that sends `text` is closed at once, the text undelivered: cut,
    /// or first answered as PostgreSQL answers when the backend is terminated.
    fn trap(&self, text: &str, as_terminated: bool) {
        *self.trap.lock().unwrap() = Some(Trap {
            text: text.as_bytes().to_vec(),
            as_terminated,
        });
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `host:port` of a postgres URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// A server whose PostgreSQL is reached through a [`Proxy`], with `configure` applied; `None`
/// on SQLite (these tests need PostgreSQL).
async fn behind_a_proxy(configure: impl FnOnce(&mut Config)) -> Option<(Proxy, TestApp)> {
    let Some(admin_url) = postgres_url() else {
        eprintln!("skipped: the outage test needs PostgreSQL (TEST_DATABASE_URL)");
        return None;
    };
    let upstream = host_port(&admin_url);
    let proxy = Proxy::start(upstream.clone()).await;
    let proxied = proxy.address.to_string();
    let app = TestApp::spawn_with(|c| {
        let url = c.database.url.expose().replacen(&upstream, &proxied, 1);
        c.database.url = DatabaseUrl::parse(&url).expect("a database URL");
        c.database.acquire_timeout = Duration::from_secs(2);
        configure(c);
    })
    .await;
    Some((proxy, app))
}

#[tokio::test]
async fn an_outage_answers_service_unavailable_and_the_server_recovers_by_itself() {
    let Some((proxy, app)) = behind_a_proxy(|_| {}).await else {
        return;
    };
    app.query("{ items { totalCount } }", json!({})).await;

    proxy.cut();

    let started = Instant::now();
    let body = app.graphql("{ items { totalCount } }", json!({})).await;
    assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"], "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/health").await.status(), 503);
    assert_eq!(app.get("/live").await.status(), 200);
    app.query("{ __typename }", json!({})).await;

    proxy.restore();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = app.graphql("{ items { totalCount } }", json!({})).await;
        if body.get("errors").is_none() {
            break;
        }
        assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"], "{body}");
        assert!(Instant::now() < deadline, "no recovery: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // No stale connection is handed out afterwards.
    for _ in 0..10 {
        app.query("{ items { totalCount } }", json!({})).await;
    }
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn a_connection_lost_mid_request_answers_service_unavailable() {
    // One connection: each one the trap kills is replaced by a new one that must send the
    // statement's text again (a surviving one would send only a prepared statement's name).
    let Some((proxy, app)) = behind_a_proxy(|c| c.database.max_connections = 1).await else {
        return;
    };
    // A live connection in the pool that has not prepared the statement trapped below.
    app.query("{ posts { totalCount } }", json!({})).await;

    // The pooled connection passes its check and is handed out; it dies as the request's
    // statement is sent: cut, or ended by the server (`pg_terminate_backend`, a shutdown).
    for as_terminated in [false, true] {
        proxy.trap("\"items\"", as_terminated);
        let body = app.graphql("{ items { totalCount } }", json!({})).await;
        assert_eq!(
            error_codes(&body),
            ["SERVICE_UNAVAILABLE"],
            "{as_terminated}: {body}"
        );
        assert_eq!(app.get("/live").await.status(), 200);
    }
}
