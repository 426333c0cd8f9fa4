//! A database outage (PostgreSQL, through a TCP proxy that is cut and restored): coded errors
//! within the acquire timeout, a live process, and recovery without a restart.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::helpers::{TestApp, error_codes, postgres_url};

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored.
struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, connections2) = (Arc::clone(&up), Arc::clone(&connections));
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections2.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            address,
            up,
            connections,
        }
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

#[tokio::test]
async fn an_outage_answers_service_unavailable_and_the_server_recovers_by_itself() {
    let Some(admin_url) = postgres_url() else {
        eprintln!("skipped: the outage test needs PostgreSQL (TEST_DATABASE_URL)");
        return;
    };
    let upstream = host_port(&admin_url);
    let proxy = Proxy::start(upstream.clone()).await;
    let proxied = proxy.address.to_string();
    let app = TestApp::spawn_with(|c| {
        c.database_url = c.database_url.replacen(&upstream, &proxied, 1);
        c.database_acquire_timeout = Duration::from_secs(2);
    })
    .await;
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
