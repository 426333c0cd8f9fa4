//! Production mode: no introspection or suggestions unless asked, no playground unless asked.
//! Introspection off means a document asking for it is refused as a whole, never answered `null`.

use serde_json::{Value, json};
use tkc_library::config::AppEnv;

use crate::helpers::{TestApp, error_codes};

async fn production(introspection: bool, playground: bool) -> TestApp {
    TestApp::spawn_with(|c| {
        c.app_env = AppEnv::Production;
        c.graphql.introspection = introspection;
        c.http.playground = playground;
    })
    .await
}

#[tokio::test]
async fn production_hides_introspection_suggestions_and_the_playground() {
    let app = production(false, false).await;

    let body = app.graphql("{ itemz { totalCount } }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");

    for path in ["/", "/playground", "/playground/operations.json"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    app.query("{ items { totalCount } }", json!({})).await;
}

#[tokio::test]
async fn production_can_opt_in_to_introspection_and_the_playground() {
    let app = production(true, true).await;

    let data = app
        .query("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    assert_eq!(app.get("/").await.status(), 200);
    let operations: serde_json::Value = app
        .get("/playground/operations.json")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = operations
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains("demo")),
        "no demo login tab in production: {names:?}"
    );
}

#[tokio::test]
async fn development_suggests_field_names() {
    let app = TestApp::spawn().await;
    let body = app.graphql("{ itemz { totalCount } }", json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );
}

/// POSTs `query` asking for the GraphQL response media type; the status and the body.
async fn post(app: &TestApp, query: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

const INTROSPECTION: [&str; 5] = [
    "{ __schema { types { name } } }",
    r#"{ __type(name: "User") { name } }"#,
    "{ items { totalCount } __schema { queryType { name } } }",
    "query { ...Schema } fragment Schema on Query { __schema { queryType { name } } }",
    r#"{ ... on Query { __type(name: "Item") { fields { name } } } }"#,
];

#[tokio::test]
async fn production_refuses_introspection_as_a_request_error_and_answers_typename() {
    let app = production(false, false).await;

    for query in INTROSPECTION {
        let (status, body) = post(&app, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{query}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("introspection is disabled"), "{message}");
        // Over legacy JSON too: a request error, never `{"data": {"__schema": null}}`.
        let body = app.graphql(query, json!({})).await;
        assert!(body.get("data").is_none(), "{query}: {body}");
    }

    let data = app
        .query("{ __typename items { __typename totalCount } }", json!({}))
        .await;
    assert_eq!(data["__typename"], "Query");
    assert_eq!(data["items"]["__typename"], "ItemConnection");
}

#[tokio::test]
async fn development_and_an_opted_in_production_answer_introspection() {
    for app in [TestApp::spawn().await, production(true, false).await] {
        for query in INTROSPECTION {
            let (status, body) = post(&app, query).await;
            assert_eq!(status, 200, "{query}: {body}");
            assert!(body.get("errors").is_none(), "{query}: {body}");
        }
        let data = app
            .query("{ __schema { queryType { name } } }", json!({}))
            .await;
        assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    }
}

#[tokio::test]
async fn production_refuses_introspection_over_websocket_too() {
    use crate::live::{Open, Socket};
    let app = production(false, false).await;
    let mut socket = Socket::connect(&app.address, Open::default()).await;

    socket
        .subscribe("1", "{ __schema { queryType { name } } }", json!({}))
        .await;

    let refused = socket.receive().await.unwrap();
    assert_eq!(refused["id"], "1", "{refused}");
    assert!(
        refused["payload"].get("data").is_none_or(Value::is_null),
        "{refused}"
    );
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{refused}"
    );
}
