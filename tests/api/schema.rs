//! `schema.graphql` is the SDL the server serves.

use tkc_library::graphql;

#[test]
fn the_committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql at the top of the repository");
    let current = graphql::sdl(&graphql::printable());
    assert!(
        committed == current,
        "schema.graphql is out of date; regenerate it with:\n\n    cargo run -- print-schema > schema.graphql\n"
    );
}

#[tokio::test]
async fn the_served_schema_is_the_committed_one() {
    let app = crate::helpers::TestApp::spawn().await;
    let data = app
        .query(
            "{ __schema { queryType { fields { name } } } }",
            serde_json::json!({}),
        )
        .await;
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    for field in data["__schema"]["queryType"]["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        assert!(
            committed.contains(&format!("\t{name}(")) || committed.contains(&format!("\t{name}:")),
            "{name}"
        );
    }
}
