//! The `tkc-library` binary: its commands and how it fails on bad settings.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::{TestDatabase, table_names};

fn tkc(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc-library"));
    cmd.args(args)
        // Run away from the repository's .env, with nothing inherited that matters.
        .current_dir(std::env::temp_dir())
        .env_remove("RUST_LOG")
        .env("APP_ENV", "development")
        .env("DATABASE_URL", database_url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn migrate_up_down_status_and_fresh_work() {
    use migration::MigratorTrait;
    let db = TestDatabase::create().await;
    let migrations = migration::Migrator::migrations();
    let (all, last) = (migrations.len(), migrations.last().map(|m| m.name()));

    let out = tkc(&db.url, &["migrate", "status"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).matches("Pending").count(),
        all,
        "{}",
        stdout(&out)
    );

    let out = tkc(&db.url, &["migrate", "up"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).matches("Applied").count(),
        all,
        "{}",
        stdout(&out)
    );

    let out = tkc(&db.url, &["migrate", "down"], &[]);
    assert!(out.status.success(), "{out:?}");
    let status = stdout(&out);
    assert_eq!(status.matches("Applied").count(), all - 1, "{status}");
    assert!(
        status.contains(&format!("Pending  {}", last.unwrap_or_default())),
        "{status}"
    );

    let out = tkc(&db.url, &["migrate", "fresh"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).matches("Applied").count(), all);

    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    assert_eq!(table_names(&conn).await, ["items", "posts", "users"]);
    conn.close().await.ok();
}

#[tokio::test]
async fn seed_demo_is_idempotent() {
    let db = TestDatabase::create().await;

    let first = tkc(&db.url, &["seed-demo"], &[]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout(&first).starts_with("added 6 users, 36 items, 18 posts"),
        "{}",
        stdout(&first)
    );

    let second = tkc(&db.url, &["seed-demo"], &[]);
    assert!(second.status.success(), "{second:?}");
    assert!(
        stdout(&second).starts_with("added 0 users, 0 items, 0 posts"),
        "{}",
        stdout(&second)
    );
}

#[tokio::test]
async fn seed_demo_refuses_production() {
    let db = TestDatabase::create().await;

    let out = tkc(&db.url, &["seed-demo"], &[("APP_ENV", "production")]);

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("production"));
}

#[tokio::test]
async fn print_schema_prints_the_committed_schema() {
    let out = tkc("sqlite://unused.db", &["print-schema"], &[]);
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(stdout(&out), committed);
}

#[tokio::test]
async fn bad_settings_stop_start_up_with_one_line_naming_the_setting() {
    let db = TestDatabase::create().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PORT", "eighty")], "PORT"),
        (&[("APP_ENV", "staging")], "APP_ENV"),
        (&[("AUTO_MIGRATE", "perhaps")], "AUTO_MIGRATE"),
        (
            &[("DATABASE_URL", "mysql://root:hunter2@localhost/x")],
            "DATABASE_URL",
        ),
        (
            &[(
                "DATABASE_URL",
                "postgres://postgres:hunter2@127.0.0.1:1/nowhere",
            )],
            "DATABASE_URL",
        ),
        (
            &[("DATABASE_URL", "sqlite:///nonexistent-dir/x/y.db")],
            "DATABASE_URL",
        ),
        (&[("RUST_LOG", "info,[")], "RUST_LOG"),
        (&[("APP_ENV", "production")], "SECRET_KEY"),
        (
            &[("APP_ENV", "production"), ("SECRET_KEY", "too-short")],
            "SECRET_KEY",
        ),
        (
            &[
                ("APP_ENV", "production"),
                ("SECRET_KEY", tkc_library::config::DEVELOPMENT_SECRET_KEY),
            ],
            "SECRET_KEY",
        ),
    ];
    for (env, setting) in cases {
        let out = tkc(&db.url, &["serve"], env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?} must fail");
        assert_eq!(stderr.lines().count(), 1, "one line for {env:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {setting}: ")),
            "{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("hunter2"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn create_user_makes_an_admin_who_can_sign_in() {
    let db = TestDatabase::create().await;
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tkc-library"))
            .args(args)
            .current_dir(std::env::temp_dir())
            .env("DATABASE_URL", &db.url)
            .env("APP_ENV", "development")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let args = [
        "create-user",
        "--username",
        "chief",
        "--email",
        "chief@x.org",
        "--role",
        "admin",
        "--password-stdin",
    ];

    let out = run(&args, "a long admin password\n");
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("created user chief"),
        "{}",
        stdout(&out)
    );

    let mut again_args = args;
    again_args[4] = "other@x.org";
    let again = run(&again_args, "a long admin password\n");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("username: that username is already taken"),
        "{again:?}"
    );
    let weak = run(
        &[
            "create-user",
            "--username",
            "x2x",
            "--email",
            "x@x.org",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password: must be at least 8"),
        "{weak:?}"
    );

    let mut config = crate::helpers::test_config(&db.url);
    config.database.auto_migrate = false;
    let app = tkc_library::startup::Application::build(&config)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = serde_json::json!({ "query": "mutation { login(username: \"chief\", password: \"a long admin password\") { role } }" });
    let body: serde_json::Value = client
        .post(format!("{address}/graphql"))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["login"]["role"], "ADMIN", "{body}");
}

