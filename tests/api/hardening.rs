//! Liveness, panics, timeouts, pool exhaustion, oversized headers, request ids.

use std::time::{Duration, Instant};

use sea_orm::TransactionTrait;
use serde_json::json;

use crate::helpers::{TestApp, error_codes};

#[tokio::test]
async fn live_answers_without_the_database_and_health_does_not() {
    let app = TestApp::spawn().await;
    app.db.close_by_ref().await.unwrap();

    let live = app.get("/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(
        live.json::<serde_json::Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
    assert_eq!(app.get("/health").await.status(), 503);
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;

    let response = app.get("/__test/panic").await;

    assert_eq!(response.status(), 500);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["INTERNAL_SERVER_ERROR"]);
    assert!(
        !body.to_string().contains("test asked"),
        "the panic message stays in the log"
    );
    assert_eq!(app.get("/live").await.status(), 200);
}

#[tokio::test]
async fn a_request_over_the_timeout_is_cut_off() {
    let app = TestApp::spawn_with(|c| {
        c.http.request_timeout = Duration::from_millis(300);
    })
    .await;

    let started = Instant::now();
    let response = app.get("/__test/sleep/5000").await;
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(app.get("/__test/sleep/10").await.status(), 200);
}

#[tokio::test]
async fn with_the_pool_exhausted_queries_fail_fast_and_typename_and_live_still_answer() {
    let app = TestApp::spawn_with(|c| {
        c.database.max_connections = 1;
        c.database.acquire_timeout = Duration::from_secs(1);
    })
    .await;
    // Hold the only connection.
    let held = app.db.begin().await.unwrap();

    let started = Instant::now();
    let body = app.graphql("{ items { totalCount } }", json!({})).await;
    let waited = started.elapsed();
    assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"], "{body}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");

    let started = Instant::now();
    app.query("{ __typename }", json!({})).await;
    assert_eq!(app.get("/live").await.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    held.rollback().await.unwrap();
    app.query("{ items { totalCount } }", json!({})).await;
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let app = TestApp::spawn().await;
    let mut request = app.client.get(format!("{}/live", app.address));
    for i in 0..150 {
        request = request.header(format!("x-filler-{i}"), "x");
    }
    let status = match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 431, // the server may close the connection instead of answering
    };
    assert_eq!(status, 431);

    let huge = "x".repeat(512 * 1024);
    let status = match app
        .client
        .get(format!("{}/live", app.address))
        .header("x-huge", huge)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 431,
    };
    assert_eq!(status, 431);
    assert_eq!(app.get("/live").await.status(), 200);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(format!("{}/live", app.address))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");

    let a = app.get("/live").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let b = app.get("/live").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(a.len() >= 16 && a != b, "{a} {b}");
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::spawn().await;
    for path in ["/", "/live", "/graphql?query=%7B__typename%7D"] {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "{path}"
        );
    }
}

#[tokio::test]
async fn postgresql_connections_carry_the_statement_timeout() {
    use sea_orm::ConnectionTrait;
    if crate::helpers::postgres_url().is_none() {
        eprintln!("skipped: statement_timeout is PostgreSQL's");
        return;
    }
    let app =
        TestApp::spawn_with(|c| c.database.statement_timeout = Some(Duration::from_millis(1500)))
            .await;

    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SHOW statement_timeout",
        ))
        .await
        .unwrap()
        .unwrap();
    let value: String = row.try_get("", "statement_timeout").unwrap();
    assert_eq!(value, "1500ms");

    let slow = app.db.execute_unprepared("SELECT pg_sleep(3)").await;
    assert!(slow.is_err(), "a statement over the timeout is cancelled");
}
