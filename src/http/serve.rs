//! The accept loop: each connection is admitted by a cheap, bounded check before any work, and
//! one that sends nothing useful cannot hold its socket for long.
//!
//! - hyper's header-read timeout closes a connection whose request head is not complete in
//!   `HTTP_HEADER_READ_TIMEOUT`. hyper starts that timer whenever it waits for a request head: on a
//!   new connection, and again after each response on a keep-alive connection. So it closes
//!   connections that send nothing, that dribble a partial head, and that idle on keep-alive.
//! - At most `HTTP_MAX_CONNECTIONS` connections are open. A connection accepted beyond that evicts
//!   the longest-open idle one (no request in flight), so a flood of idle sockets cannot lock out
//!   `/live`; when every open connection is busy, the new one is closed at once.
//! - An `accept` error (out of descriptors) frees an idle connection, backs off briefly and is
//!   logged once per burst: the loop never spins.
//!
//! axum's `serve` offers none of this; this is its loop with these checks added. Handlers still
//! get `ConnectInfo<SocketAddr>`, and upgrades (WebSockets) still work.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// How the server treats connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// A request head must be complete this long after the server starts waiting for it.
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// How long the loop waits after an `accept` error before it accepts again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one warning of each kind this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `signal` completes, then stops accepting, lets each
/// connection finish the request it is serving, and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    signal: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    let open = Arc::new(Registry::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection task holds a receiver; `closed()` resolves when the last one is gone.
    let (tasks_tx, tasks_rx) = watch::channel(());
    let mut accept_errors = Warning::new("accept failed; backing off");
    let mut shed = Warning::new("every connection is busy; closing new connections");

    let mut signal = pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => {
                    // That one connection went away before it was accepted: nothing to wait for.
                    tracing::debug!("accept: {e}");
                    continue;
                }
                Err(e) => {
                    // Out of descriptors (EMFILE/ENFILE) or memory: free an idle connection, wait
                    // a little, try again.
                    open.evict_one_idle();
                    accept_errors.note(&e);
                    tokio::select! {
                        () = &mut signal => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        let Some(admitted) = open.admit() else {
            shed.note(&format_args!("{} connections open", limits.max_connections));
            drop(stream);
            continue;
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            Arc::clone(&http),
            admitted,
            stop_rx.clone(),
            tasks_rx.clone(),
        ));
    }

    drop(listener);
    drop(tasks_rx);
    stop_tx.send_replace(true);
    tasks_tx.closed().await;
}

/// Serves one connection until it closes, the server stops or a newer connection evicts it.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    http: Arc<http1::Builder>,
    admitted: Admitted,
    mut stop: watch::Receiver<bool>,
    _task: watch::Receiver<()>,
) {
    // Small responses go out at once rather than waiting for an ACK (as axum::serve does not,
    // but every proxy does).
    stream.set_nodelay(true).ok();
    let slot = Arc::clone(&admitted.slot);
    let service = ConnectionService {
        router,
        peer,
        slot: Arc::clone(&slot),
    };
    let connection = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                break;
            }
            _ = stop.wait_for(|stop| *stop), if !closing => {
                // Finish the request being served (if any), then close.
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = slot.evict.notified(), if !closing => {
                if slot.busy.load(Ordering::Acquire) == 0 {
                    tracing::debug!(%peer, "idle connection evicted for a new one");
                    break;
                }
                // A request arrived since the eviction was decided: serve it, then close.
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
    drop(admitted);
}

/// The router as hyper calls it, for one connection: it adds the peer's address for
/// `ConnectInfo<SocketAddr>` and counts the requests in flight.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    slot: Arc<Slot>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let busy = Busy::start(&self.slot);
        // `Router` is always ready (its `poll_ready` returns `Ready(Ok(()))`), so no
        // `poll_ready` first.
        let response = tower_service::Service::call(&mut self.router.clone(), request);
        Box::pin(async move {
            let response = response.await;
            drop(busy);
            response
        })
    }
}

/// An `accept` error about the one connection being accepted, not about the server.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// One open connection, as the registry sees it.
#[derive(Default)]
struct Slot {
    /// Requests being handled now: counted until the handler's response is ready. hyper writes
    /// it after that, so evicting a connection may cut a large response to a slow reader; only at
    /// the limit, and only a response larger than the socket's send buffer.
    busy: AtomicUsize,
    /// Told when a newer connection takes this one's place.
    evict: Notify,
}

/// Counts a request in flight until dropped (also when the request is cancelled).
struct Busy(Arc<Slot>);

impl Busy {
    fn start(slot: &Arc<Slot>) -> Self {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(slot))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The open connections, oldest first.
struct Registry {
    limit: usize,
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Slot>>>,
}

impl Registry {
    fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            next_id: AtomicU64::new(0),
            open: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Slot>>> {
        // The map stays consistent whatever panicked while it was held.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new connection, evicting the oldest idle one when full; `None` when every
    /// open connection is busy.
    fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut open = self.lock();
        if open.len() >= self.limit && !Self::evict_oldest_idle(&mut open) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::default());
        open.insert(id, Arc::clone(&slot));
        Some(Admitted {
            registry: Arc::clone(self),
            id,
            slot,
        })
    }

    /// Frees a descriptor: closes the oldest idle connection, if any.
    fn evict_one_idle(&self) {
        Self::evict_oldest_idle(&mut self.lock());
    }

    fn evict_oldest_idle(open: &mut BTreeMap<u64, Arc<Slot>>) -> bool {
        let idle = open
            .iter()
            .find(|(_, slot)| slot.busy.load(Ordering::Acquire) == 0)
            .map(|(id, _)| *id);
        match idle.and_then(|id| open.remove(&id)) {
            Some(slot) => {
                // Stored if the task is not waiting yet: it sees it on its next poll.
                slot.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in the registry, given back when dropped.
struct Admitted {
    registry: Arc<Registry>,
    id: u64,
    slot: Arc<Slot>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// A warning logged at most once every [`WARN_EVERY`], with how many were held back.
struct Warning {
    message: &'static str,
    last: Option<Instant>,
    held_back: u64,
}

impl Warning {
    fn new(message: &'static str) -> Self {
        Self {
            message,
            last: None,
            held_back: 0,
        }
    }

    fn note(&mut self, detail: &dyn std::fmt::Display) {
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < WARN_EVERY) {
            self.held_back += 1;
            return;
        }
        tracing::warn!(held_back = self.held_back, "{}: {detail}", self.message);
        self.last = Some(now);
        self.held_back = 0;
    }
}

/// Raises this process's soft limit of open files to its hard limit, so that
/// `HTTP_MAX_CONNECTIONS`, not the descriptor table, is what bites. Returns the limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::increase_nofile_limit(u64::MAX).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}
