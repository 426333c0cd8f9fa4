//! The migrations run up, down to nothing, and up again, on each backend.

use migration::{Migrator, MigratorTrait};

use crate::helpers::TestApp;

#[tokio::test]
async fn migrations_go_up_down_to_zero_and_up_again() {
    let app = TestApp::spawn().await;
    assert_eq!(app.tables().await, ["items", "posts", "users"]);

    Migrator::down(&app.db, None).await.unwrap();
    assert!(app.tables().await.is_empty(), "down removes every table");
    assert!(
        Migrator::get_applied_migrations(&app.db)
            .await
            .unwrap()
            .is_empty()
    );

    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(app.tables().await, ["items", "posts", "users"]);
    assert_eq!(
        Migrator::get_pending_migrations(&app.db)
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn the_schema_enforces_the_data_model() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let now = "'2026-01-01T00:00:00+00:00'";
    let insert_user = |name: &str, email: &str, role: &str| {
        format!(
            "INSERT INTO users (username, email, username_key, email_key, password_hash, role, \
             created_at) VALUES ('{name}', '{email}', '{}', '{}', 'h', '{role}', {now})",
            name.to_lowercase(),
            email.to_lowercase()
        )
    };

    app.db
        .execute_unprepared(&insert_user("Ada", "ada@x.org", "admin"))
        .await
        .unwrap();
    // Usernames and emails are unique by their case keys; roles are checked.
    for bad in [
        insert_user("ADA", "other@x.org", "borrower"),
        insert_user("bob", "ADA@X.ORG", "borrower"),
        insert_user("carol", "carol@x.org", "superuser"),
    ] {
        assert!(app.db.execute_unprepared(&bad).await.is_err(), "{bad}");
    }
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT role, image_file FROM users",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "image_file").unwrap(),
        "default.jpg"
    );

    // Empty titles and bodies are refused; deleting a user deletes their posts.
    let post = |title: &str, body: &str| {
        format!(
            "INSERT INTO posts (title, body, created_at, updated_at, author_id) \
             VALUES ('{title}', '{body}', {now}, {now}, 1)"
        )
    };
    assert!(app.db.execute_unprepared(&post("", "b")).await.is_err());
    assert!(app.db.execute_unprepared(&post("t", "")).await.is_err());
    assert!(
        app.db
            .execute_unprepared(&post(&"x".repeat(101), "b"))
            .await
            .is_err()
    );
    app.db.execute_unprepared(&post("t", "b")).await.unwrap();
    app.db
        .execute_unprepared("DELETE FROM users")
        .await
        .unwrap();
    let left = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM posts",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.try_get::<i64>("", "n").unwrap(), 0);
}
