use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn health_is_ok_after_a_database_round_trip() {
    let app = TestApp::spawn().await;

    let response = app.get("/health").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ok", "database": "ok" }));
}

#[tokio::test]
async fn health_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db.close_by_ref().await.unwrap();

    let response = app.get("/health").await;

    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "status": "unavailable", "database": "unreachable" })
    );
}

#[tokio::test]
async fn the_playground_is_served_at_the_root() {
    let app = TestApp::spawn().await;

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(response.text().await.unwrap().contains("/graphql"));
}

#[tokio::test]
async fn metrics_count_requests_and_statements() {
    let app = TestApp::spawn().await;
    let read = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = app.get("/metrics").await.text().await.unwrap();

    app.query("{ items { totalCount } }", serde_json::json!({}))
        .await;
    app.query("{ __typename }", serde_json::json!({})).await;

    let after = app.get("/metrics").await.text().await.unwrap();
    let requests =
        read(&after, "tkc_graphql_requests_total") - read(&before, "tkc_graphql_requests_total");
    let statements =
        read(&after, "tkc_sql_statements_total") - read(&before, "tkc_sql_statements_total");
    assert_eq!(requests, 2);
    assert_eq!(
        statements, 1,
        "totalCount is one COUNT; __typename touches nothing"
    );
}
