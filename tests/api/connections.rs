//! Idle and slow connections cannot starve the server: a request head must arrive within
//! `HTTP_HEADER_READ_TIMEOUT` (on a new connection and between keep-alive requests), and at most
//! `HTTP_MAX_CONNECTIONS` are open, a new one evicting the oldest idle one. Raw sockets to
//! 127.0.0.1; every wait is bounded.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// Generous: the machine running the suite may be busy.
const MARGIN: Duration = Duration::from_secs(4);

async fn app_with(header_timeout: Duration, max_connections: usize) -> TestApp {
    TestApp::spawn_with(|c| {
        c.http.header_read_timeout = header_timeout;
        c.http.max_connections = max_connections;
    })
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// Reads (and discards) until the server closes the connection; how long that took, or `None` if
/// it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// Whether the server has already closed `stream` (it reads end-of-file or a reset at once).
async fn is_closed(stream: &mut TcpStream) -> bool {
    closed_within(stream, Duration::from_millis(200))
        .await
        .is_some()
}

/// Sends `GET path` on a kept-alive connection and reads the whole response; its status line.
async fn get_on(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(MARGIN, async {
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "closed before a response");
            response.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&response);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .expect("a content-length");
                if body.len() >= length {
                    return head.lines().next().unwrap_or_default().to_owned();
                }
            }
        }
    })
    .await
    .expect("a response in time")
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_within_the_header_read_timeout() {
    let app = app_with(HEADER_TIMEOUT, 100).await;
    let mut silent = connect(&app).await;

    let closed = closed_within(&mut silent, HEADER_TIMEOUT + MARGIN).await;

    let elapsed = closed.expect("the server closes a silent connection");
    assert!(
        elapsed >= HEADER_TIMEOUT / 2,
        "closed too early: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_connection_that_dribbles_a_partial_request_head_is_closed_within_the_header_read_timeout()
 {
    let app = app_with(HEADER_TIMEOUT, 100).await;
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();

    // One more byte every 100 ms, never the end of the head: bytes arriving do not extend it.
    let start = Instant::now();
    let mut closed = false;
    for _ in 0..((HEADER_TIMEOUT + MARGIN).as_millis() / 100) {
        if slow.write_all(b"a").await.is_err() || is_closed_now(&mut slow).await {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(closed, "still open after {:?}", start.elapsed());
    assert!(
        start.elapsed() >= HEADER_TIMEOUT / 2,
        "{:?}",
        start.elapsed()
    );
}

/// Whether the peer has closed, without waiting.
async fn is_closed_now(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buffer)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let app = app_with(HEADER_TIMEOUT, 100).await;
    let mut kept = connect(&app).await;

    assert_eq!(get_on(&mut kept, "/live").await, "HTTP/1.1 200 OK");
    let first = closed_within(&mut kept, HEADER_TIMEOUT / 2).await;
    assert!(
        first.is_none(),
        "keep-alive: the connection stays open for a while"
    );
    assert_eq!(get_on(&mut kept, "/live").await, "HTTP/1.1 200 OK");
    let closed = closed_within(&mut kept, HEADER_TIMEOUT + MARGIN).await;

    let elapsed = closed.expect("the server closes an idle keep-alive connection");
    assert!(
        elapsed >= HEADER_TIMEOUT / 2,
        "closed too early: {elapsed:?}"
    );
}

#[tokio::test]
async fn idle_sockets_beyond_the_connection_limit_evict_the_oldest_and_live_still_answers_at_once()
{
    // Timeouts far away: only the limit can help.
    let app = app_with(Duration::from_secs(60), 8).await;
    let mut held = Vec::new();
    for i in 0..12 {
        let mut socket = connect(&app).await;
        if i % 2 == 0 {
            // Half of them even start a request head they never finish.
            socket.write_all(b"GET /live HTTP/1.1\r\n").await.unwrap();
        }
        held.push(socket);
        // Each is accepted before the next: the order is known.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    let live = tokio::time::timeout(MARGIN, app.get("/live")).await;
    let answered_in = started.elapsed();

    assert_eq!(live.expect("/live answers").status(), 200);
    assert!(answered_in < Duration::from_secs(2), "{answered_in:?}");
    let mut closed = Vec::new();
    for socket in &mut held {
        closed.push(is_closed(socket).await);
    }
    // 12 idle sockets and /live's connection: the 5 oldest were evicted, the newest 7 are open.
    assert_eq!(closed, [[true; 5].as_slice(), &[false; 7]].concat());
}

#[tokio::test]
async fn busy_connections_are_never_evicted_and_a_new_one_is_closed_when_all_are_busy() {
    let app = app_with(Duration::from_secs(60), 2).await;
    let mut busy = [connect(&app).await, connect(&app).await];
    let requests = busy.iter_mut().map(|s| get_on(s, "/__test/sleep/1500"));
    let requests = futures_util::future::join_all(requests);
    let newcomer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut late = connect(&app).await;
        closed_within(&mut late, Duration::from_secs(1)).await
    };

    let (statuses, shed) = tokio::join!(requests, newcomer);

    assert!(
        shed.is_some(),
        "the connection beyond the limit is closed at once"
    );
    assert_eq!(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    assert_eq!(app.get("/live").await.status(), 200, "and it serves again");
}
