//! Login throttling, per account and per client address.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error_codes};

const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { username } }";

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    let client = app.anonymous();

    for _ in 0..5 {
        let body = client
            .graphql(LOGIN, json!({ "u": "ada", "p": "wrong password" }))
            .await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    }
    let body = client
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"]);
    let body = client
        .graphql(LOGIN, json!({ "u": "ADA@example.org", "p": PASSWORD }))
        .await;
    assert_eq!(
        error_codes(&body),
        ["UNAUTHENTICATED"],
        "through the email, the locked account answers like a wrong password (issue 9, finding 6)"
    );
    assert_eq!(client.me().await, None, "and does not sign in");

    // Another account is not affected.
    app.borrower("bob").await;
    app.login("bob", PASSWORD).await;
    assert_eq!(
        app.login("bob", PASSWORD).await.me().await.as_deref(),
        Some("bob")
    );
}

#[tokio::test]
async fn aliased_logins_stop_at_the_first_failure_and_each_operation_counts() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    let aliases: Vec<String> = (0..7)
        .map(|i| format!("a{i}: login(username: \"ada\", password: \"wrong {i}\") {{ username }}"))
        .collect();
    let operation = format!("mutation {{ {} }}", aliases.join(" "));

    // Root mutation fields run one after another, and a failed one (non-null) ends the
    // operation: the later aliases never run, so aliasing cannot multiply guesses. Each
    // operation's one guess counts.
    for round in 0..5 {
        let body = app.anonymous().graphql(&operation, json!({})).await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{round}: {body}");
        assert_eq!(body["errors"][0]["path"], json!(["a0"]), "{round}: {body}");
    }
    let body = app.anonymous().graphql(&operation, json!({})).await;
    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"], "{body}");
    let body = app
        .anonymous()
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"]);
}

#[tokio::test]
async fn a_client_address_is_throttled_across_accounts() {
    let app = TestApp::spawn_with(|c| c.sessions.login_max_failures_per_client = 8).await;
    app.borrower("ada").await;
    let client = app.anonymous();

    for i in 0..8 {
        let body = client
            .graphql(
                LOGIN,
                json!({ "u": format!("guess{i}"), "p": "wrong password" }),
            )
            .await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    }
    let body = client
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"]);
}

#[tokio::test]
async fn failures_older_than_the_window_no_longer_count() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    for _ in 0..5 {
        app.anonymous()
            .graphql(LOGIN, json!({ "u": "ada", "p": "wrong password" }))
            .await;
    }
    let body = app
        .anonymous()
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"]);

    // Sixteen minutes later (the window is 15).
    let past = tkc_library::domain::now() - chrono::Duration::minutes(16);
    use sea_orm::ConnectionTrait;
    app.db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            app.db.get_database_backend(),
            match app.db.get_database_backend() {
                sea_orm::DbBackend::Postgres => "UPDATE login_failures SET failed_at = $1",
                _ => "UPDATE login_failures SET failed_at = ?",
            },
            [past.into()],
        ))
        .await
        .unwrap();

    assert_eq!(
        app.login("ada", PASSWORD).await.me().await.as_deref(),
        Some("ada")
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = TestApp::spawn_with(|c| {
        c.sessions.login_max_failures_per_client = 3;
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let login_from = |forwarded: &'static str, user: String| {
        let request = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "query": LOGIN, "variables": { "u": user, "p": "wrong password" } }));
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };

    for i in 0..3 {
        let body = login_from("203.0.113.7", format!("guess{i}")).await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    }
    let body = login_from("203.0.113.7", "guess9".into()).await;
    assert_eq!(
        error_codes(&body),
        ["TOO_MANY_REQUESTS"],
        "this client is throttled"
    );
    let body = login_from("198.51.100.4", "guess9".into()).await;
    assert_eq!(
        error_codes(&body),
        ["UNAUTHENTICATED"],
        "another client behind the proxy is not"
    );
    // A forged entry before the proxy's does not help.
    let body = login_from("198.51.100.99, 203.0.113.7", "guess8".into()).await;
    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"]);
}
