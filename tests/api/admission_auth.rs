//! Admission before work, for passwords: an attempt is counted before its password is checked,
//! so concurrent guesses cannot overshoot the limits; `register` checks the name before hashing
//! and is throttled per client; argon2 work waits in a bounded queue; the account throttle says
//! nothing about which email belongs to which username.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error_codes};

const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { username } }";
const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { username } }";

fn register_vars(username: &str, email: &str) -> serde_json::Value {
    json!({ "input": { "username": username, "email": email, "password": PASSWORD } })
}

/// A counter from `GET /metrics`, by its full name (labels included).
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
        .parse()
        .unwrap()
}

const AGAINST_ACCOUNT: &str = "tkc_password_verifications_total{against=\"account\"}";
const AGAINST_DUMMY: &str = "tkc_password_verifications_total{against=\"dummy\"}";
const HASHES: &str = "tkc_password_hashes_total";

async fn verifications(app: &TestApp) -> (u64, u64) {
    (
        metric(app, AGAINST_ACCOUNT).await,
        metric(app, AGAINST_DUMMY).await,
    )
}

#[tokio::test]
async fn fifty_concurrent_logins_for_one_account_check_at_most_five_passwords() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    let (before, _) = verifications(&app).await;

    let attempts = (0..50).map(|i| {
        let client = app.anonymous();
        let password = if i == 25 { PASSWORD } else { "wrong password" };
        async move {
            client
                .graphql(LOGIN, json!({ "u": "ada", "p": password }))
                .await
        }
    });
    let bodies = futures_util::future::join_all(attempts).await;

    let (after, _) = verifications(&app).await;
    assert!(
        after - before <= 5,
        "{} passwords checked against ada's hash (limit 5)",
        after - before
    );
    let evaluated = bodies
        .iter()
        .filter(|b| error_codes(b) != ["TOO_MANY_REQUESTS"])
        .count();
    assert!(
        evaluated <= 5,
        "{evaluated} attempts evaluated: {bodies:#?}"
    );
}

#[tokio::test]
async fn a_batch_of_ten_logins_checks_at_most_five_passwords() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    let (before, _) = verifications(&app).await;
    let batch: Vec<_> = (0..10)
        .map(|i| json!({ "query": LOGIN, "variables": { "u": "ada", "p": format!("guess {i}") } }))
        .collect();

    let bodies: Vec<serde_json::Value> = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let (after, _) = verifications(&app).await;
    assert!(after - before <= 5, "{} checked", after - before);
    let codes: Vec<_> = bodies.iter().flat_map(error_codes).collect();
    assert_eq!(codes.len(), 10, "{bodies:#?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "UNAUTHENTICATED").count(),
        5,
        "{codes:?}"
    );
}

#[tokio::test]
async fn a_burst_from_one_client_checks_no_more_passwords_than_its_limit() {
    let app = TestApp::spawn_with(|c| c.sessions.login_max_failures_per_client = 10).await;
    let client = app.anonymous();
    // Nine failures on record, then a burst of sixty.
    for i in 0..9 {
        let body = client
            .graphql(
                LOGIN,
                json!({ "u": format!("guess{i}"), "p": "wrong password" }),
            )
            .await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    }
    let before = verifications(&app).await;

    let burst = (0..60).map(|i| {
        let client = app.anonymous();
        async move {
            client
                .graphql(
                    LOGIN,
                    json!({ "u": format!("burst{i}"), "p": "wrong password" }),
                )
                .await
        }
    });
    let bodies = futures_util::future::join_all(burst).await;
    for body in &bodies {
        let codes = error_codes(body);
        assert!(
            codes == ["UNAUTHENTICATED"] || codes == ["TOO_MANY_REQUESTS"],
            "{body}"
        );
    }

    let after = verifications(&app).await;
    let checked = (after.0 - before.0) + (after.1 - before.1);
    assert!(
        checked <= 1,
        "{checked} passwords checked beyond the limit of 10"
    );
}

/// The codes of six logins as `name`, the first with `password`, the rest wrong.
async fn six_logins(app: &TestApp, name: &str, password: &str) -> Vec<Vec<String>> {
    let client = app.anonymous();
    let mut codes = Vec::new();
    for i in 0..6 {
        let p = if i == 0 { password } else { "wrong password" };
        let body = client.graphql(LOGIN, json!({ "u": name, "p": p })).await;
        codes.push(error_codes(&body));
    }
    assert_eq!(client.me().await, None, "{name} signed in");
    codes
}

#[tokio::test]
async fn a_locked_account_answers_for_its_email_exactly_as_for_an_unknown_name() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    for _ in 0..5 {
        let body = app
            .graphql(LOGIN, json!({ "u": "ada", "p": "wrong password" }))
            .await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    }
    let body = app
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"], "the name typed");
    let (account_before, _) = verifications(&app).await;

    let email = six_logins(&app, "ADA@example.org", PASSWORD).await;
    let unknown = six_logins(&app, "nobody@example.org", PASSWORD).await;

    assert_eq!(
        email, unknown,
        "the email is told apart from an unknown one"
    );
    assert_eq!(email[0], ["UNAUTHENTICATED"]);
    assert_eq!(email[5], ["TOO_MANY_REQUESTS"]);
    let (account_after, _) = verifications(&app).await;
    assert_eq!(
        account_after, account_before,
        "no guess reached ada's hash while her account is locked"
    );
}

