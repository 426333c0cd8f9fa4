//! HTTP semantics of `/graphql`: methods, content types, status codes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, at};

#[tokio::test]
async fn a_query_over_get_answers() {
    let app = TestApp::spawn().await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;

    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "{ items { edges { node { name } } } }")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["items"]["edges"][0]["node"]["name"], "Dune");
}

#[tokio::test]
async fn a_mutation_over_get_is_405() {
    let app = TestApp::spawn().await;

    for (query, operation) in [
        ("mutation { logout }", None),
        (
            "query A { items { totalCount } } mutation B { logout }",
            Some("B"),
        ),
    ] {
        let mut params = vec![("query", query)];
        if let Some(op) = operation {
            params.push(("operationName", op));
        }
        let response = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&params)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 405, "{query}");
        assert_eq!(response.headers()["allow"], "POST");
    }
}

#[tokio::test]
async fn a_post_that_is_not_json_is_415() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": "{ items { totalCount } }" }).to_string();

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.address))
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
    }
}

#[tokio::test]
async fn json_with_a_charset_is_accepted() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({ "query": "{ items { totalCount } }" }).to_string())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["items"]["totalCount"], 0);
}
