//! Admission before work: a request is refused after a cheap, bounded check, before the expensive
//! work the check is there to prevent (fragment bombs, costs hidden in variable defaults, huge
//! responses, oversize bodies), and every refusal on `/graphql` is a coded GraphQL error.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, error_codes};

/// `levels` fragments on `on`, each spreading the next eight times: 8^(levels-1) leaves once
/// expanded, in a document of a few hundred bytes per level.
fn fragment_bomb(levels: usize, on: &str, leaf: &str) -> String {
    let mut document = String::new();
    for level in 1..levels {
        let spreads = format!("...A{} ", level + 1).repeat(8);
        document.push_str(&format!("fragment A{level} on {on} {{ {spreads}}}\n"));
    }
    document.push_str(&format!("fragment A{levels} on {on} {{ {leaf} }}\n"));
    document
}

#[tokio::test]
async fn fragment_bombs_are_refused_at_once_and_live_keeps_answering() {
    let app = TestApp::spawn().await;
    let mut bombs = Vec::new();
    for levels in [10, 20, 31] {
        let on_item = format!(
            "{}{{ item(id: \"1\") {{ ...A1 }} }}",
            fragment_bomb(levels, "Item", "id")
        );
        let on_query = format!(
            "{}{{ ...A1 }}",
            fragment_bomb(levels, "Query", "__typename")
        );
        bombs.push((levels, on_item));
        bombs.push((levels, on_query));
    }
    // Before the fix, 10 levels alone took 5 s of CPU, and each level more multiplied it by 8.
    let started = Instant::now();
    let answers = futures_util::future::join_all(bombs.iter().map(|(levels, bomb)| {
        let app = &app;
        async move {
            let started = Instant::now();
            let body = app.graphql(bomb, json!({})).await;
            (*levels, body, started.elapsed())
        }
    }))
    .await;
    for (levels, body, took) in answers {
        assert_eq!(
            error_codes(&body),
            ["QUERY_TOO_COMPLEX"],
            "{levels}: {body}"
        );
        assert!(body.get("data").is_none(), "{body}");
        assert!(
            took < Duration::from_secs(2),
            "{levels} levels took {took:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    let started = Instant::now();
    assert_eq!(app.get("/live").await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_fragment_that_spreads_itself_is_refused_without_expanding_it() {
    let app = TestApp::spawn().await;
    let cycle = "fragment A on Query { ...B ...B } fragment B on Query { ...A ...A } { ...A }";
    let body = app.graphql(cycle, json!({})).await;
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");

    // Fragments that are merely reused, not recursive, are fine.
    let reused =
        "fragment T on Query { __typename } fragment U on Query { ...T ...T } { ...U ...U ...T }";
    app.query(reused, json!({})).await;
}

#[tokio::test]
async fn complexity_counts_a_variables_default_value() {
    let app = TestApp::spawn().await;
    let nested = "query($n: Int = 100) { posts(first: $n) { edges { node { author { posts(first: $n) { edges { node { body } } } } } } } }";
    // Before the fix this was costed as if `first` were 20, and accepted.
    let body = app.graphql(nested, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    // The value sent wins over the default; null means the field's own default (20).
    app.query(nested, json!({ "n": 5 })).await;
    app.query(nested, json!({ "n": null })).await;
    let body = app.graphql(nested, json!({ "n": 100 })).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
}

#[tokio::test]
async fn a_response_over_the_byte_limit_is_refused_whole() {
    let app = TestApp::spawn_with(|c| c.limits.response_bytes = 50_000).await;
    let (writer, _) = app.borrower("writer").await;
    let body = "x".repeat(20_000);
    for i in 0..5 {
        writer
            .query(
                "mutation($input: CreatePostInput!) { createPost(input: $input) { id } }",
                json!({ "input": { "title": format!("long {i}"), "body": body } }),
            )
            .await;
    }

    // 100,000 bytes of bodies: refused with a code, no partial data.
    let all = "{ posts { edges { node { title body } } } }";
    let answer = app.graphql(all, json!({})).await;
    assert_eq!(
        error_codes(&answer),
        ["RESPONSE_TOO_LARGE"],
        "{answer:.300}"
    );
    assert_eq!(answer["data"], Value::Null);
    assert!(answer.to_string().len() < 1_000);

    // The same in a batch: each operation is answered with the error.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!([{ "query": all }, { "query": "{ __typename }" }]))
        .send()
        .await
        .unwrap();
    let list: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&list[0]), ["RESPONSE_TOO_LARGE"]);
    assert_eq!(error_codes(&list[1]), ["RESPONSE_TOO_LARGE"]);

    // Two bodies fit.
    let data = app
        .query("{ posts(first: 2) { edges { node { body } } } }", json!({}))
        .await;
    assert_eq!(data["posts"]["edges"][1]["node"]["body"], json!(body));
}

/// Sends `head` (and nothing more) on a raw connection and reads the answer.
async fn raw(app: &TestApp, head: &str) -> String {
    let port = app.address.rsplit(':').next().unwrap();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut answer))
        .await
        .expect("an answer within 3 s")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    let answer = raw(
        &app,
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"REQUEST_TOO_LARGE""#), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn every_refusal_on_graphql_is_a_coded_graphql_error() {
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.address);
    let cases = [
        (
            app.client
                .post(&url)
                .header(CONTENT_TYPE, "text/plain")
                .body("{}"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            app.client
                .get(&url)
                .query(&[("query", "mutation { logout }")]),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (app.client.put(&url).body("{}"), 405, "METHOD_NOT_ALLOWED"),
        (
            app.client
                .get(&url)
                .query(&[("query", "{ __typename }")])
                .header(ACCEPT, "text/html"),
            406,
            "NOT_ACCEPTABLE",
        ),
        (
            app.client
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body("x".repeat(1024 * 1024 + 1)),
            413,
            "REQUEST_TOO_LARGE",
        ),
        (
            app.client
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body("{"),
            400,
            "BAD_REQUEST",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{code}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body), [code], "{body}");
    }
}

#[tokio::test]
async fn a_timed_out_request_is_a_coded_error() {
    let app = TestApp::spawn_with(|c| {
        c.http.request_timeout = Duration::from_millis(200);
    })
    .await;
    let response = app.get("/__test/sleep/3000").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"], "{body}");
}

#[tokio::test]
async fn a_later_root_mutation_field_runs_as_who_the_user_is_now() {
    let app = TestApp::spawn().await;
    app.admin("other").await;
    let (admin, id) = app.admin("leaving").await;

    let body = admin
        .graphql(
            "mutation($id: ID!) { deleteUser(id: $id) createItem(input: { name: \"after\" }) { id } }",
            json!({ "id": id.to_string() }),
        )
        .await;
    // createItem is non-null: its error nulls the whole `data`, but deleteUser did run.
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["createItem"]), "{body}");
    assert_eq!(app.count("users").await, 1, "the admin was deleted");
    assert_eq!(
        app.count("items").await,
        0,
        "the deleted admin created nothing"
    );

    // Demoted by the first field: the second is refused as well.
    let (admin, id) = app.admin("demoted").await;
    let body = admin
        .graphql(
            "mutation($id: ID!) { setUserRole(userId: $id, role: BORROWER) { role } createItem(input: { name: \"after\" }) { id } }",
            json!({ "id": id.to_string() }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(app.count("items").await, 0);

    // Unchanged, both fields run.
    let (admin, _) = app.admin("staying").await;
    let data = admin
        .query(
            "mutation { a: createItem(input: { name: \"one\" }) { id } b: createItem(input: { name: \"two\" }) { id } }",
            json!({}),
        )
        .await;
    assert!(data["b"]["id"].is_string());
    assert_eq!(app.count("items").await, 2);
}

#[tokio::test]
async fn a_cached_document_is_still_measured_with_each_requests_variables() {
    for cache in [1000, 0] {
        let app = TestApp::spawn_with(|c| c.graphql.document_cache = cache).await;
        let query = "query($n: Int) { users(first: $n) { edges { node { posts(first: 20) { edges { node { title } } } } } } }";
        for _ in 0..3 {
            app.query(query, json!({ "n": 5 })).await;
        }
        // The same text, now too costly: the parse may come from the cache, the measure does not.
        let body = app.graphql(query, json!({ "n": 100 })).await;
        assert_eq!(
            error_codes(&body),
            ["QUERY_TOO_COMPLEX"],
            "cache {cache}: {body}"
        );
        app.query(query, json!({ "n": 5 })).await;
    }
}
