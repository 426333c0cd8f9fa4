//! The engine itself, as the GraphQL specification wants it, with no pass rebuilding the response:
//! fields in the order the query asks for them (through fragments and aliases), a failed nullable
//! field `null` with its error, and a `null` in a non-null place making its nearest nullable
//! parent `null` (the whole `data` at the root).

use serde_json::{Value, json};

use crate::helpers::{TestApp, at, error_codes};

/// The response keys of the object that `"key":` opens in `text`, in the order they appear.
fn keys_in_order(text: &str, keys: &[&str]) -> Vec<usize> {
    keys.iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} is missing: {text}"))
        })
        .collect()
}

async fn raw(app: &TestApp, query: &str) -> String {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn seeded() -> (TestApp, i64) {
    let app = TestApp::spawn().await;
    let author = app.insert_user("ada", at(0)).await;
    app.insert_posts((1..=3).map(|n| (author, format!("post {n}"), at(n))))
        .await;
    app.insert_items([("Drill".to_owned(), at(1))]).await;
    (app, author)
}

#[tokio::test]
async fn fields_come_back_in_query_order_through_fragments_and_aliases() {
    let (app, _) = seeded().await;
    // Root fields that finish at different speeds (a count, a page with a relation, nothing),
    // asked for in an order unlike any natural one, some through fragments, some aliased.
    let text = raw(
        &app,
        "{ zeta: __typename ...Late posts(first: 2) { edges { node { title author { username createdAt id } createdAt } } } \
           alpha: items { totalCount } ... on Query { mid: users { totalCount } } }
         fragment Late on Query { late: me { id } beta: posts(first: 1) { pageInfo { endCursor hasNextPage } totalCount } }",
    )
    .await;
    let order = keys_in_order(&text, &["zeta", "late", "beta", "posts", "alpha", "mid"]);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    // Within an object too: the author's fields and the node's, as asked.
    let order = keys_in_order(&text, &["title", "author", "username", "createdAt", "id"]);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"], Value::Null, "{text}");
    assert_eq!(body["data"]["late"], Value::Null);
    assert_eq!(body["data"]["beta"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn a_failed_nullable_root_field_is_null_with_its_error_and_the_rest_is_answered() {
    let (app, _) = seeded().await;
    let text = raw(
        &app,
        r#"{ a: items { totalCount } item(id: "abc") { id } b: post(id: "x") { id } c: users { totalCount } }"#,
    )
    .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["data"],
        json!({ "a": { "totalCount": 1 }, "item": null, "b": null, "c": { "totalCount": 1 } }),
        "{text}"
    );
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT", "BAD_USER_INPUT"]);
    let paths: Vec<&Value> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["path"])
        .collect();
    assert!(paths.contains(&&json!(["item"])), "{text}");
    assert!(paths.contains(&&json!(["b"])), "{text}");
    let order = keys_in_order(&text, &["a", "item", "b", "c"]);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[tokio::test]
async fn a_failed_non_null_root_field_nulls_the_whole_data() {
    let (app, _) = seeded().await;
    let body = app
        .graphql(
            r#"{ item(id: "1") { id } items(first: 101) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert_eq!(body["errors"][0]["path"], json!(["items"]));
    assert_eq!(body["errors"][0]["extensions"]["field"], "first");
}

#[tokio::test]
async fn a_nested_failure_nulls_its_nearest_nullable_parent() {
    let (app, author) = seeded().await;
    // `posts` is non-null, and so is `author`: the first nullable parent is `post`. Its sibling
    // root field keeps its answer.
    let body = app
        .graphql(
            r#"query($id: ID!) { post(id: $id) { title author { username posts(first: 101) { totalCount } } } items { totalCount } }"#,
            json!({ "id": first_post(&app, author).await }),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "post": null, "items": { "totalCount": 1 } }),
        "{body}"
    );
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert_eq!(
        body["errors"][0]["path"],
        json!(["post", "author", "posts"])
    );
}

#[tokio::test]
async fn a_failure_inside_a_list_carries_its_index_and_propagates_up_to_the_root() {
    let (app, _) = seeded().await;
    app.insert_user("bob", at(5)).await;
    // Every edge, node and connection above is non-null: the error reaches `data`.
    let body = app
        .graphql(
            "{ users(first: 2) { edges { node { username posts(first: -1) { totalCount } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let path = error["path"].as_array().unwrap();
        assert_eq!(path[..2], [json!("users"), json!("edges")], "{body}");
        assert!(path[2].is_u64(), "a list index: {body}");
        assert_eq!(path[3..], [json!("node"), json!("posts")], "{body}");
    }
}

#[tokio::test]
async fn a_refused_guarded_field_stops_a_mutation_and_names_its_path() {
    let app = TestApp::spawn().await;
    let (borrower, _) = app.borrower("bea").await;
    let body = borrower
        .graphql(
            r#"mutation { first: createPost(input: { title: "t", body: "b" }) { id } second: createItem(input: { name: "n" }) { id } }"#,
            json!({}),
        )
        .await;
    // The first root field ran; the second was refused before its resolver, and, being
    // non-null, nulls `data`.
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    assert_eq!(body["errors"][0]["path"], json!(["second"]));
    assert_eq!(app.count("posts").await, 1);
    assert_eq!(app.count("items").await, 0);
}

async fn first_post(app: &TestApp, author: i64) -> String {
    let data = app
        .query(
            "query($id: ID!) { user(id: $id) { posts(first: 1) { edges { node { id } } } } }",
            json!({ "id": author.to_string() }),
        )
        .await;
    data["user"]["posts"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_nested_page_through_a_list_is_the_page_each_user_gets_alone() {
    let app = TestApp::spawn().await;
    let mut authors = Vec::new();
    for (n, name) in ["ada", "bob", "cy"].iter().enumerate() {
        let id = app.insert_user(name, at(n as i64)).await;
        // Different counts, interleaved times, a shared timestamp (ties broken by id).
        app.insert_posts((0..(n as i64 * 3 + 2)).map(|k| (id, format!("{name} {k}"), at(10 + k))))
            .await;
        authors.push(id);
    }
    let alone = "query($id: ID!, $after: String) { user(id: $id) { posts(first: 2, after: $after) { edges { cursor node { title body } } pageInfo { hasNextPage endCursor } } } }";
    let listed = "query($after: String) { users(first: 3) { edges { node { id posts(first: 2, after: $after) { edges { cursor node { title body } } pageInfo { hasNextPage endCursor } } } } } }";
    // The second page of each user, reached with the first page's end cursor of the first user
    // (a cursor is a position in time, valid for any author).
    let first = app
        .query(alone, json!({ "id": authors[2].to_string() }))
        .await;
    let after = first["user"]["posts"]["pageInfo"]["endCursor"].clone();
    let data = app.query(listed, json!({ "after": after })).await;
    let edges = data["users"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3);
    for (edge, id) in edges.iter().zip(&authors) {
        let single = app
            .query(alone, json!({ "id": id.to_string(), "after": after }))
            .await;
        assert_eq!(edge["node"]["posts"], single["user"]["posts"], "{data}");
        for post in edge["node"]["posts"]["edges"].as_array().unwrap() {
            assert!(!post["node"]["body"].as_str().unwrap().is_empty());
        }
    }
    // Without bodies asked for, the same titles in the same order.
    let titles = app
        .query(
            "{ users(first: 3) { edges { node { posts(first: 3) { edges { node { title } } } } } } }",
            json!({}),
        )
        .await;
    let with_bodies = app
        .query(
            "{ users(first: 3) { edges { node { posts(first: 3) { edges { node { title body } } } } } } }",
            json!({}),
        )
        .await;
    for (a, b) in titles["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .zip(with_bodies["users"]["edges"].as_array().unwrap())
    {
        let a: Vec<&Value> = a["node"]["posts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"]["title"])
            .collect();
        let b: Vec<&Value> = b["node"]["posts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"]["title"])
            .collect();
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }
}

#[tokio::test]
async fn later_root_fields_run_as_who_signed_in_and_see_a_changed_password() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.borrower("ada").await;
    let password = crate::helpers::PASSWORD;

    // Signed in by the first field, the second runs as that user (and sees their email).
    let body = app
        .anonymous()
        .graphql(
            r#"mutation($p: String!) { login(username: "ada", password: $p) { email } createPost(input: { title: "t", body: "b" }) { author { username email } } }"#,
            json!({ "p": password }),
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(body["data"]["createPost"]["author"]["username"], "ada");
    assert_eq!(
        body["data"]["createPost"]["author"]["email"],
        body["data"]["login"]["email"]
    );

    // A second change with the old password is checked against the new hash, and refused.
    let body = ada
        .graphql(
            r#"mutation($p: String!) { a: changePassword(currentPassword: $p, newPassword: "first new one") b: changePassword(currentPassword: $p, newPassword: "second new one") }"#,
            json!({ "p": password }),
        )
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["b"]));
    assert_eq!(
        app.login("ada", "first new one")
            .await
            .me()
            .await
            .as_deref(),
        Some("ada")
    );
}
