//! The `tkc-library` binary: its commands and how it fails on bad settings.

use std::process::{Command, Output};

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
    let db = TestDatabase::create().await;

    let out = tkc(&db.url, &["migrate", "status"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).matches("Pending").count(),
        3,
        "{}",
        stdout(&out)
    );

    let out = tkc(&db.url, &["migrate", "up"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).matches("Applied").count(),
        3,
        "{}",
        stdout(&out)
    );

    let out = tkc(&db.url, &["migrate", "down"], &[]);
    assert!(out.status.success(), "{out:?}");
    let status = stdout(&out);
    assert_eq!(status.matches("Applied").count(), 2, "{status}");
    assert!(
        status.contains("Pending  m20261121_000003_create_items"),
        "{status}"
    );

    let out = tkc(&db.url, &["migrate", "fresh"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).matches("Applied").count(), 3);

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