/// The playground's example operations, as absolute paths.
fn playground_operations() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/playground/operations");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn trusted_documents_writes_a_manifest_the_server_then_runs_alone() {
    let files = playground_operations();
    let mut args = vec!["trusted-documents"];
    args.extend(files.iter().map(String::as_str));
    let out = tkc("sqlite://unused.db", &args, &[]);
    assert!(out.status.success(), "{out:?}");
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(manifest.len(), files.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trusted.json");
    args.extend(["--output", path.to_str().unwrap()]);
    let out = tkc("sqlite://unused.db", &args, &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        stdout(&tkc("sqlite://unused.db", &args[..args.len() - 2], &[]))
    );

    let app = crate::helpers::TestApp::spawn_with(|c| {
        c.graphql.trusted_documents = Some(path.clone());
        c.graphql.trusted_documents_only = true;
    })
    .await;
    let catalogue = std::fs::read_to_string(
        files
            .iter()
            .find(|f| f.ends_with("/catalogue.graphql"))
            .unwrap(),
    )
    .unwrap();
    let hash = tkc_library::graphql::persisted::sha256_hex(&catalogue);
    assert!(manifest.contains_key(&hash));
    let body: serde_json::Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&serde_json::json!({
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } },
            "variables": { "first": 5 },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["items"]["totalCount"], 0, "{body}");
    assert_eq!(
        app.graphql("{ __typename }", serde_json::json!({})).await["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );
}

#[tokio::test]
async fn trusted_documents_refuses_a_file_that_is_not_a_document_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.graphql");
    std::fs::write(&broken, "query Broken { items { ").unwrap();
    let missing = dir.path().join("missing.graphql");

    for file in [&broken, &missing] {
        let out = tkc(
            "sqlite://unused.db",
            &["trusted-documents", file.to_str().unwrap()],
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("error: {}: ", file.display())),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn a_bad_trusted_documents_manifest_stops_start_up_with_one_line_naming_the_file() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trusted.json");
    std::fs::write(
        &path,
        r#"{"0000000000000000000000000000000000000000000000000000000000000000": "{ __typename }"}"#,
    )
    .unwrap();

    let out = tkc(
        &db.url,
        &["serve"],
        &[("TRUSTED_DOCUMENTS", path.to_str().unwrap()), ("PORT", "0")],
    );

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: TRUSTED_DOCUMENTS: {}: ", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("is not the SHA-256 of its document"),
        "{stderr}"
    );

    let out = tkc(&db.url, &["serve"], &[("TRUSTED_DOCUMENTS_ONLY", "true")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.starts_with("error: TRUSTED_DOCUMENTS_ONLY: "),
        "{stderr}"
    );
}
