//! The read API's fields, as a frontend sees them.

use serde_json::json;

use crate::helpers::{TestApp, at};

#[tokio::test]
async fn an_item_shows_its_fields() {
    let app = TestApp::spawn().await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;

    let data = app
        .query(
            r#"{ item(id: "1") { id name description createdAt } }"#,
            json!({}),
        )
        .await;

    assert_eq!(
        data["item"],
        json!({ "id": "1", "name": "Dune", "description": null, "createdAt": "2025-10-09T08:53:20+00:00" })
    );
}

#[tokio::test]
async fn a_post_shows_its_author_and_a_user_their_posts() {
    let app = TestApp::spawn().await;
    let ada = app.insert_user("Ada", at(0)).await;
    let bob = app.insert_user("bob", at(1)).await;
    app.insert_posts([
        (ada, "first".to_owned(), at(10)),
        (ada, "second".to_owned(), at(20)),
        (bob, "bob's".to_owned(), at(30)),
    ])
    .await;

    let data = app
        .query(
            r#"query($ada: ID!) {
                post(id: "2") { title body createdAt updatedAt author { username role imageFile } }
                byName: userByUsername(username: "ADA") { id username postCount createdAt
                    posts { totalCount edges { node { title } } } }
                adaPosts: posts(authorId: $ada) { totalCount edges { node { title } } }
                all: posts { totalCount edges { node { title } } }
            }"#,
            json!({ "ada": ada.to_string() }),
        )
        .await;

    assert_eq!(
        data["post"],
        json!({
            "title": "second", "body": "body",
            "createdAt": "2025-10-09T08:53:40+00:00", "updatedAt": "2025-10-09T08:53:40+00:00",
            "author": { "username": "Ada", "role": "BORROWER", "imageFile": "default.jpg" }
        })
    );
    assert_eq!(data["byName"]["id"], ada.to_string());
    assert_eq!(data["byName"]["postCount"], 2);
    assert_eq!(
        data["byName"]["posts"],
        json!({ "totalCount": 2, "edges": [{ "node": { "title": "second" } }, { "node": { "title": "first" } }] })
    );
    assert_eq!(data["adaPosts"]["totalCount"], 2);
    assert_eq!(data["all"]["totalCount"], 3);
    assert_eq!(
        data["all"]["edges"][0]["node"]["title"], "bob's",
        "newest first"
    );
}

#[tokio::test]
async fn first_zero_returns_no_edges_but_tells_whether_there_are_more() {
    let app = TestApp::spawn().await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;

    let data = app
        .query("{ items(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage startCursor endCursor } } }", json!({}))
        .await;

    assert_eq!(
        data["items"],
        json!({ "totalCount": 1, "edges": [], "pageInfo": { "hasNextPage": true, "startCursor": null, "endCursor": null } })
    );
}

#[tokio::test]
async fn users_do_not_expose_password_hashes() {
    let app = TestApp::spawn().await;

    for field in ["passwordHash", "password_hash", "password"] {
        let body = app
            .graphql(
                &format!("{{ users {{ edges {{ node {{ {field} }} }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(
            crate::helpers::error_codes(&body),
            ["GRAPHQL_VALIDATION_FAILED"],
            "{field}"
        );
    }
}

#[tokio::test]
async fn a_null_first_means_the_default_page_size() {
    let app = TestApp::spawn().await;
    app.insert_items((0..25).map(|i| (format!("item {i}"), at(i))))
        .await;

    let data = app
        .query(
            "query($first: Int) { items(first: $first) { edges { cursor } } }",
            json!({ "first": null }),
        )
        .await;

    assert_eq!(data["items"]["edges"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn a_failed_nullable_field_is_null_and_the_others_still_answer() {
    let app = TestApp::spawn().await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;

    let body = app
        .graphql(
            r#"{ bad: item(id: "nope") { id } good: items { totalCount } other: item(id: "1") { name } }"#,
            json!({}),
        )
        .await;

    assert_eq!(
        body["data"],
        json!({ "bad": null, "good": { "totalCount": 1 }, "other": { "name": "Dune" } })
    );
    assert_eq!(body["errors"][0]["path"], json!(["bad"]));
}
