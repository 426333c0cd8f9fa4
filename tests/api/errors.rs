//! Every error carries `extensions.code`; internals never reach the client.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{TestApp, at, error_codes};

#[tokio::test]
async fn page_sizes_outside_0_to_100_are_bad_user_input_on_first() {
    let app = TestApp::spawn().await;

    for first in [101, -1] {
        for query in [
            "query($n: Int) { items(first: $n) { totalCount } }",
            "query($n: Int) { posts(first: $n) { totalCount } }",
            "query($n: Int) { users(first: $n) { totalCount } }",
        ] {
            let body = app.graphql(query, json!({ "n": first })).await;
            assert_eq!(
                error_codes(&body),
                ["BAD_USER_INPUT"],
                "{query} {first}: {body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], "first");
        }
    }
}

#[tokio::test]
async fn a_malformed_cursor_is_bad_user_input_on_after() {
    let app = TestApp::spawn().await;

    for cursor in ["nonsense", "", "djE6YWJjOjE", "%%%"] {
        let body = app
            .graphql(
                "query($c: String) { items(after: $c) { totalCount } }",
                json!({ "c": cursor }),
            )
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{cursor}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "after");
    }
}

#[tokio::test]
async fn a_missing_id_is_null_and_a_malformed_one_is_bad_user_input() {
    let app = TestApp::spawn().await;

    let data = app
        .query(
            r#"{ item(id: "987654") { id } post(id: "987654") { id } user(id: "987654") { id } userByUsername(username: "nobody") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data,
        json!({ "item": null, "post": null, "user": null, "userByUsername": null })
    );

    let body = app
        .graphql(r#"{ item(id: "abc") { id } }"#, json!({}))
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert_eq!(body["errors"][0]["extensions"]["field"], "id");
    let body = app
        .graphql(r#"{ posts(authorId: "x") { totalCount } }"#, json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "authorId");
}

#[tokio::test]
async fn parse_and_validation_errors_have_codes() {
    let app = TestApp::spawn().await;

    let body = app.graphql("{ items { ", json!({})).await;
    assert_eq!(error_codes(&body), ["GRAPHQL_PARSE_FAILED"]);

    let body = app.graphql("{ items { nope } }", json!({})).await;
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"]);

    let body = app
        .graphql(
            "query($n: Int) { items(first: $n) { totalCount } }",
            json!({ "n": "ten" }),
        )
        .await;
    assert!(!error_codes(&body).is_empty());
    assert!(error_codes(&body).iter().all(|c| c != "<none>"), "{body}");
}

#[tokio::test]
async fn internal_errors_are_opaque() {
    let app = TestApp::spawn().await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;
    // Break the database behind the server's back: the next query fails inside the driver.
    app.db
        .execute_unprepared("ALTER TABLE items RENAME TO items_gone")
        .await
        .unwrap();

    let body = app.graphql("{ items { totalCount } }", json!({})).await;

    assert_eq!(error_codes(&body), ["INTERNAL_SERVER_ERROR"], "{body}");
    let text = body.to_string().to_lowercase();
    for leak in ["items", "table", "sql", "relation", "select", ".rs"] {
        assert!(
            !body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(leak),
            "the message leaks `{leak}`: {text}"
        );
    }
    assert!(
        !text.contains("no such table") && !text.contains("does not exist"),
        "{text}"
    );
}