#[tokio::test]
async fn registering_a_taken_name_or_email_computes_no_hash() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    let before = metric(&app, HASHES).await;
    let client = app.anonymous();

    let body = client
        .graphql(REGISTER, register_vars("ADA", "other@example.org"))
        .await;
    assert_eq!(error_codes(&body), ["CONFLICT"]);
    assert_eq!(body["errors"][0]["extensions"]["field"], "username");
    let body = client
        .graphql(REGISTER, register_vars("other", "Ada@Example.org"))
        .await;
    assert_eq!(error_codes(&body), ["CONFLICT"]);
    assert_eq!(body["errors"][0]["extensions"]["field"], "email");

    assert_eq!(metric(&app, HASHES).await, before, "a hash was computed");
}

#[tokio::test]
async fn a_client_registering_beyond_its_limit_is_throttled_before_any_hash() {
    let app = TestApp::spawn_with(|c| c.sessions.register_max_per_client = 3).await;
    app.borrower("ada").await;
    let client = app.anonymous();
    for name in ["ada", "ada"] {
        let body = client
            .graphql(REGISTER, register_vars(name, "x@example.org"))
            .await;
        assert_eq!(error_codes(&body), ["CONFLICT"], "conflicts count too");
    }
    let before = metric(&app, HASHES).await;

    let body = client
        .graphql(REGISTER, register_vars("fresh", "fresh@example.org"))
        .await;

    assert_eq!(error_codes(&body), ["TOO_MANY_REQUESTS"]);
    assert_eq!(metric(&app, HASHES).await, before);
    assert_eq!(app.count("users").await, 1);
    let body = app
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert!(
        body.get("errors").is_none(),
        "logins are not affected: {body}"
    );
}

/// Runs `operations` at once; returns each body with how long it took.
async fn at_once(
    app: &TestApp,
    operations: Vec<(&'static str, serde_json::Value)>,
) -> Vec<(serde_json::Value, Duration)> {
    let runs = operations.into_iter().map(|(query, variables)| {
        let client = app.anonymous();
        async move {
            let start = Instant::now();
            let body = client.graphql(query, variables).await;
            (body, start.elapsed())
        }
    });
    tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(runs),
    )
    .await
    .expect("every request is answered")
}

#[tokio::test]
async fn when_the_hash_queue_is_full_logins_and_registrations_are_refused_at_once() {
    let app = TestApp::spawn_with(|c| {
        c.sessions.password_hash_concurrency = 1;
        c.sessions.password_hash_queue = 1;
    })
    .await;
    app.borrower("ada").await;

    let logins = (0..8)
        .map(|i| {
            (
                LOGIN,
                json!({ "u": format!("guess{i}"), "p": "wrong password" }),
            )
        })
        .collect();
    let registrations = (0..8)
        .map(|i| {
            let name = format!("new{i}");
            let email = format!("{name}@example.org");
            (REGISTER, register_vars(&name, &email))
        })
        .collect();
    for (what, operations) in [("logins", logins), ("registrations", registrations)] {
        let answers = at_once(&app, operations).await;
        let refused: Vec<_> = answers
            .iter()
            .filter(|(body, _)| error_codes(body) == ["TOO_MANY_REQUESTS"])
            .collect();
        assert!(!refused.is_empty(), "no {what} refused: {answers:#?}");
        assert!(refused.len() < 8, "every one of the {what} refused");
        for (body, took) in refused {
            assert!(
                *took < Duration::from_secs(2),
                "{what}: refused after {took:?}: {body}"
            );
        }
    }

    let body = app
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert!(body.get("errors").is_none(), "a later login works: {body}");
}

/// Statements (BEGIN and COMMIT not counted): a login runs 7 (find the user, the read-only
/// precheck, the count under lock, insert the reservation, delete it, start the session, purge
/// expired sessions), a failed one 5, a registration 6; PostgreSQL adds the lock. (Before issue
/// 9: 5, 5 and 2.)
#[tokio::test]
async fn a_login_costs_a_bounded_number_of_statements() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    let lock = u64::from(crate::helpers::postgres_url().is_some());
    let cost = |query: &'static str, variables: serde_json::Value| {
        let app = &app;
        async move {
            let before = app.statements.count();
            let body = app.graphql(query, variables).await;
            (body, app.statements.count() - before)
        }
    };

    let (body, login) = cost(LOGIN, json!({ "u": "ada", "p": PASSWORD })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (body, failure) = cost(LOGIN, json!({ "u": "ada", "p": "wrong password" })).await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    let (body, register) = cost(REGISTER, register_vars("bob", "bob@example.org")).await;
    assert!(body.get("errors").is_none(), "{body}");

    assert_eq!(
        (login, failure, register),
        (7 + lock, 5 + lock, 6 + lock),
        "statements of a login, a failed login, a registration"
    );
}

#[tokio::test]
async fn change_password_counts_its_attempts_before_checking_them() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.borrower("ada").await;
    const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let (before, _) = verifications(&app).await;

    let attempts = (0..10).map(|i| {
        ada.graphql(
            CHANGE,
            json!({ "c": format!("guess {i}"), "n": "a new password" }),
        )
    });
    let bodies = futures_util::future::join_all(attempts).await;

    let (after, _) = verifications(&app).await;
    assert!(after - before <= 5, "{} checked", after - before);
    let codes: Vec<_> = bodies.iter().flat_map(error_codes).collect();
    assert_eq!(
        codes.iter().filter(|c| *c == "BAD_USER_INPUT").count(),
        5,
        "{codes:?}"
    );
    let body = ada
        .graphql(CHANGE, json!({ "c": PASSWORD, "n": "a new password" }))
        .await;
    assert_eq!(
        error_codes(&body),
        ["TOO_MANY_REQUESTS"],
        "its owner is told"
    );
}
