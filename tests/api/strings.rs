//! Bad strings (issue 9, findings 7-9): NUL characters are refused before anything runs, search
//! text is bounded, and "in any case" means full Unicode case folding on both databases.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, at, error_codes};

/// The one error of a refused request: its code and field, and that nothing was executed.
fn refusal(body: &Value) -> (String, String) {
    assert_eq!(error_codes(body).len(), 1, "one error: {body:#}");
    assert!(
        body.get("data").is_none(),
        "a request error has no data: {body:#}"
    );
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or_default().to_owned(),
        ext["field"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_nul_character_in_any_string_argument_is_bad_user_input_naming_the_field() {
    let app = TestApp::spawn().await;
    let (author, _) = app.borrower("ada").await;
    let cases = [
        // Literals in the document.
        (
            r#"{ userByUsername(username: "ada\u0000") { id } }"#,
            json!({}),
            "username",
        ),
        (
            r#"mutation { login(username: "ada\u0000", password: "x") { id } }"#,
            json!({}),
            "username",
        ),
        (
            r#"{ items(search: "\u0000") { totalCount edges { node { name } } } }"#,
            json!({}),
            "search",
        ),
        (
            r#"mutation { createPost(input: { title: "Hi\u0000", body: "b" }) { id } }"#,
            json!({}),
            "input.title",
        ),
        // Variables, named by the variable and the path inside it.
        (
            "query($u: String!) { userByUsername(username: $u) { id } }",
            json!({ "u": "ada\u{0}" }),
            "u",
        ),
        (
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { id } }",
            json!({ "u": "ada", "p": "pass\u{0}word" }),
            "p",
        ),
        (
            "query($s: String) { items(search: $s) { totalCount } }",
            json!({ "s": "\u{0}" }),
            "s",
        ),
        (
            "mutation($input: CreatePostInput!) { createPost(input: $input) { id } }",
            json!({ "input": { "title": "Hi", "body": "b\u{0}" } }),
            "input.body",
        ),
    ];
    for (query, variables, field) in cases {
        let body = author.graphql(query, variables).await;
        assert_eq!(
            refusal(&body),
            ("BAD_USER_INPUT".to_owned(), field.to_owned()),
            "{query}: {body:#}"
        );
    }
    assert_eq!(app.count("posts").await, 0, "nothing ran");

    // A raw NUL inside a literal (not an escape) never reaches a resolver either.
    let raw = format!("{{ items(search: \"a{}\") {{ totalCount }} }}", '\0');
    let body = author.graphql(&raw, json!({})).await;
    assert!(body.get("data").is_none(), "{body:#}");
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body:#}");
}

#[tokio::test]
async fn a_nul_refusal_is_a_request_error_in_the_graphql_response_media_type() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": r#"{ items(search: "a\u0000") { totalCount } }"# }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(refusal(&body).0, "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_search_longer_than_200_characters_is_bad_user_input_before_any_sql() {
    let app = TestApp::spawn().await;
    app.insert_items([("Dune".to_owned(), at(0))]).await;
    for query in [
        "query($s: String) { items(search: $s) { edges { node { name } } } }",
        "query($s: String) { items(search: $s) { totalCount } }",
    ] {
        let body = app.graphql(query, json!({ "s": "a".repeat(50_000) })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body:#}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "search");
    }
    // 200 characters (after trimming) are fine.
    let data = app
        .query(
            "query($s: String) { items(search: $s) { totalCount } }",
            json!({ "s": format!("  {}  ", "é".repeat(200)) }),
        )
        .await;
    assert_eq!(data["items"]["totalCount"], 0);
}

const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { id } }";

fn account(username: &str, email: &str) -> Value {
    json!({ "input": { "username": username, "email": email, "password": PASSWORD } })
}

#[tokio::test]
async fn emails_differing_only_in_unicode_case_cannot_both_register() {
    let app = TestApp::spawn().await;
    for (first, second) in [
        ("Émile@x.org", "émile@x.org"),
        // Full case folding: ß folds to ss, and Greek final sigma to sigma.
        ("straße@x.org", "STRASSE@x.org"),
        ("οδος@x.org", "ΟΔΟΣ@x.org"),
    ] {
        app.anonymous()
            .query(REGISTER, account(&format!("u{}", first.len()), first))
            .await;
        let body = app
            .anonymous()
            .graphql(REGISTER, account(&format!("v{}", first.len()), second))
            .await;
        assert_eq!(error_codes(&body), ["CONFLICT"], "{second}: {body:#}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "email");
    }
    assert_eq!(app.count("users").await, 3);
}

#[tokio::test]
async fn a_login_by_email_in_another_case_reaches_the_right_account() {
    let app = TestApp::spawn().await;
    app.anonymous()
        .query(REGISTER, account("emile", "Émile@x.org"))
        .await;
    app.borrower("someone").await;
    for login in ["ÉMILE@X.ORG", "émile@x.org", "  Émile@x.org "] {
        let me = app.login(login, PASSWORD).await.me().await;
        assert_eq!(me.as_deref(), Some("emile"), "{login}");
    }
    let data = app
        .query(
            r#"query($long: String!) {
                userByUsername(username: "EMILE") { username }
                long: userByUsername(username: $long) { id }
            }"#,
            json!({ "long": "x".repeat(10_000) }),
        )
        .await;
    assert_eq!(data["userByUsername"]["username"], "emile");
    assert_eq!(data["long"], Value::Null);
}

#[tokio::test]
async fn item_search_is_unicode_case_insensitive_and_literal() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.admin("ada").await;
    admin
        .query(
            r#"mutation { createItem(input: { name: "Écran plat" }) { id } }"#,
            json!({}),
        )
        .await;
    app.insert_items([
        ("Die Straße".to_owned(), at(1)),
        ("50% off_now".to_owned(), at(2)),
        ("ÉCOLE".to_owned(), at(3)),
    ])
    .await;
    let search = |term: &str| {
        let app = &app;
        let term = term.to_owned();
        async move {
            let data = app
                .query(
                    "query($s: String) { items(search: $s) { totalCount edges { node { name } } } }",
                    json!({ "s": term }),
                )
                .await;
            let names: Vec<String> = data["items"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(data["items"]["totalCount"], names.len());
            names
        }
    };
    assert_eq!(search("écran").await, ["Écran plat"]);
    assert_eq!(search("ÉCRAN").await, ["Écran plat"]);
    assert_eq!(search("école").await, ["ÉCOLE"]);
    assert_eq!(search("STRASSE").await, ["Die Straße"]);
    assert_eq!(search("é").await, ["Écran plat", "ÉCOLE"]);
    assert_eq!(search("0% o").await, ["50% off_now"]);
    assert!(search("%").await.len() == 1 && search("_").await.len() == 1);

    // A renamed item is found by its new name only.
    let id = admin
        .query(
            r#"{ items(search: "ecran") { edges { node { id } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(id["items"]["edges"], json!([]), "é is not e");
    let id = admin
        .query(
            r#"{ items(search: "écran") { edges { node { id } } } }"#,
            json!({}),
        )
        .await["items"]["edges"][0]["node"]["id"]
        .clone();
    admin
        .query(
            "mutation($id: ID!) { updateItem(id: $id, input: { name: \"Ökologie\" }) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(search("écran").await.is_empty());
    assert_eq!(search("ÖKO").await, ["Ökologie"]);
}

/// How many migrations to undo to take the case-key migration back, and it with them.
async fn steps_back_to_before_case_keys(app: &TestApp) -> u32 {
    let applied = Migrator::get_applied_migrations(&app.db).await.unwrap();
    let position = applied
        .iter()
        .position(|m| m.name().contains("_add_case_keys"))
        .expect("the case-key migration is applied");
    (applied.len() - position) as u32
}

async fn keys(app: &TestApp, sql: &str) -> Vec<(String, String)> {
    app.db
        .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get_by_index::<String>(0).unwrap(),
                row.try_get_by_index::<String>(1).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_case_key_migration_backfills_existing_rows_and_goes_down_keeping_them() {
    let app = TestApp::spawn().await;
    app.anonymous()
        .query(REGISTER, account("Emile", "Émile@X.org"))
        .await;
    app.insert_items([("Écran".to_owned(), at(0))]).await;
    // More than one chunk of the backfill (500 rows).
    app.insert_items((1..=1_100).map(|i| (format!("Chaise {i}"), at(i))))
        .await;

    let steps = steps_back_to_before_case_keys(&app).await;
    Migrator::down(&app.db, Some(steps)).await.unwrap();
    // Rows written before the migration existed.
    app.db
        .execute_unprepared(
            "INSERT INTO users (username, email, password_hash, role, created_at) \
             VALUES ('Zoe', 'ZOË@x.org', 'h', 'borrower', '2026-01-01T00:00:00+00:00')",
        )
        .await
        .unwrap();
    app.db
        .execute_unprepared(
            "INSERT INTO items (name, created_at) VALUES ('STRAẞE', '2026-01-01T00:00:00+00:00')",
        )
        .await
        .unwrap();
    Migrator::up(&app.db, None).await.unwrap();

    assert_eq!(
        keys(
            &app,
            "SELECT username_key, email_key FROM users ORDER BY id"
        )
        .await,
        [
            ("emile".to_owned(), "émile@x.org".to_owned()),
            ("zoe".to_owned(), "zoë@x.org".to_owned()),
        ]
    );
    assert_eq!(
        keys(
            &app,
            "SELECT name, name_key FROM items WHERE name NOT LIKE 'Chaise%' ORDER BY id"
        )
        .await,
        [
            ("Écran".to_owned(), "écran".to_owned()),
            ("STRAẞE".to_owned(), "strasse".to_owned()),
        ]
    );
    let data = app
        .query(r#"{ items(search: "CHAISE ") { totalCount } }"#, json!({}))
        .await;
    assert_eq!(data["items"]["totalCount"], 1_100);
    let me = app.login("ÉMILE@x.ORG", PASSWORD).await.me().await;
    assert_eq!(me.as_deref(), Some("Emile"));
    let data = app
        .query(r#"{ items(search: "ÉCR") { totalCount } }"#, json!({}))
        .await;
    assert_eq!(data["items"]["totalCount"], 1);
}

#[tokio::test]
async fn the_case_key_migration_refuses_existing_duplicates_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let steps = steps_back_to_before_case_keys(&app).await;
    Migrator::down(&app.db, Some(steps)).await.unwrap();
    // Distinct under lower() on both databases, one email under full case folding.
    for (name, email) in [("a1", "straße@x.org"), ("a2", "STRASSE@x.org")] {
        app.db
            .execute_unprepared(&format!(
                "INSERT INTO users (username, email, password_hash, role, created_at) \
                 VALUES ('{name}', '{email}', 'h', 'borrower', '2026-01-01T00:00:00+00:00')"
            ))
            .await
            .unwrap();
    }
    let err = Migrator::up(&app.db, None).await.unwrap_err().to_string();
    assert!(err.contains("strasse@x.org"), "{err}");
    assert_eq!(app.count("users").await, 2);
    assert_eq!(
        Migrator::get_pending_migrations(&app.db)
            .await
            .unwrap()
            .len(),
        steps as usize
    );

    app.db
        .execute_unprepared("DELETE FROM users WHERE username = 'a2'")
        .await
        .unwrap();
    Migrator::up(&app.db, None).await.unwrap();
}

#[tokio::test]
async fn rows_written_in_sql_without_keys_get_them_from_the_database() {
    // Benchmark seeds and hand-written fixes insert rows without the keys: the database fills
    // them in (lower(), exact for ASCII), so such rows are found and stay unique.
    let app = TestApp::spawn().await;
    app.db
        .execute_unprepared(
            "INSERT INTO users (username, email, password_hash, role, created_at) \
             VALUES ('Seeded', 'Seeded@Bench.example', 'h', 'borrower', '2026-01-01T00:00:00+00:00'), \
                    ('Other', 'other@bench.example', 'h', 'borrower', '2026-01-01T00:00:01+00:00')",
        )
        .await
        .unwrap();
    app.db
        .execute_unprepared(
            "INSERT INTO items (name, created_at) VALUES ('Hand Drill', '2026-01-01T00:00:00+00:00')",
        )
        .await
        .unwrap();

    let data = app
        .query(
            r#"{ userByUsername(username: "SEEDED") { username } items(search: "DRILL") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["userByUsername"]["username"], "Seeded");
    assert_eq!(data["items"]["totalCount"], 1);
    let code = app
        .anonymous()
        .error_code(
            "mutation { register(input: { username: \"SEEDED\", email: \"new@bench.example\", password: \"long enough\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "CONFLICT");
}
