//! Production mode: no introspection or suggestions unless asked, no playground unless asked.

use serde_json::json;
use tkc_library::config::AppEnv;

use crate::helpers::TestApp;

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

    let body = app
        .graphql(
            "{ __schema { types { name } } __type(name: \"User\") { name } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["__schema"].is_null(), "{body}");
    assert!(body["data"]["__type"].is_null(), "{body}");

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
