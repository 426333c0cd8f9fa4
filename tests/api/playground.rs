//! The playground: served with safe headers, complete, and its example operations valid.

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes};

#[tokio::test]
async fn the_page_is_served_with_headers_for_a_page_that_holds_a_session() {
    let app = TestApp::spawn().await;

    for path in ["/", "/playground"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200);
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    }
}

#[tokio::test]
async fn every_asset_the_page_references_is_served_from_this_server() {
    let app = TestApp::spawn().await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains("<script>"), "no inline script");

    let mut references = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in page.split(attribute).skip(1) {
            let url = part.split('"').next().unwrap();
            if url.starts_with("data:") {
                continue;
            }
            assert!(
                !url.starts_with("http") && !url.starts_with("//"),
                "external reference {url}"
            );
            references.push(url.to_owned());
        }
    }
    assert!(
        references.iter().any(|r| r.ends_with(".js")),
        "{references:?}"
    );
    for url in references {
        let response = app.get(&url).await;
        assert_eq!(response.status(), 200, "{url}");
    }
    assert_eq!(app.get("/playground/nope.js").await.status(), 404);
}

#[tokio::test]
async fn the_example_operations_are_the_files_and_all_validate_against_the_schema() {
    let app = TestApp::spawn().await;
    let served: Value = app
        .get("/playground/operations.json")
        .await
        .json()
        .await
        .unwrap();
    let served = served.as_array().unwrap();

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/playground/operations");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("graphql") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            served.iter().any(|o| o["query"] == text.as_str()),
            "{} is not served",
            path.display()
        );
    }
    assert_eq!(files, served.len(), "every served operation is a file");
    let names: Vec<&str> = served.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "Catalogue");
    assert!(
        names.iter().any(|n| n.contains("demo")),
        "development has the demo login tab"
    );

    // The served schema is schema.graphql (see schema.rs), so validating here validates there.
    let client = app.anonymous();
    for operation in served {
        let variables: Value = operation["variables"]
            .as_str()
            .map(|v| serde_json::from_str(v).unwrap())
            .unwrap_or(json!({}));
        let mut body = client
            .graphql(operation["query"].as_str().unwrap(), variables)
            .await;
        // Over HTTP a subscription is refused only once it has parsed and validated (an invalid
        // one gets its validation error): that refusal alone means it is valid.
        if let Some(errors) = body["errors"].as_array_mut() {
            errors.retain(|e| e["message"] != "Subscriptions are not supported on this transport.");
        }
        for code in error_codes(&body) {
            assert!(
                !code.starts_with("GRAPHQL_") && code != "BAD_USER_INPUT",
                "{}: {body}",
                operation["name"]
            );
        }
    }
}
