//! Keyset pagination: every row exactly once, in order, with no OFFSET however deep the page.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, at};

/// Walks `field` page by page (`size` at a time) and returns the node ids in the order seen.
async fn walk(app: &TestApp, field: &str, args: &str, size: i64) -> Vec<String> {
    let query = format!(
        "query($first: Int, $after: String) {{ {field}(first: $first, after: $after{args}) {{
            totalCount
            edges {{ cursor node {{ id }} }}
            pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
        }} }}"
    );
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(&query, json!({ "first": size, "after": after }))
            .await;
        let conn = &data[field];
        let edges = conn["edges"].as_array().unwrap();
        let info = &conn["pageInfo"];
        assert_eq!(info["hasPreviousPage"], !after.is_null());
        if let (Some(first), Some(last)) = (edges.first(), edges.last()) {
            assert_eq!(info["startCursor"], first["cursor"]);
            assert_eq!(info["endCursor"], last["cursor"]);
        }
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        assert!(edges.len() as i64 <= size);
        if info["hasNextPage"] == false {
            break;
        }
        assert_eq!(
            edges.len() as i64,
            size,
            "a page before the last one is full"
        );
        after = info["endCursor"].clone();
        assert!(ids.len() < 10_000, "the walk does not end");
    }
    ids
}

fn assert_each_once(ids: &[String], expected: usize) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a row was returned twice: {ids:?}");
    assert_eq!(ids.len(), expected, "rows were skipped");
}

#[tokio::test]
async fn walking_every_page_of_items_returns_each_once_newest_first() {
    let app = TestApp::spawn().await;
    // Many rows share a timestamp: the id breaks the ties, so nothing is skipped or repeated.
    app.insert_items((0..53).map(|i| (format!("item {i}"), at(i / 5))))
        .await;

    let ids = walk(&app, "items", "", 7).await;

    assert_each_once(&ids, 53);
    // Newest first: by timestamp descending, then id descending.
    let nums: Vec<i64> = ids.iter().map(|id| id.parse().unwrap()).collect();
    let mut expected = nums.clone();
    expected.sort_by_key(|id| std::cmp::Reverse(((id - 1) / 5, *id)));
    assert_eq!(nums, expected);
}

#[tokio::test]
async fn walking_every_page_of_posts_and_users_returns_each_once() {
    let app = TestApp::spawn().await;
    let mut authors = Vec::new();
    for i in 0..13 {
        authors.push(app.insert_user(&format!("user{i}"), at(i / 3)).await);
    }
    app.insert_posts((0..61).map(|i| (authors[i % 4], format!("post {i}"), at(i as i64 / 4))))
        .await;

    assert_each_once(&walk(&app, "posts", "", 9).await, 61);
    assert_each_once(&walk(&app, "users", "", 4).await, 13);
    let one_author = format!(", authorId: \"{}\"", authors[1]);
    assert_each_once(&walk(&app, "posts", &one_author, 4).await, 15);

    let users = walk(&app, "users", "", 100).await;
    let expected: Vec<String> = authors.iter().map(|id| id.to_string()).collect();
    assert_eq!(users, expected, "users are listed oldest first");
}

#[tokio::test]
async fn walking_a_users_posts_returns_each_once() {
    let app = TestApp::spawn().await;
    let author = app.insert_user("writer", at(0)).await;
    let other = app.insert_user("other", at(0)).await;
    app.insert_posts((0..23).map(|i| (author, format!("p{i}"), at(i as i64 / 3))))
        .await;
    app.insert_posts((0..5).map(|i| (other, format!("o{i}"), at(i))))
        .await;

    let query = "query($id: ID!, $after: String) { user(id: $id) { posts(first: 4, after: $after) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } } }";
    let mut after = Value::Null;
    let mut ids = Vec::new();
    loop {
        let data = app
            .query(query, json!({ "id": author.to_string(), "after": after }))
            .await;
        let posts = &data["user"]["posts"];
        assert_eq!(posts["totalCount"], 23);
        for e in posts["edges"].as_array().unwrap() {
            ids.push(e["node"]["id"].as_str().unwrap().to_owned());
        }
        if posts["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = posts["pageInfo"]["endCursor"].clone();
    }
    assert_each_once(&ids, 23);
}

#[tokio::test]
async fn search_matches_names_in_any_case_and_counts_the_matches() {
    let app = TestApp::spawn().await;
    app.insert_items(
        [
            "The Rust Book",
            "rusty nail",
            "Dune",
            "TRUST",
            "100% cotton",
            "100 percent",
        ]
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), at(i as i64))),
    )
    .await;

    let data = app
        .query(
            r#"{ rust: items(search: "RuSt") { totalCount edges { node { name } } }
                 pct: items(search: "0%") { totalCount edges { node { name } } }
                 blank: items(search: "  ") { totalCount } }"#,
            json!({}),
        )
        .await;

    let names = |v: &Value| -> Vec<String> {
        v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&data["rust"]),
        ["TRUST", "rusty nail", "The Rust Book"]
    );
    assert_eq!(data["rust"]["totalCount"], 3);
    assert_eq!(
        names(&data["pct"]),
        ["100% cotton"],
        "% is matched literally"
    );
    assert_eq!(data["blank"]["totalCount"], 6);
}

#[tokio::test]
async fn a_deep_page_uses_the_keyset_not_an_offset() {
    let app = TestApp::spawn().await;
    app.insert_items((0..300).map(|i| (format!("item {i}"), at(i))))
        .await;

    // Reach a page deep in the list, then look at the SQL the server ran for it.
    let mut after = Value::Null;
    for _ in 0..5 {
        let data = app
            .query(
                "query($after: String) { items(first: 50, after: $after) { pageInfo { endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        after = data["items"]["pageInfo"]["endCursor"].clone();
    }
    let before = app.statements.count();
    let data = app
        .query(
            "query($after: String) { items(first: 50, after: $after) { edges { node { name } } } }",
            json!({ "after": after }),
        )
        .await;
    assert_eq!(data["items"]["edges"][0]["node"]["name"], "item 49");
    assert_eq!(
        app.statements.count() - before,
        1,
        "one statement for the page"
    );

    let statements = app.statements.recent();
    let sql = statements.last().unwrap().to_uppercase();
    assert!(!sql.contains("OFFSET"), "{sql}");
    assert!(sql.contains("LIMIT"), "{sql}");
    assert!(
        sql.contains(r#"("ITEMS"."CREATED_AT", "ITEMS"."ID") < "#),
        "the cursor must become a seek on (created_at, id): {sql}"
    );
}
