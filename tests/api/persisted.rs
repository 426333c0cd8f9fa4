//! Persisted documents: automatic persisted queries (APQ) over POST, GET and batches, the bounded
//! store, trusted documents and trusted-only mode (HTTP and WebSocket), and a bad manifest
//! stopping start-up.

use std::path::PathBuf;

use serde_json::{Value, json};
use tkc_library::config::Config;
use tkc_library::graphql::persisted::{MAX_PERSISTED_TEXT, Manifest, sha256_hex};
use tkc_library::startup::Application;

use crate::helpers::{HARNESS, TestApp, TestDatabase, error_codes, test_config};
use crate::live::{Open, Socket};

const ITEMS: &str = "query Items { items(first: 1) { totalCount } }";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// `extensions` naming a document by `hash`.
fn by_hash(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs `body` (`accept`: the `Accept` header, if any) and returns the status and JSON body.
async fn post_accepting(app: &TestApp, accept: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app.client.post(format!("{}/graphql", app.address));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.json(body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    post_accepting(app, None, &body).await
}

/// GETs `/graphql` with `params` and returns the status and JSON body.
async fn get(app: &TestApp, params: &[(&str, String)]) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(params)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The one error code of a request error (no `data` at all).
fn refused(body: &Value) -> String {
    assert!(
        body.get("data").is_none(),
        "a request error has no data: {body}"
    );
    let codes = error_codes(body);
    assert_eq!(codes.len(), 1, "{body}");
    codes[0].clone()
}

fn total(body: &Value) -> i64 {
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["items"]["totalCount"].as_i64().unwrap()
}

/// A manifest of `documents` written to a temporary file (kept while the guard lives).
fn manifest_file(documents: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let manifest = Manifest::from_documents(documents.iter().map(|d| d.to_string()));
    write_file(&manifest.to_json())
}

fn write_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trusted-documents.json");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[tokio::test]
async fn a_hash_alone_is_not_found_until_the_document_is_sent_with_it() {
    let app = TestApp::spawn().await;
    let hash = sha256_hex(ITEMS);

    let (status, body) = post(&app, json!({ "extensions": by_hash(&hash) })).await;
    assert_eq!(
        status, 200,
        "legacy application/json: 200, as every request error"
    );
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    // In the GraphQL response media type, a request error is 400; Apollo Client reads the body.
    let (status, body) = post_accepting(
        &app,
        Some(GRAPHQL_RESPONSE),
        &json!({ "extensions": by_hash(&hash) }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_FOUND");

    let (_, body) = post(
        &app,
        json!({ "query": ITEMS, "extensions": by_hash(&hash) }),
    )
    .await;
    assert_eq!(total(&body), 0);

    let (status, body) = post(&app, json!({ "extensions": by_hash(&hash) })).await;
    assert_eq!(status, 200);
    assert_eq!(total(&body), 0);
    // An uppercase hash names the same document; variables and operationName apply as sent.
    let (_, body) = post(
        &app,
        json!({ "extensions": by_hash(&hash.to_uppercase()), "operationName": "Items" }),
    )
    .await;
    assert_eq!(total(&body), 0);
}

#[tokio::test]
async fn over_get_a_hash_alone_makes_a_short_url_for_a_registered_document() {
    let app = TestApp::spawn().await;
    let query = "query Count($first: Int) { items(first: $first) { totalCount } }";
    let hash = sha256_hex(query);
    let extensions = by_hash(&hash).to_string();
    let variables = json!({ "first": 2 }).to_string();

    let (_, body) = get(
        &app,
        &[
            ("extensions", extensions.clone()),
            ("variables", variables.clone()),
        ],
    )
    .await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_FOUND");

    let (_, body) = get(
        &app,
        &[
            ("query", query.to_owned()),
            ("extensions", extensions.clone()),
            ("variables", variables.clone()),
        ],
    )
    .await;
    assert_eq!(total(&body), 0);

    let (status, body) = get(
        &app,
        &[("extensions", extensions), ("variables", variables)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(total(&body), 0);
    // Registered over GET, found over POST: one store.
    let (_, body) = post(
        &app,
        json!({ "extensions": by_hash(&hash), "variables": { "first": 1 } }),
    )
    .await;
    assert_eq!(total(&body), 0);
}

#[tokio::test]
async fn a_mutation_named_by_its_hash_over_get_is_still_refused_with_405() {
    let app = TestApp::spawn().await;
    let logout = "mutation { logout }";
    let hash = sha256_hex(logout);
    let (_, body) = post(
        &app,
        json!({ "query": logout, "extensions": by_hash(&hash) }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");

    let (status, body) = get(&app, &[("extensions", by_hash(&hash).to_string())]).await;

    assert_eq!(status, 405);
    assert_eq!(refused(&body), "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn each_entry_of_a_batch_may_name_its_document_by_hash() {
    let app = TestApp::spawn().await;
    let hash = sha256_hex(ITEMS);
    let (_, body) = post(
        &app,
        json!({ "query": ITEMS, "extensions": by_hash(&hash) }),
    )
    .await;
    assert_eq!(total(&body), 0);
    let unknown = sha256_hex("{ __typename }");

    let (status, body) = post(
        &app,
        json!([
            { "extensions": by_hash(&hash) },
            { "query": "{ __typename }" },
            { "extensions": by_hash(&unknown) },
        ]),
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(total(&body[0]), 0);
    assert_eq!(body[1]["data"]["__typename"], "Query");
    assert_eq!(refused(&body[2]), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn a_hash_that_is_not_the_documents_is_a_bad_request_and_nothing_is_kept() {
    let app = TestApp::spawn().await;
    let hash = sha256_hex(ITEMS);

    let (status, body) = post_accepting(
        &app,
        Some(GRAPHQL_RESPONSE),
        &json!({ "query": "{ __typename }", "extensions": by_hash(&hash) }),
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(refused(&body), "BAD_REQUEST");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(&hash), "{message}");
    assert!(message.contains(&sha256_hex("{ __typename }")), "{message}");
    let (_, body) = post(&app, json!({ "extensions": by_hash(&hash) })).await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn a_malformed_persisted_query_extension_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let hash = sha256_hex(ITEMS);
    let cases = [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
        json!({ "persistedQuery": { "sha256Hash": hash } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": &hash[1..] } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": format!("{}zz", &hash[2..]) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": 12 } }),
        json!({ "persistedQuery": "yes" }),
    ];
    for extensions in cases {
        for query in [None, Some(ITEMS)] {
            let (_, body) = post(&app, json!({ "query": query, "extensions": extensions })).await;
            assert_eq!(refused(&body), "BAD_REQUEST", "{extensions} {query:?}");
        }
    }
    // No `query` and no extension is still a request without a document.
    let (status, body) = post(&app, json!({ "extensions": {} })).await;
    assert_eq!(status, 400);
    assert_eq!(refused(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn only_admitted_documents_are_kept_and_a_document_found_by_hash_meets_every_limit() {
    let app = TestApp::spawn_with(|c| c.limits.depth = 2).await;
    let deep = "{ items { edges { node { name } } } }";
    let hash = sha256_hex(deep);

    let (_, body) = post(&app, json!({ "query": deep, "extensions": by_hash(&hash) })).await;
    assert_eq!(refused(&body), "QUERY_TOO_DEEP");
    let (_, body) = post(&app, json!({ "extensions": by_hash(&hash) })).await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_FOUND");

    let broken = "{ items { ";
    let hash = sha256_hex(broken);
    let (_, body) = post(
        &app,
        json!({ "query": broken, "extensions": by_hash(&hash) }),
    )
    .await;
    assert_eq!(refused(&body), "GRAPHQL_PARSE_FAILED");
    let (_, body) = post(&app, json!({ "extensions": by_hash(&hash) })).await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn the_store_keeps_at_most_its_setting_and_no_long_documents() {
    let app = TestApp::spawn_with(|c| c.graphql.persisted_queries = 2).await;
    let documents: Vec<String> = (0..3)
        .map(|i| format!("query Q{i} {{ items {{ totalCount }} }}"))
        .collect();
    for document in &documents {
        let extensions = by_hash(&sha256_hex(document));
        let (_, body) = post(&app, json!({ "query": document, "extensions": extensions })).await;
        assert_eq!(total(&body), 0);
    }

    let first = by_hash(&sha256_hex(&documents[0]));
    let (_, body) = post(&app, json!({ "extensions": first })).await;
    assert_eq!(
        refused(&body),
        "PERSISTED_QUERY_NOT_FOUND",
        "the oldest made room"
    );
    for document in &documents[1..] {
        let (_, body) = post(
            &app,
            json!({ "extensions": by_hash(&sha256_hex(document)) }),
        )
        .await;
        assert_eq!(total(&body), 0);
    }

    // A document over the cap runs, but is not kept (so it does not evict anything either).
    let long = format!(
        "{{ items {{ totalCount }} }}\n# {}",
        "x".repeat(MAX_PERSISTED_TEXT)
    );
    let extensions = by_hash(&sha256_hex(&long));
    let (_, body) = post(&app, json!({ "query": long, "extensions": extensions })).await;
    assert_eq!(total(&body), 0);
    let (_, body) = post(&app, json!({ "extensions": extensions })).await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_FOUND");
    for document in &documents[1..] {
        let (_, body) = post(
            &app,
            json!({ "extensions": by_hash(&sha256_hex(document)) }),
        )
        .await;
        assert_eq!(total(&body), 0);
    }
}

#[tokio::test]
async fn with_persisted_queries_off_a_hash_alone_is_not_supported() {
    let app = TestApp::spawn_with(|c| c.graphql.persisted_queries = 0).await;
    let extensions = by_hash(&sha256_hex(ITEMS));

    let (_, body) = post(&app, json!({ "extensions": extensions })).await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_SUPPORTED");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotSupported");

    // The document sent with its hash still runs (Apollo's link does so after NOT_SUPPORTED
    // only without the extension, but nothing is lost either way); nothing is kept.
    let (_, body) = post(&app, json!({ "query": ITEMS, "extensions": extensions })).await;
    assert_eq!(total(&body), 0);
    let (_, body) = post(&app, json!({ "extensions": extensions })).await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_SUPPORTED");
}

#[tokio::test]
async fn trusted_documents_are_found_by_hash_and_never_evicted() {
    let (_dir, path) = manifest_file(&[ITEMS]);
    let app = TestApp::spawn_with(|c| {
        c.graphql.trusted_documents = Some(path.clone());
        c.graphql.persisted_queries = 1;
    })
    .await;
    for i in 0..3 {
        let document = format!("{{ a{i}: __typename }}");
        let extensions = by_hash(&sha256_hex(&document));
        let (_, body) = post(&app, json!({ "query": document, "extensions": extensions })).await;
        assert!(body.get("errors").is_none(), "{body}");
    }

    let (_, body) = post(&app, json!({ "extensions": by_hash(&sha256_hex(ITEMS)) })).await;

    assert_eq!(total(&body), 0);
    // Without trusted-only mode, any other document still runs.
    app.query("{ __typename }", json!({})).await;
}

#[tokio::test]
async fn trusted_only_mode_refuses_every_document_outside_the_manifest_before_parsing() {
    let (_dir, path) = manifest_file(&[ITEMS]);
    let app = TestApp::spawn_with(|c| {
        c.graphql.trusted_documents = Some(path.clone());
        c.graphql.trusted_documents_only = true;
    })
    .await;
    let unknown = "{ __typename }";
    let unparsable = "{ items { ";

    for body in [
        json!({ "query": unknown }),
        json!({ "extensions": by_hash(&sha256_hex(unknown)) }),
        json!({ "query": unknown, "extensions": by_hash(&sha256_hex(unknown)) }),
        json!({ "query": unparsable }),
        // Whitespace matters: the manifest holds exact texts.
        json!({ "query": format!("{ITEMS} ") }),
    ] {
        let (status, answer) = post_accepting(&app, Some(GRAPHQL_RESPONSE), &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(refused(&answer), "PERSISTED_QUERY_NOT_ALLOWED", "{body}");
    }
    let (_, body) = get(&app, &[("query", unknown.to_owned())]).await;
    assert_eq!(refused(&body), "PERSISTED_QUERY_NOT_ALLOWED");

    for path in ["/", "/playground", "/playground/operations.json"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn trusted_only_mode_runs_the_manifests_documents_by_hash_or_in_full() {
    let (_dir, path) = manifest_file(&[ITEMS]);
    let app = TestApp::spawn_with(|c| {
        c.graphql.trusted_documents = Some(path.clone());
        c.graphql.trusted_documents_only = true;
    })
    .await;
    let hash = sha256_hex(ITEMS);

    let (_, body) = post(&app, json!({ "extensions": by_hash(&hash) })).await;
    assert_eq!(total(&body), 0);
    let (_, body) = post(&app, json!({ "query": ITEMS })).await;
    assert_eq!(total(&body), 0);
    let (_, body) = post(
        &app,
        json!({ "query": ITEMS, "extensions": by_hash(&hash) }),
    )
    .await;
    assert_eq!(total(&body), 0);
    let (_, body) = get(&app, &[("extensions", by_hash(&hash).to_string())]).await;
    assert_eq!(total(&body), 0);
}

#[tokio::test]
async fn over_websocket_trusted_only_mode_answers_an_unknown_document_with_an_error_message() {
    let watch = "subscription Watch { itemChanged { id name } }";
    let (_dir, path) = manifest_file(&[ITEMS, watch]);
    let app = TestApp::spawn_with(|c| {
        c.graphql.trusted_documents = Some(path.clone());
        c.graphql.trusted_documents_only = true;
    })
    .await;
    let mut socket = Socket::connect(&app.address, Open::default()).await;

    socket
        .subscribe("1", "subscription { itemChanged { id } }", json!({}))
        .await;
    let refusal = socket.receive().await.unwrap();
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(refusal["id"], "1");
    assert_eq!(
        refusal["payload"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
        "{refusal}"
    );
    socket
        .send(json!({ "type": "subscribe", "id": "2", "payload": {
            "extensions": by_hash(&sha256_hex("{ __typename }")),
        } }))
        .await;
    let refusal = socket.receive().await.unwrap();
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(
        refusal["payload"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );
    // No document at all is not trusted either: refused before the parser sees it.
    socket.subscribe("2b", "   ", json!({})).await;
    let refusal = socket.receive().await.unwrap();
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(
        refusal["payload"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
        "{refusal}"
    );

    // A listed query, by its hash, runs over the socket; so does a listed subscription.
    socket
        .send(json!({ "type": "subscribe", "id": "3", "payload": {
            "extensions": by_hash(&sha256_hex(ITEMS)),
        } }))
        .await;
    assert_eq!(socket.next_data("3").await["items"]["totalCount"], 0);
    assert_eq!(
        socket.receive().await.unwrap(),
        json!({ "type": "complete", "id": "3" })
    );
    socket.subscribe("4", watch, json!({})).await;
    socket
        .assert_silent(std::time::Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn over_websocket_a_subscription_may_be_named_by_its_registered_hash() {
    let app = TestApp::spawn().await;
    let hash = sha256_hex(ITEMS);
    let mut socket = Socket::connect(&app.address, Open::default()).await;

    socket
        .send(
            json!({ "type": "subscribe", "id": "1", "payload": { "extensions": by_hash(&hash) } }),
        )
        .await;
    let refusal = socket.receive().await.unwrap();
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(
        refusal["payload"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );

    let (_, body) = post(
        &app,
        json!({ "query": ITEMS, "extensions": by_hash(&hash) }),
    )
    .await;
    assert_eq!(total(&body), 0);
    socket
        .send(
            json!({ "type": "subscribe", "id": "2", "payload": { "extensions": by_hash(&hash) } }),
        )
        .await;
    assert_eq!(socket.next_data("2").await["items"]["totalCount"], 0);
}

#[tokio::test]
async fn a_bad_manifest_stops_start_up_naming_the_file() {
    let database = TestDatabase::create().await;
    let items_hash = sha256_hex(ITEMS);
    let cases = [
        ("not JSON", "{ nope".to_owned()),
        ("a list, not an object", json!([ITEMS]).to_string()),
        (
            "a document that is not text",
            json!({ items_hash.clone(): 1 }).to_string(),
        ),
        (
            "a key that is not its document's hash",
            json!({ sha256_hex("{ __typename }"): ITEMS }).to_string(),
        ),
        (
            "an uppercase key",
            json!({ items_hash.to_uppercase(): ITEMS }).to_string(),
        ),
        (
            "a document that does not parse",
            json!({ sha256_hex("{ items {"): "{ items {" }).to_string(),
        ),
    ];
    for (case, text) in cases {
        let (_dir, path) = write_file(&text);
        let error = start(&database, Some(path.clone()), false).await;
        assert_eq!(error.setting, "TRUSTED_DOCUMENTS", "{case}");
        assert!(
            error.message.starts_with(&path.display().to_string()),
            "{case}: {error}"
        );
    }

    let missing = std::env::temp_dir().join("tkc-no-such-manifest.json");
    let error = start(&database, Some(missing.clone()), false).await;
    assert_eq!(error.setting, "TRUSTED_DOCUMENTS");
    assert!(
        error.message.contains(&missing.display().to_string()),
        "{error}"
    );
    assert!(error.message.contains("cannot be read"), "{error}");

    let error = start(&database, None, true).await;
    assert_eq!(error.setting, "TRUSTED_DOCUMENTS_ONLY");
}

/// Builds a server that must not start, and returns why.
async fn start(
    database: &TestDatabase,
    manifest: Option<PathBuf>,
    only: bool,
) -> tkc_library::error::StartupError {
    let mut config: Config = test_config(&database.url);
    config.graphql.trusted_documents = manifest;
    config.graphql.trusted_documents_only = only;
    match Application::build_with(&config, HARNESS).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e,
    }
}
