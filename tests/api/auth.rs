//! Accounts and sessions: register, login, logout, cookies, passwords.

use reqwest::header::{COOKIE, SET_COOKIE};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, error_codes};

const REGISTER: &str =
    "mutation($input: RegisterInput!) { register(input: $input) { id username email role } }";
const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { username } }";
const LOGOUT: &str = "mutation { logout }";

fn register_vars(username: &str, email: &str, password: &str) -> serde_json::Value {
    json!({ "input": { "username": username, "email": email, "password": password } })
}

/// Registers `ada` with a cookie-less client and returns the Set-Cookie header it got.
async fn register_set_cookie(app: &TestApp) -> String {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(
            &json!({ "query": REGISTER, "variables": register_vars("ada", "ada@x.org", PASSWORD) }),
        )
        .send()
        .await
        .unwrap();
    response.headers()[SET_COOKIE].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn register_then_me_then_logout_then_me_is_null() {
    let app = TestApp::spawn().await;
    let ada = app.anonymous();
    assert_eq!(ada.me().await, None);

    let data = ada
        .query(
            REGISTER,
            register_vars("  ada ", " ada@example.org ", PASSWORD),
        )
        .await;
    assert_eq!(data["register"]["username"], "ada", "inputs are trimmed");
    assert_eq!(data["register"]["email"], "ada@example.org");
    assert_eq!(data["register"]["role"], "BORROWER");
    assert_eq!(ada.me().await.as_deref(), Some("ada"));

    assert_eq!(ada.query(LOGOUT, json!({})).await["logout"], true);
    assert_eq!(ada.me().await, None);
    assert_eq!(ada.query(LOGOUT, json!({})).await["logout"], false);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn login_accepts_the_username_or_the_email_in_any_case() {
    let app = TestApp::spawn().await;
    app.borrower("Grace").await;

    for login in ["Grace", "grace", "GRACE@example.org"] {
        let client = app.anonymous();
        let data = client
            .query(LOGIN, json!({ "u": login, "p": PASSWORD }))
            .await;
        assert_eq!(data["login"]["username"], "Grace", "{login}");
        assert_eq!(client.me().await.as_deref(), Some("Grace"));
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_error() {
    let app = TestApp::spawn().await;
    app.borrower("grace").await;
    let client = app.anonymous();

    let wrong = client
        .graphql(LOGIN, json!({ "u": "grace", "p": "not the password" }))
        .await;
    let unknown = client
        .graphql(LOGIN, json!({ "u": "nobody", "p": PASSWORD }))
        .await;
    let too_long = client
        .graphql(LOGIN, json!({ "u": "grace", "p": "x".repeat(500) }))
        .await;

    for body in [&wrong, &unknown, &too_long] {
        assert_eq!(error_codes(body), ["UNAUTHENTICATED"]);
        assert_eq!(body["errors"][0]["message"], "invalid username or password");
        assert!(body["data"].is_null());
    }
    assert!(
        !too_long.to_string().contains("xxxxxxxx"),
        "the password is never echoed"
    );
    assert_eq!(client.me().await, None);
}

/// Sends `query` with exactly `cookie` (no cookie jar) and returns the body.
async fn with_cookie(app: &TestApp, cookie: &str, query: &str) -> serde_json::Value {
    app.client
        .post(format!("{}/graphql", app.address))
        .header(COOKIE, cookie)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_old_cookie_replayed_after_logout_is_anonymous() {
    let app = TestApp::spawn().await;
    let set_cookie = register_set_cookie(&app).await;
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let me = "{ me { username } }";
    assert_eq!(
        with_cookie(&app, &cookie, me).await["data"]["me"]["username"],
        "ada"
    );

    let body = with_cookie(&app, &cookie, LOGOUT).await;
    assert_eq!(body["data"]["logout"], true);

    let body = with_cookie(&app, &cookie, me).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["me"].is_null(), "{body}");
}

#[tokio::test]
async fn a_tampered_or_forged_cookie_is_anonymous_and_public_queries_still_answer() {
    let app = TestApp::spawn().await;
    let set_cookie = register_set_cookie(&app).await;
    let (name, value) = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap();
    // Flip one character of the token part, keeping the signature.
    let mut tampered: Vec<char> = value.chars().collect();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == 'a' { 'b' } else { 'a' };
    let tampered: String = tampered.into_iter().collect();

    for cookie in [
        format!("{name}={tampered}"),
        format!("{name}=forged-token"),
        format!("{name}="),
        format!("{name}=%%%;;"),
    ] {
        let body = with_cookie(&app, &cookie, "{ me { username } items { totalCount } }").await;
        assert!(body.get("errors").is_none(), "{cookie}: {body}");
        assert!(body["data"]["me"].is_null(), "{cookie}: {body}");
        assert_eq!(body["data"]["items"]["totalCount"], 0);
    }
}

#[tokio::test]
async fn the_session_cookie_has_safe_attributes() {
    let app = TestApp::spawn().await;
    let cookie = register_set_cookie(&app).await;
    let attributes: Vec<String> = cookie.split(';').map(|a| a.trim().to_lowercase()).collect();

    assert!(cookie.starts_with("tkc_session="), "{cookie}");
    for expected in ["httponly", "samesite=lax", "path=/", "max-age=1209600"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} missing: {cookie}"
        );
    }
    assert!(
        !attributes
            .iter()
            .any(|a| a == "secure" || a.starts_with("domain")),
        "{cookie}"
    );
    // The value carries at least 128 bits of randomness (64 hex digits here) plus a signature.
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert!(value.len() >= 64 + 40, "{value}");
}

#[tokio::test]
async fn a_secure_cookie_is_named_with_the_host_prefix() {
    let app = TestApp::spawn_with(|c| c.sessions.cookie_secure = true).await;
    let cookie = register_set_cookie(&app).await;

    assert!(cookie.starts_with("__Host-tkc_session="), "{cookie}");
    let attributes: Vec<String> = cookie.split(';').map(|a| a.trim().to_lowercase()).collect();
    for expected in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} missing: {cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{cookie}"
    );
}

#[tokio::test]
async fn every_login_gets_a_fresh_token() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": LOGIN, "variables": { "u": "ada", "p": PASSWORD } }))
            .send()
            .await
            .unwrap();
        tokens.push(response.headers()[SET_COOKIE].to_str().unwrap().to_owned());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 3);
    assert_eq!(
        app.count("sessions").await,
        4,
        "the registration's and three logins'"
    );
}

