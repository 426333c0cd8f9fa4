//! No N+1: the statements a query costs do not grow with the size of the page.

use serde_json::json;

use crate::helpers::{TestApp, at};

/// The large page costs no more statements than the small one, and at most `limit`.
fn assert_flat_cost(app: &TestApp, small: u64, large: u64, limit: u64) {
    let recent: Vec<String> = app.statements.recent().into_iter().rev().take(10).collect();
    assert!(
        large <= limit,
        "took {large} statements (at most {limit}): {recent:#?}"
    );
    assert_eq!(
        small, large,
        "the cost must not grow with the page: {recent:#?}"
    );
}

/// 60 authors with 6 posts each.
async fn community(app: &TestApp) {
    let mut authors = Vec::new();
    for i in 0..60 {
        authors.push(app.insert_user(&format!("author{i:02}"), at(i)).await);
    }
    app.insert_posts(authors.iter().enumerate().flat_map(|(i, &a)| {
        (0..6).map(move |p| (a, format!("post {i}.{p}"), at(100 + i as i64 * 6 + p)))
    }))
    .await;
}

#[tokio::test]
async fn a_page_of_posts_with_authors_and_their_post_counts_takes_at_most_4_statements() {
    let app = TestApp::spawn().await;
    community(&app).await;
    let query = "query($n: Int) { posts(first: $n) { edges { node { title author { username postCount } } } } }";

    let (small, small_cost) = app.query_counting(query, json!({ "n": 2 })).await;
    let (large, large_cost) = app.query_counting(query, json!({ "n": 100 })).await;

    let edges = large["posts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 100);
    assert_eq!(small["posts"]["edges"].as_array().unwrap().len(), 2);
    for edge in edges {
        assert_eq!(edge["node"]["author"]["postCount"], 6);
        let title = edge["node"]["title"].as_str().unwrap();
        let author = edge["node"]["author"]["username"].as_str().unwrap();
        let n: usize = title["post ".len()..]
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            author,
            format!("author{n:02}"),
            "each post has its own author"
        );
    }
    assert_flat_cost(&app, small_cost, large_cost, 4);
}

#[tokio::test]
async fn a_page_of_users_with_their_posts_and_authors_takes_at_most_5_statements() {
    let app = TestApp::spawn().await;
    community(&app).await;
    let query = "query($n: Int) { users(first: $n) { edges { node { username
        posts(first: 5) { edges { node { title author { username } } } } } } } }";

    let (small, small_cost) = app.query_counting(query, json!({ "n": 2 })).await;
    let (large, large_cost) = app.query_counting(query, json!({ "n": 50 })).await;

    let users = large["users"]["edges"].as_array().unwrap();
    assert_eq!(users.len(), 50);
    assert_eq!(small["users"]["edges"].as_array().unwrap().len(), 2);
    for user in users {
        let name = user["node"]["username"].as_str().unwrap();
        let posts = user["node"]["posts"]["edges"].as_array().unwrap();
        assert_eq!(posts.len(), 5, "{name}");
        for post in posts {
            assert_eq!(post["node"]["author"]["username"], name);
        }
    }
    assert_flat_cost(&app, small_cost, large_cost, 5);
}

#[tokio::test]
async fn totals_and_nested_pages_are_batched_too() {
    let app = TestApp::spawn().await;
    community(&app).await;
    let query = "query($n: Int) { users(first: $n) { totalCount edges { node {
        postCount posts(first: 2) { totalCount pageInfo { hasNextPage } edges { node { id } } } } } } }";

    let (_, small_cost) = app.query_counting(query, json!({ "n": 3 })).await;
    let (large, large_cost) = app.query_counting(query, json!({ "n": 60 })).await;

    assert_eq!(large["users"]["totalCount"], 60);
    for user in large["users"]["edges"].as_array().unwrap() {
        assert_eq!(user["node"]["postCount"], 6);
        assert_eq!(user["node"]["posts"]["totalCount"], 6);
        assert_eq!(user["node"]["posts"]["pageInfo"]["hasNextPage"], true);
    }
    assert_flat_cost(&app, small_cost, large_cost, 4);
}
