//! The binary as operators run it: graceful shutdown on SIGTERM, and logs that never hold a
//! password, a session token or a cookie.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::TestDatabase;

/// Starts `tkc-library serve` on a free port; returns the child, its address and the lines of its
/// standard error so far (the rest is read by the caller).
async fn serve(
    db: &TestDatabase,
    env: &[(&str, &str)],
) -> (Child, String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tkc-library"));
    command
        .arg("serve")
        .current_dir(std::env::temp_dir())
        .env("DATABASE_URL", &db.url)
        .env("PORT", "0")
        .env("APP_ENV", "development")
        .env("SEED_DEMO", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (lines_tx, lines_rx) = tokio::sync::mpsc::unbounded_channel();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = rx.recv().await {
            let _ = lines_tx.send(line.clone());
            if let Some(rest) = line.split("serving http://").nth(1) {
                let hostport = rest.split('/').next().unwrap().to_owned();
                return format!("http://{hostport}");
            }
        }
        panic!("the server stopped before serving");
    })
    .await
    .expect("the server starts");
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, address, lines_rx)
}

fn sigterm(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn drain(mut lines: tokio::sync::mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut all = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(2), lines.recv()).await {
        all.push(line);
    }
    all
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_0() {
    let db = TestDatabase::create().await;
    // Eight logins for one account at once: more than the throttle lets be in flight by default.
    let (mut child, address, lines) = serve(
        &db,
        &[
            ("PASSWORD_HASH_CONCURRENCY", "1"),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "100"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let login = json!({ "query": "mutation { login(username: \"admin\", password: \"admin\") { username } }" });

    // Logins queue behind one argon2 at a time: some are still running when SIGTERM arrives.
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let request = client
                .post(format!("{address}/graphql"))
                .json(&login)
                .send();
            tokio::spawn(request)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(60)).await;
    sigterm(&child);

    for request in requests {
        let response = request
            .await
            .unwrap()
            .expect("an in-flight request completes");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["login"]["username"], "admin", "{body}");
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let logs = drain(lines).await.join("\n");
    assert!(
        logs.contains("shutting down") && logs.contains("stopped"),
        "{logs}"
    );
    assert!(
        client.get(format!("{address}/live")).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn sigterm_closes_websockets_with_going_away() {
    let db = TestDatabase::create().await;
    let (mut child, address, _lines) = serve(&db, &[]).await;
    let mut socket = crate::live::Socket::connect(&address, crate::live::Open::default()).await;
    socket
        .subscribe("1", "subscription { itemChanged { id } }", json!({}))
        .await;
    sigterm(&child);
    assert_eq!(socket.close_code(Duration::from_secs(10)).await, Some(1001));
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn logs_are_json_with_request_ids_and_never_hold_secrets() {
    let db = TestDatabase::create().await;
    let (mut child, address, lines) =
        serve(&db, &[("LOG_FORMAT", "json"), ("RUST_LOG", "debug")]).await;
    let client = reqwest::Client::new();
    let password = "Unmistakable-Passw0rd-7f3e";
    let register = json!({
        "query": "mutation Register($input: RegisterInput!) { register(input: $input) { id } }",
        "operationName": "Register",
        "variables": { "input": { "username": "logcheck", "email": "logcheck@x.org", "password": password } }
    });
    let response = client
        .post(format!("{address}/graphql"))
        .json(&register)
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let value = cookie.split_once('=').unwrap().1.to_owned();
    let login = json!({
        "query": "mutation Login($p: String!) { login(username: \"logcheck\", password: $p) { id } }",
        "operationName": "Login",
        "variables": { "p": password }
    });
    client
        .post(format!("{address}/graphql"))
        .header("cookie", &cookie)
        .header("x-request-id", "log-test-1")
        .json(&login)
        .send()
        .await
        .unwrap();
    let wrong = json!({ "query": format!("mutation {{ login(username: \"logcheck\", password: \"{password}x\") {{ id }} }}") });
    client
        .post(format!("{address}/graphql"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    // Echoed inputs are cut short: a 900 KB operation name and an 8,000-character path.
    let huge = json!({ "query": "query Q { __typename }", "operationName": "N".repeat(900_000) });
    client
        .post(format!("{address}/graphql"))
        .header("x-request-id", "log-test-huge")
        .json(&huge)
        .send()
        .await
        .unwrap();
    client
        .get(format!("{address}/{}", "p".repeat(8_000)))
        .send()
        .await
        .unwrap();

    sigterm(&child);
    child.wait().await.unwrap();
    let logs = drain(lines).await;

    let token = &value[value.len() - 64..];
    for line in &logs {
        assert!(line.len() < 2_000, "a log line of {} bytes", line.len());
        assert!(!line.contains(password), "a password in the log: {line}");
        assert!(!line.contains(token), "a session token in the log: {line}");
        assert!(!line.contains(&value), "a cookie in the log: {line}");
    }
    let parsed: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        parsed.len() >= logs.len() / 2,
        "the log is JSON lines: {logs:#?}"
    );
    let finished = parsed
        .iter()
        .find(|l| l["span"]["id"] == "log-test-1" && l["fields"]["message"] == "request finished")
        .unwrap_or_else(|| panic!("no request line: {logs:#?}"));
    assert_eq!(finished["span"]["operation"], "Login");
    let huge = parsed
        .iter()
        .find(|l| {
            l["span"]["id"] == "log-test-huge" && l["fields"]["message"] == "request finished"
        })
        .unwrap_or_else(|| panic!("no line for the huge name: {logs:#?}"));
    let logged = huge["span"]["operation"].as_str().unwrap();
    assert_eq!(logged, format!("{}…", "N".repeat(64)));
    assert_eq!(finished["fields"]["status"], 200);
    assert!(finished["fields"]["ms"].is_string() || finished["fields"]["ms"].is_number());
}