#[tokio::test]
async fn stored_hashes_are_argon2id_phc_strings_and_tokens_are_not_stored() {
    let app = TestApp::spawn().await;
    app.borrower("ada").await;

    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT password_hash FROM users",
        ))
        .await
        .unwrap();
    let hash: String = rows[0].try_get("", "password_hash").unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
    let sessions = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT token_hash FROM sessions",
        ))
        .await
        .unwrap();
    let token_hash: String = sessions[0].try_get("", "token_hash").unwrap();
    assert_eq!(token_hash.len(), 64, "a SHA-256, not the token");
}

#[tokio::test]
async fn validation_errors_name_their_field() {
    let app = TestApp::spawn().await;
    let client = app.anonymous();
    let cases = [
        (register_vars("ab", "a@x.org", PASSWORD), "username"),
        (register_vars("has space", "a@x.org", PASSWORD), "username"),
        (
            register_vars(&"x".repeat(65), "a@x.org", PASSWORD),
            "username",
        ),
        (register_vars("ada", "not-an-email", PASSWORD), "email"),
        (
            register_vars("ada", &format!("{}@x.org", "a".repeat(120)), PASSWORD),
            "email",
        ),
        (register_vars("ada", "a@x.org", "short"), "password"),
        (
            register_vars("ada", "a@x.org", &"p".repeat(129)),
            "password",
        ),
    ];
    for (vars, field) in cases {
        let body = client.graphql(REGISTER, vars.clone()).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{vars}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{vars}");
    }
    assert_eq!(app.count("users").await, 0, "nothing was written");

    // A password of 8 to 128 characters of any script is fine, and never truncated.
    let long = "密".repeat(128);
    client
        .query(REGISTER, register_vars("mei", "mei@x.org", &long))
        .await;
    let other = app.anonymous();
    let truncated: String = long.chars().take(72).collect();
    let body = other
        .graphql(LOGIN, json!({ "u": "mei", "p": truncated }))
        .await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    other.query(LOGIN, json!({ "u": "mei", "p": long })).await;
}

#[tokio::test]
async fn a_username_or_email_differing_only_in_case_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.borrower("Ada").await;
    let client = app.anonymous();

    let body = client
        .graphql(
            REGISTER,
            register_vars("aDA", "other@example.org", PASSWORD),
        )
        .await;
    assert_eq!(error_codes(&body), ["CONFLICT"]);
    assert_eq!(body["errors"][0]["extensions"]["field"], "username");

    let body = client
        .graphql(
            REGISTER,
            register_vars("other", "ADA@EXAMPLE.ORG", PASSWORD),
        )
        .await;
    assert_eq!(error_codes(&body), ["CONFLICT"]);
    assert_eq!(body["errors"][0]["extensions"]["field"], "email");
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("constraint") && !text.contains("index") && !text.contains("users"),
        "{text}"
    );
    assert_eq!(app.count("users").await, 1);
    assert_eq!(client.me().await, None);
}

