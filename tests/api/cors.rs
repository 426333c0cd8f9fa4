//! CORS: credentials for exactly the configured origins, nothing for the others.

use reqwest::Method;

use tkc_library::config::{Origin, Setting};

use crate::helpers::TestApp;

const ALLOWED: &str = "https://app.example.org";

fn origin(text: &str) -> Origin {
    Origin::parse(text).expect("an origin")
}

#[tokio::test]
async fn an_allowed_origin_gets_credentials_and_vary() {
    let app = TestApp::spawn_with(|c| c.http.cors_allowed_origins = vec![origin(ALLOWED)]).await;

    let preflight = app
        .client
        .request(Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", ALLOWED)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], ALLOWED);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("content-type")
    );
    assert!(
        h["vary"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("origin")
    );

    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", ALLOWED)
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(
        response.headers()["access-control-allow-credentials"],
        "true"
    );
    assert!(
        response.headers()["vary"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("origin")
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    for origins in [vec![origin(ALLOWED)], vec![]] {
        let app = TestApp::spawn_with(|c| c.http.cors_allowed_origins = origins.clone()).await;
        for origin in [
            "https://evil.example",
            "null",
            "https://app.example.org.evil.example",
        ] {
            let response = app
                .client
                .post(format!("{}/graphql", app.address))
                .header("origin", origin)
                .json(&serde_json::json!({ "query": "{ __typename }" }))
                .send()
                .await
                .unwrap();
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none(),
                "{origin} with {origins:?}"
            );
            assert!(
                response
                    .headers()
                    .get("access-control-allow-credentials")
                    .is_none()
            );
        }
    }
}
