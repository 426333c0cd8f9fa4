//! Subscriptions over WebSocket (`graphql-transport-ws`): delivery across instances, privacy,
//! session end, origin checks, limits. Every wait is bounded.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{PASSWORD, TestApp};

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` client.
pub struct Socket {
    stream: Stream,
}

/// How to open a socket.
#[derive(Default)]
pub struct Open<'a> {
    pub cookie: Option<&'a str>,
    pub origin: Option<&'a str>,
}

impl Socket {
    /// Opens a socket to `app` and completes the handshake (`connection_init` → `connection_ack`).
    pub async fn connect(address: &str, open: Open<'_>) -> Self {
        let mut socket = Self::open(address, open)
            .await
            .expect("the upgrade succeeds");
        socket.send(json!({ "type": "connection_init" })).await;
        let ack = socket
            .receive()
            .await
            .expect("an answer to connection_init");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        socket
    }

    /// Opens a socket without the handshake; `Err` holds the HTTP status of a refused upgrade.
    pub async fn open(address: &str, open: Open<'_>) -> Result<Self, u16> {
        let url = format!("{}/graphql", address.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(cookie) = open.cookie {
            headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
        }
        if let Some(origin) = open.origin {
            headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, response)) => {
                assert_eq!(
                    response.headers()["sec-websocket-protocol"],
                    "graphql-transport-ws"
                );
                Ok(Self { stream })
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("the upgrade failed: {e}"),
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// Starts operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (pings answered and skipped), within 10 s; `None` once closed.
    pub async fn receive(&mut self) -> Option<Value> {
        self.receive_within(Duration::from_secs(10)).await
    }

    pub async fn receive_within(&mut self, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("nothing arrived within {limit:?}"));
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(value);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The close frame's code, once the server closes (other messages skipped), within `limit`.
    pub async fn close_code(&mut self, limit: Duration) -> Option<u16> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => panic!("the socket was not closed within {limit:?}"),
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(None) | Ok(Some(Err(_))) => return None,
            }
        }
    }

    /// Asserts that nothing but pings arrives for `quiet`.
    pub async fn assert_silent(&mut self, quiet: Duration) {
        let deadline = Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(text)))) if text.contains("\"ping\"") => {
                    self.send(json!({ "type": "pong" })).await;
                }
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// Waits until the operations sent so far have started: a query's round trip on this socket,
    /// then a moment for a subscription polled after it in the same turn.
    pub async fn settle(&mut self) {
        self.subscribe("settle", "{ __typename }", json!({})).await;
        assert_eq!(self.next_data("settle").await["__typename"], "Query");
        assert_eq!(
            self.receive().await.unwrap(),
            json!({ "type": "complete", "id": "settle" })
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// The next `next` payload's data for `id` (failing on errors).
    pub async fn next_data(&mut self, id: &str) -> Value {
        let message = self.receive().await.expect("a message");
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        assert!(
            message["payload"].get("errors").is_none(),
            "unexpected errors: {message}"
        );
        message["payload"]["data"].clone()
    }
}

/// Signs in `username` and returns the session cookie (`name=value`) as a browser would send it.
pub async fn session_cookie(app: &TestApp, username: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .json(&json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { id } }",
            "variables": { "u": username, "p": PASSWORD },
        }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// POSTs `query` with `cookie` and returns the body.
pub async fn post_as(app: &TestApp, cookie: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .header("cookie", cookie)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn is_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

/// An item on loan to a new borrower, by an admin: (admin cookie, borrower cookie, item id).
async fn item_on_loan(app: &TestApp) -> (String, String, String) {
    app.admin("root").await;
    let (_, member) = app.borrower("bea").await;
    let admin = session_cookie(app, "root").await;
    let borrower = session_cookie(app, "bea").await;
    let body = post_as(
        app,
        &admin,
        "mutation { createItem(input: { name: \"Drill\" }) { id } }",
        json!({}),
    )
    .await;
    let item = body["data"]["createItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = post_as(
        app,
        &admin,
        "mutation($i: ID!, $m: ID!) { checkOut(itemId: $i, memberId: $m) { id } }",
        json!({ "i": item, "m": member.to_string() }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    // The announcements of these changes are delivered before the test subscribes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    (admin, borrower, item)
}

const WATCH: &str =
    "subscription($ids: [ID!]) { itemChanged(ids: $ids) { id name status dueAt holdCount } }";
const RETURN: &str = "mutation($i: ID!) { returnItem(itemId: $i) { id } }";

#[tokio::test]
async fn a_return_on_one_instance_reaches_a_subscriber_on_another_within_a_second() {
    let a = TestApp::spawn().await;
    // On PostgreSQL a second server over the same database; SQLite is one process.
    let b = match is_postgres() {
        true => Some(a.another_instance().await),
        false => None,
    };
    let (admin, _, item) = item_on_loan(&a).await;
    let mut socket = Socket::connect(&a.address, Open::default()).await;
    socket.subscribe("1", WATCH, json!({ "ids": [item] })).await;
    socket.settle().await;

    let on = b.as_ref().unwrap_or(&a);
    let returned = Instant::now();
    let body = post_as(on, &admin, RETURN, json!({ "i": item })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let message = socket.receive_within(Duration::from_secs(1)).await.unwrap();
    assert!(returned.elapsed() < Duration::from_secs(1));
    assert_eq!(message["id"], "1", "{message}");
    let changed = &message["payload"]["data"]["itemChanged"];
    assert_eq!(changed["id"], item.as_str());
    assert_eq!(changed["status"], "AVAILABLE");
    assert_eq!(changed["dueAt"], Value::Null);
    assert_eq!(changed["holdCount"], 0);

    // Another item's change is not sent to this subscription.
    let other = post_as(
        on,
        &admin,
        "mutation { createItem(input: { name: \"Saw\" }) { id } }",
        json!({}),
    )
    .await;
    assert!(other.get("errors").is_none());
    socket.assert_silent(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn refused_and_rolled_back_changes_announce_nothing() {
    let app = TestApp::spawn().await;
    let (admin, _, item) = item_on_loan(&app).await;
    let mut socket = Socket::connect(&app.address, Open::default()).await;
    socket.subscribe("1", WATCH, json!({ "ids": [item] })).await;
    socket.settle().await;

    // Refused after the item was locked: nothing committed, nothing announced.
    let body = post_as(
        &app,
        &admin,
        "mutation($i: ID!) { setItemAvailable(itemId: $i, available: false) { id } }",
        json!({ "i": item }),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "ITEM_ON_LOAN");
    // The only admin holds the item and tries to delete themselves: their hold is cancelled (the
    // item's queue changes: noted, and on PostgreSQL notified) before the deletion is refused, and
    // the whole transaction rolls back.
    let body = post_as(
        &app,
        &admin,
        "mutation($i: ID!) { placeHold(itemId: $i) { id } }",
        json!({ "i": item }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(socket.next_data("1").await["itemChanged"]["holdCount"], 1);
    let me = post_as(&app, &admin, "{ me { id } }", json!({})).await;
    let body = post_as(
        &app,
        &admin,
        "mutation($id: ID!) { deleteUser(id: $id) }",
        json!({ "id": me["data"]["me"]["id"] }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    if is_postgres() {
        // A notification sent inside a transaction that rolls back is never delivered.
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let txn = app.db.begin().await.unwrap();
        txn.execute_unprepared(&format!(
            "SELECT pg_notify('tkc_events', '[{{\"k\":\"item\",\"id\":{item}}}]')"
        ))
        .await
        .unwrap();
        txn.rollback().await.unwrap();
    }
    socket.assert_silent(Duration::from_millis(800)).await;

    // The channel works: a committed change arrives (the item goes to the admin's hold).
    post_as(&app, &admin, RETURN, json!({ "i": item })).await;
    assert_eq!(
        socket.next_data("1").await["itemChanged"]["status"],
        "ON_HOLD_SHELF"
    );
}

#[tokio::test]
async fn a_lost_listener_reconnects_and_subscribers_get_the_current_state() {
    if !is_postgres() {
        // SQLite has no listening connection to lose: its events stay in the process.
        return;
    }
    let app = TestApp::spawn().await;
    let (_, _, item) = item_on_loan(&app).await;
    let mut socket = Socket::connect(&app.address, Open::default()).await;
    socket.subscribe("1", WATCH, json!({ "ids": [item] })).await;
    socket.settle().await;

    use sea_orm::ConnectionTrait;
    // Change the item behind the listener's back (no notification), then kill its connection:
    // the state resent after the reconnection must show the change.
    app.db
        .execute_unprepared(&format!(
            "UPDATE items SET name = 'Cordless drill' WHERE id = {item}"
        ))
        .await
        .unwrap();
    let kill = format!(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity \
         WHERE application_name = '{}' AND datname = current_database()",
        tkc_library::live::LISTENER_NAME
    );
    let mut killed = false;
    for _ in 0..50 {
        let rows = app
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                kill.clone(),
            ))
            .await
            .unwrap();
        if !rows.is_empty() {
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(killed, "the listener's connection was found");
    let data = socket.next_data("1").await;
    assert_eq!(data["itemChanged"]["name"], "Cordless drill", "{data}");
    // Listening again: a mutation is announced as before.
    let admin = session_cookie(&app, "root").await;
    post_as(&app, &admin, RETURN, json!({ "i": item })).await;
    let data = socket.next_data("1").await;
    assert_eq!(data["itemChanged"]["status"], "AVAILABLE", "{data}");
}

#[tokio::test]
async fn payloads_follow_the_privacy_rules_of_queries() {
    let app = TestApp::spawn().await;
    let (admin, borrower, item) = item_on_loan(&app).await;
    app.borrower("carl").await;
    let carl = session_cookie(&app, "carl").await;
    let watch = "subscription($ids: [ID!]) { itemChanged(ids: $ids) { currentLoan { borrower { username } } myHold { status } } }";
    let mut sockets = Vec::new();
    for cookie in [
        Some(borrower.as_str()),
        Some(carl.as_str()),
        Some(admin.as_str()),
        None,
    ] {
        let mut socket = Socket::connect(
            &app.address,
            Open {
                cookie,
                ..Open::default()
            },
        )
        .await;
        socket.subscribe("1", watch, json!({ "ids": [item] })).await;
        socket.settle().await;
        sockets.push(socket);
    }
    // Carl joins the queue: the item changes (its hold count), with the loan still on.
    let body = post_as(
        &app,
        &carl,
        "mutation($i: ID!) { placeHold(itemId: $i) { status } }",
        json!({ "i": item }),
    )
    .await;
    assert_eq!(body["data"]["placeHold"]["status"], "WAITING", "{body}");
    let mut seen = Vec::new();
    for socket in &mut sockets {
        seen.push(socket.next_data("1").await["itemChanged"].clone());
    }
    let bea = json!({ "borrower": { "username": "bea" } });
    assert_eq!(
        seen[0],
        json!({ "currentLoan": bea, "myHold": null }),
        "the borrower"
    );
    assert_eq!(
        seen[1],
        json!({ "currentLoan": null, "myHold": { "status": "WAITING" } }),
        "another member"
    );
    assert_eq!(
        seen[2],
        json!({ "currentLoan": bea, "myHold": null }),
        "an admin"
    );
    assert_eq!(
        seen[3],
        json!({ "currentLoan": null, "myHold": null }),
        "anonymous"
    );
}

#[tokio::test]
async fn my_hold_changed_follows_the_queue_and_needs_a_session() {
    let app = TestApp::spawn().await;
    let (admin, _, item) = item_on_loan(&app).await;
    let mut anonymous = Socket::connect(&app.address, Open::default()).await;
    anonymous
        .subscribe("1", "subscription { myHoldChanged { id } }", json!({}))
        .await;
    let refused = anonymous.receive().await.unwrap();
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    app.borrower("carl").await;
    app.borrower("dora").await;
    let (carl, dora) = (
        session_cookie(&app, "carl").await,
        session_cookie(&app, "dora").await,
    );
    let mut socket = Socket::connect(
        &app.address,
        Open {
            cookie: Some(&dora),
            ..Open::default()
        },
    )
    .await;
    socket
        .subscribe(
            "h",
            "subscription { myHoldChanged { status position item { id } } }",
            json!({}),
        )
        .await;
    socket.settle().await;
    let hold = "mutation($i: ID!) { placeHold(itemId: $i) { id } }";
    post_as(&app, &carl, hold, json!({ "i": item })).await;
    post_as(&app, &dora, hold, json!({ "i": item })).await;
    // Only Dora's own hold: placed second.
    let mine = socket.next_data("h").await;
    assert_eq!(
        mine["myHoldChanged"],
        json!({ "status": "WAITING", "position": 2, "item": { "id": item } })
    );
    // The return makes Carl's hold ready: Dora moves up.
    post_as(&app, &admin, RETURN, json!({ "i": item })).await;
    let moved = socket.next_data("h").await;
    assert_eq!(moved["myHoldChanged"]["position"], 1, "{moved}");
    socket.assert_silent(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn logging_out_elsewhere_ends_personal_subscriptions_within_five_seconds() {
    let app = TestApp::spawn().await;
    app.borrower("dora").await;
    let cookie = session_cookie(&app, "dora").await;
    let mut socket = Socket::connect(
        &app.address,
        Open {
            cookie: Some(&cookie),
            ..Open::default()
        },
    )
    .await;
    socket
        .subscribe("h", "subscription { myHoldChanged { id } }", json!({}))
        .await;
    socket
        .subscribe(
            "i",
            "subscription { itemChanged { id myHold { id } } }",
            json!({}),
        )
        .await;
    socket
        .subscribe("q", "{ me { username } }", json!({}))
        .await;
    assert_eq!(socket.next_data("q").await["me"]["username"], "dora");
    socket.receive().await;

    let started = Instant::now();
    let body = post_as(&app, &cookie, "mutation { logout }", json!({})).await;
    assert_eq!(body["data"]["logout"], true);
    let ended = socket.receive_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(ended["id"], "h", "{ended}");
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{ended}"
    );
    let complete = socket.receive_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(complete, json!({ "type": "complete", "id": "h" }));
    assert!(started.elapsed() < Duration::from_secs(5));
    // The connection carries on, anonymous now.
    socket
        .subscribe("q2", "{ me { username } }", json!({}))
        .await;
    assert_eq!(socket.next_data("q2").await["me"], Value::Null);

    // A password changed in another session ends this one's.
    let this = session_cookie(&app, "dora").await;
    let other = session_cookie(&app, "dora").await;
    let mut socket = Socket::connect(
        &app.address,
        Open {
            cookie: Some(&this),
            ..Open::default()
        },
    )
    .await;
    socket
        .subscribe("h", "subscription { myHoldChanged { id } }", json!({}))
        .await;
    socket
        .subscribe("q", "{ me { username } }", json!({}))
        .await;
    assert_eq!(socket.next_data("q").await["me"]["username"], "dora");
    socket.receive().await;
    let body = post_as(
        &app,
        &other,
        "mutation($p: String!) { changePassword(currentPassword: $p, newPassword: \"another password\") }",
        json!({ "p": PASSWORD }),
    )
    .await;
    assert_eq!(body["data"]["changePassword"], true, "{body}");
    let ended = socket.receive_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{ended}"
    );
}

#[tokio::test]
async fn only_this_servers_origin_and_allowed_ones_may_upgrade() {
    let app = TestApp::spawn_with(|c| {
        c.http.cors_allowed_origins = vec![
            <tkc_library::config::Origin as tkc_library::config::Setting>::parse(
                "https://app.example",
            )
            .unwrap(),
        ];
    })
    .await;
    let own = app.address.clone();
    for origin in [None, Some(own.as_str()), Some("https://app.example")] {
        assert!(
            Socket::open(
                &app.address,
                Open {
                    cookie: None,
                    origin
                }
            )
            .await
            .is_ok(),
            "{origin:?}"
        );
    }
    for origin in ["https://evil.example", "null", "http://localhost:1"] {
        let refused = Socket::open(
            &app.address,
            Open {
                cookie: None,
                origin: Some(origin),
            },
        )
        .await;
        assert_eq!(refused.err(), Some(403), "{origin}");
    }
}

#[tokio::test]
async fn subscriptions_and_sockets_are_bounded() {
    let app = TestApp::spawn_with(|c| {
        c.live.max_subscriptions = 2;
        c.live.max_connections = 2;
    })
    .await;
    let mut socket = Socket::connect(&app.address, Open::default()).await;
    socket.subscribe("1", WATCH, json!({})).await;
    socket.subscribe("2", WATCH, json!({})).await;
    socket.subscribe("3", WATCH, json!({})).await;
    let refused = socket.receive().await.unwrap();
    assert_eq!(refused["id"], "3");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );
    assert_eq!(socket.receive().await.unwrap()["type"], "complete");
    // Completing one frees its place.
    socket.send(json!({ "type": "complete", "id": "1" })).await;
    // (async-graphql confirms it.)
    assert_eq!(
        socket.receive().await.unwrap(),
        json!({ "type": "complete", "id": "1" })
    );
    // (Queries in flight count too: this one takes the place subscription 1 gave back.)
    socket.settle().await;

    // Mutations go by POST.
    socket
        .subscribe("m", "mutation { logout }", json!({}))
        .await;
    let refused = socket.receive().await.unwrap();
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "METHOD_NOT_ALLOWED",
        "{refused}"
    );

    // Two sockets at most: a third upgrade is 503, and closing one makes room.
    let second = Socket::connect(&app.address, Open::default()).await;
    assert_eq!(
        Socket::open(&app.address, Open::default()).await.err(),
        Some(503)
    );
    drop(second);
    let mut opened = false;
    for _ in 0..50 {
        if Socket::open(&app.address, Open::default()).await.is_ok() {
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(opened, "a closed socket gives its place back");
}

#[tokio::test]
async fn post_added_sends_new_posts_by_the_author_asked_for() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.borrower("ada").await;
    app.borrower("bob").await;
    let (ada_cookie, bob_cookie) = (
        session_cookie(&app, "ada").await,
        session_cookie(&app, "bob").await,
    );
    let mut socket = Socket::connect(&app.address, Open::default()).await;
    socket
        .subscribe(
            "p",
            "subscription($a: ID) { postAdded(authorId: $a) { title author { username } } }",
            json!({ "a": ada.to_string() }),
        )
        .await;
    socket.settle().await;
    let write = "mutation($t: String!) { createPost(input: { title: $t, body: \"b\" }) { id } }";
    post_as(&app, &bob_cookie, write, json!({ "t": "by bob" })).await;
    post_as(&app, &ada_cookie, write, json!({ "t": "by ada" })).await;
    assert_eq!(
        socket.next_data("p").await["postAdded"],
        json!({ "title": "by ada", "author": { "username": "ada" } })
    );
}

#[tokio::test]
async fn a_client_that_never_initialises_is_closed_with_4408() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(&app.address, Open::default()).await.unwrap();
    assert_eq!(socket.close_code(Duration::from_secs(15)).await, Some(4408));
}