#[tokio::test]
async fn ten_concurrent_registrations_of_one_name_leave_exactly_one_user() {
    let app = TestApp::spawn().await;
    let attempts = (0..10).map(|i| {
        let client = app.anonymous();
        async move {
            client
                .graphql(
                    REGISTER,
                    register_vars("racer", &format!("racer{i}@x.org"), PASSWORD),
                )
                .await
        }
    });
    let bodies = futures_util::future::join_all(attempts).await;

    let ok = bodies.iter().filter(|b| b.get("errors").is_none()).count();
    let conflicts = bodies
        .iter()
        .filter(|b| error_codes(b) == ["CONFLICT"])
        .count();
    assert_eq!((ok, conflicts), (1, 9), "{bodies:#?}");
    assert_eq!(app.count("users").await, 1);
    assert_eq!(
        app.count("sessions").await,
        1,
        "the failed ones left no session behind"
    );
}

#[tokio::test]
async fn change_password_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let (laptop, _) = app.borrower("ada").await;
    let phone = app.login("ada", PASSWORD).await;
    assert_eq!(phone.me().await.as_deref(), Some("ada"));
    const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

    let body = laptop
        .graphql(
            CHANGE,
            json!({ "c": "wrong password", "n": "a new password" }),
        )
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert_eq!(body["errors"][0]["extensions"]["field"], "currentPassword");
    let body = laptop
        .graphql(CHANGE, json!({ "c": PASSWORD, "n": "short" }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "newPassword");
    assert_eq!(
        phone.me().await.as_deref(),
        Some("ada"),
        "failed changes end nothing"
    );

    let data = laptop
        .query(CHANGE, json!({ "c": PASSWORD, "n": "a new password" }))
        .await;
    assert_eq!(data["changePassword"], true);

    assert_eq!(
        laptop.me().await.as_deref(),
        Some("ada"),
        "this session goes on"
    );
    assert_eq!(phone.me().await, None, "the other one ended");
    let body = app
        .anonymous()
        .graphql(LOGIN, json!({ "u": "ada", "p": PASSWORD }))
        .await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    app.login("ada", "a new password").await;

    let anonymous = app
        .anonymous()
        .graphql(CHANGE, json!({ "c": "x", "n": "yyyyyyyy" }))
        .await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
}

#[tokio::test]
async fn an_idle_session_expires_and_is_purged() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.borrower("ada").await;
    assert_eq!(ada.me().await.as_deref(), Some("ada"));

    // Make the session look unused for longer than SESSION_IDLE_TTL (24 h by default).
    let two_days_ago = tkc_library::domain::now() - chrono::Duration::days(2);
    app.db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            app.db.get_database_backend(),
            match app.db.get_database_backend() {
                sea_orm::DbBackend::Postgres => "UPDATE sessions SET last_seen_at = $1",
                _ => "UPDATE sessions SET last_seen_at = ?",
            },
            [two_days_ago.into()],
        ))
        .await
        .unwrap();

    assert_eq!(ada.me().await, None);
    assert_eq!(
        app.count("sessions").await,
        0,
        "the dead session was deleted"
    );
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let app = TestApp::spawn_with(|c| c.sessions.ttl = std::time::Duration::from_secs(1)).await;
    let (ada, _) = app.borrower("ada").await;
    app.db
        .execute_unprepared("UPDATE sessions SET expires_at = created_at")
        .await
        .unwrap();

    assert_eq!(ada.me().await, None);
}

#[tokio::test]
async fn emails_are_shown_to_their_owner_and_to_admins_only() {
    let app = TestApp::spawn().await;
    let (ada, ada_id) = app.borrower("ada").await;
    let (bob, _) = app.borrower("bob").await;
    let (admin, _) = app.admin("root").await;
    let query = "query($id: ID!) { user(id: $id) { email } }";
    let vars = json!({ "id": ada_id.to_string() });

    assert_eq!(
        ada.query(query, vars.clone()).await["user"]["email"],
        "ada@example.org"
    );
    assert_eq!(
        admin.query(query, vars.clone()).await["user"]["email"],
        "ada@example.org"
    );
    assert!(bob.query(query, vars.clone()).await["user"]["email"].is_null());
    assert!(app.anonymous().query(query, vars).await["user"]["email"].is_null());
}

#[tokio::test]
async fn server_instances_share_sessions_through_the_database() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let set_cookie = register_set_cookie(&app).await;
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let body = with_cookie(&other, &cookie, "{ me { username } }").await;
    assert_eq!(body["data"]["me"]["username"], "ada", "{body}");
    with_cookie(&other, &cookie, LOGOUT).await;
    let body = with_cookie(&app, &cookie, "{ me { username } }").await;
    assert!(body["data"]["me"].is_null(), "{body}");
}
