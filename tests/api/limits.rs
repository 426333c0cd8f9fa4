//! Cost limits: depth, complexity, aliases, root fields, directives, errors.

use serde_json::json;

use crate::helpers::{TestApp, error_codes};

fn codes_of(body: &serde_json::Value) -> Vec<String> {
    error_codes(body)
}

#[tokio::test]
async fn a_query_nested_too_deep_is_refused() {
    let app = TestApp::spawn().await;
    // 12 levels: posts > edges > node > author > posts > edges > node > author > posts > edges > node > title
    let deep = "{ posts { edges { node { author { posts { edges { node { author { posts { edges { node { title } } } } } } } } } } } }";
    let body = app.graphql(deep, json!({})).await;
    assert_eq!(codes_of(&body), ["QUERY_TOO_DEEP"], "{body}");
    assert!(body.get("data").is_none());

    let ok = "{ posts { edges { node { author { posts { edges { node { title } } } } } } } }";
    app.query(ok, json!({})).await;
}

#[tokio::test]
async fn a_query_too_complex_is_refused_counting_first() {
    let app = TestApp::spawn().await;
    let heavy = "{ users(first: 100) { edges { node { posts(first: 100) { edges { node { author { username } } } } } } } }";
    let body = app.graphql(heavy, json!({})).await;
    assert_eq!(codes_of(&body), ["QUERY_TOO_COMPLEX"], "{body}");

    // The same shape with small pages is fine; `first` from a variable counts too.
    let light = "query($n: Int) { users(first: $n) { edges { node { posts(first: 5) { edges { node { author { username } } } } } } } }";
    app.query(light, json!({ "n": 10 })).await;
    let body = app.graphql(light, json!({ "n": 100 })).await;
    assert_eq!(codes_of(&body), ["QUERY_TOO_COMPLEX"]);
}

#[tokio::test]
async fn floods_of_aliases_and_root_fields_are_refused() {
    let app = TestApp::spawn().await;

    let roots: Vec<String> = (0..21).map(|i| format!("t{i}: __typename")).collect();
    let body = app
        .graphql(&format!("{{ {} }}", roots.join(" ")), json!({}))
        .await;
    assert_eq!(codes_of(&body), ["TOO_MANY_ROOT_FIELDS"], "{body}");

    let aliases: Vec<String> = (0..31).map(|i| format!("c{i}: totalCount")).collect();
    let body = app
        .graphql(
            &format!("{{ items {{ {} }} }}", aliases.join(" ")),
            json!({}),
        )
        .await;
    assert_eq!(codes_of(&body), ["TOO_MANY_ALIASES"], "{body}");

    let fine: Vec<String> = (0..20).map(|i| format!("t{i}: __typename")).collect();
    app.query(&format!("{{ {} }}", fine.join(" ")), json!({}))
        .await;
}

#[tokio::test]
async fn too_many_directives_on_a_field_are_refused() {
    let app = TestApp::spawn().await;
    let directives = "@skip(if: false) ".repeat(6);
    let body = app
        .graphql(
            &format!("{{ items {directives} {{ totalCount }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(codes_of(&body), ["TOO_MANY_DIRECTIVES"], "{body}");
}

#[tokio::test]
async fn limits_are_settings() {
    let app = TestApp::spawn_with(|c| {
        c.limits.depth = 2;
        c.limits.errors = 3;
    })
    .await;

    let body = app
        .graphql("{ items { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(codes_of(&body), ["QUERY_TOO_DEEP"]);

    let failing: Vec<String> = (0..10)
        .map(|i| format!("i{i}: item(id: \"x{i}\") {{ id }}"))
        .collect();
    let body = app
        .graphql(&format!("{{ {} }}", failing.join(" ")), json!({}))
        .await;
    assert_eq!(
        codes_of(&body),
        ["BAD_USER_INPUT"; 3],
        "the errors are capped"
    );
}

#[tokio::test]
async fn introspection_as_graphiql_sends_it_is_not_limited_by_depth() {
    let app = TestApp::spawn().await;
    let type_ref = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";
    let query = format!(
        "{{ __schema {{ queryType {{ name }} types {{ kind name fields(includeDeprecated: true) {{ name args {{ name type {{ {type_ref} }} }} type {{ {type_ref} }} }} }} directives {{ name locations args {{ name }} }} }} }}"
    );
    let data = app.query(&query, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}
