//! Items and posts: who may change what, validation, and nothing half-written.

use serde_json::json;

use crate::helpers::{TestApp, error_codes};

const CREATE_POST: &str = "mutation($t: String!, $b: String!) { createPost(input: { title: $t, body: $b }) { id title author { username } } }";
const UPDATE_POST: &str =
    "mutation($id: ID!, $t: String) { updatePost(id: $id, input: { title: $t }) { title body } }";
const DELETE_POST: &str = "mutation($id: ID!) { deletePost(id: $id) }";

#[tokio::test]
async fn the_author_and_admins_may_edit_a_post_and_others_may_not() {
    let app = TestApp::spawn().await;
    let (author, _) = app.borrower("ada").await;
    let (other, _) = app.borrower("bob").await;
    let (admin, _) = app.admin("root").await;
    let data = author
        .query(CREATE_POST, json!({ "t": " Hello ", "b": "World" }))
        .await;
    assert_eq!(data["createPost"]["title"], "Hello");
    assert_eq!(data["createPost"]["author"]["username"], "ada");
    let id = data["createPost"]["id"].clone();

    assert_eq!(
        other
            .error_code(UPDATE_POST, json!({ "id": id, "t": "Hijacked" }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        other.error_code(DELETE_POST, json!({ "id": id })).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.anonymous()
            .error_code(UPDATE_POST, json!({ "id": id, "t": "x" }))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.anonymous()
            .error_code(DELETE_POST, json!({ "id": id }))
            .await,
        "UNAUTHENTICATED"
    );

    let data = author
        .query(UPDATE_POST, json!({ "id": id, "t": "By the author" }))
        .await;
    assert_eq!(
        data["updatePost"],
        json!({ "title": "By the author", "body": "World" })
    );
    let data = admin
        .query(UPDATE_POST, json!({ "id": id, "t": "By an admin" }))
        .await;
    assert_eq!(data["updatePost"]["title"], "By an admin");

    // Deleting: the author may, and an admin may delete anyone's.
    let second = author
        .query(CREATE_POST, json!({ "t": "Second", "b": "b" }))
        .await["createPost"]["id"]
        .clone();
    assert_eq!(
        author.query(DELETE_POST, json!({ "id": id })).await["deletePost"],
        id
    );
    assert_eq!(
        admin.query(DELETE_POST, json!({ "id": second })).await["deletePost"],
        second
    );
    assert_eq!(app.count("posts").await, 0);
    assert_eq!(
        author.error_code(DELETE_POST, json!({ "id": id })).await,
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn post_and_item_inputs_are_validated_by_field() {
    let app = TestApp::spawn().await;
    let (author, _) = app.borrower("ada").await;
    let (admin, _) = app.admin("root").await;

    for (vars, field) in [
        (json!({ "t": "   ", "b": "b" }), "title"),
        (json!({ "t": "x".repeat(101), "b": "b" }), "title"),
        (json!({ "t": "t", "b": "" }), "body"),
    ] {
        let body = author.graphql(CREATE_POST, vars).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    const CREATE_ITEM: &str = "mutation($n: String!, $d: String) { createItem(input: { name: $n, description: $d }) { id name description } }";
    for (vars, field) in [
        (json!({ "n": "" }), "name"),
        (json!({ "n": "n".repeat(201) }), "name"),
        (json!({ "n": "ok", "d": "d".repeat(10_001) }), "description"),
    ] {
        let body = admin.graphql(CREATE_ITEM, vars).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(app.count("posts").await + app.count("items").await, 0);
    let body = author
        .graphql(UPDATE_POST, json!({ "id": "abc", "t": "x" }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "id");
}

#[tokio::test]
async fn admins_create_update_and_delete_items() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;

    let data = admin
        .query(r#"mutation { createItem(input: { name: " Drill ", description: "18 V" }) { id name description createdAt } }"#, json!({}))
        .await;
    let item = &data["createItem"];
    assert_eq!(
        (item["name"].as_str(), item["description"].as_str()),
        (Some("Drill"), Some("18 V"))
    );
    let id = item["id"].clone();

    const UPDATE: &str = "mutation($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { name description } }";
    let data = admin
        .query(
            UPDATE,
            json!({ "id": id, "input": { "name": "Cordless drill" } }),
        )
        .await;
    assert_eq!(
        data["updateItem"],
        json!({ "name": "Cordless drill", "description": "18 V" })
    );
    let data = admin
        .query(
            UPDATE,
            json!({ "id": id, "input": { "description": null } }),
        )
        .await;
    assert_eq!(
        data["updateItem"],
        json!({ "name": "Cordless drill", "description": null })
    );
    let body = admin
        .graphql(UPDATE, json!({ "id": "999", "input": { "name": "x" } }))
        .await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);

    let data = admin
        .query(
            "mutation($id: ID!) { deleteItem(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["deleteItem"], id);
    let body = admin
        .graphql(
            "mutation($id: ID!) { deleteItem(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
}

#[tokio::test]
async fn concurrent_writers_wait_instead_of_failing() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("root").await;
    let writes = (0..20).map(|i| {
        let admin = &admin;
        async move {
            admin
                .graphql(
                    "mutation($n: String!) { createItem(input: { name: $n }) { id } }",
                    json!({ "n": format!("item {i}") }),
                )
                .await
        }
    });
    let bodies = futures_util::future::join_all(writes).await;
    for body in &bodies {
        assert!(body.get("errors").is_none(), "{body}");
    }
    assert_eq!(app.count("items").await, 20);
}
