//! The account flows called as the domain offers them (`domain::signin`), without GraphQL: each
//! owns its transaction, and leaves the database as its contract says, on both databases.

use tkc_library::auth::Viewer;
use tkc_library::domain::signin;
use tkc_library::entity::users::Role;

use crate::helpers::TestApp;

const PASSWORD: &str = "correct horse battery";

async fn registered(app: &TestApp, name: &str) -> signin::SignedIn {
    signin::register(
        &app.db,
        &app.bus,
        &app.auth,
        signin::Registration {
            username: name,
            email: &format!("{name}@example.com"),
            password: PASSWORD.to_owned(),
        },
        "10.0.0.1",
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn register_creates_a_borrower_with_a_session_and_refuses_a_taken_name_in_any_case() {
    let app = TestApp::spawn().await;
    let ada = registered(&app, "ada").await;
    assert_eq!(ada.viewer.user.role, Role::Borrower);
    assert_eq!(ada.viewer.session.user_id, ada.viewer.user.id);
    assert!(ada.token.len() >= 32);
    assert_eq!(
        (app.count("users").await, app.count("sessions").await),
        (1, 1)
    );

    let taken = signin::register(
        &app.db,
        &app.bus,
        &app.auth,
        signin::Registration {
            username: "ADA",
            email: "other@example.com",
            password: PASSWORD.to_owned(),
        },
        "10.0.0.1",
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        (taken.code().as_str(), taken.field()),
        ("CONFLICT", Some("username"))
    );
    assert_eq!(
        (app.count("users").await, app.count("sessions").await),
        (1, 1)
    );
}

#[tokio::test]
async fn login_replaces_the_current_session_and_a_wrong_password_is_counted() {
    let app = TestApp::spawn().await;
    let ada = registered(&app, "ada").await;

    let again = signin::login(
        &app.db,
        &app.bus,
        &app.auth,
        "ada@example.com",
        PASSWORD.to_owned(),
        "10.0.0.1",
        Some(&ada.viewer),
    )
    .await
    .unwrap();
    assert_eq!(again.viewer.user.id, ada.viewer.user.id);
    assert_ne!(again.viewer.session.id, ada.viewer.session.id);
    assert_eq!(app.count("sessions").await, 1, "the old session ended");

    for _ in 0..5 {
        let wrong = signin::login(
            &app.db,
            &app.bus,
            &app.auth,
            "ada",
            "nope".into(),
            "10.0.0.2",
            None,
        )
        .await
        .err()
        .unwrap();
        assert_eq!(wrong.code().as_str(), "UNAUTHENTICATED");
    }
    // Locked now: the right password too, and nothing is written.
    let locked = signin::login(
        &app.db,
        &app.bus,
        &app.auth,
        "ada",
        PASSWORD.into(),
        "10.0.0.3",
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(locked.code().as_str(), "TOO_MANY_REQUESTS");
    assert_eq!(app.count("sessions").await, 1);

    // An unknown name answers like a wrong password.
    let unknown = signin::login(
        &app.db,
        &app.bus,
        &app.auth,
        "nobody",
        PASSWORD.into(),
        "10.0.0.4",
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(unknown.code().as_str(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn change_password_keeps_this_session_ends_the_others_and_checks_the_current_one() {
    let app = TestApp::spawn().await;
    let ada = registered(&app, "ada").await;
    let elsewhere = signin::login(
        &app.db,
        &app.bus,
        &app.auth,
        "ada",
        PASSWORD.into(),
        "10.0.0.9",
        None,
    )
    .await
    .unwrap();
    assert_eq!(app.count("sessions").await, 2);

    let wrong = signin::change_password(
        &app.db,
        &app.bus,
        &app.auth,
        &ada.viewer,
        "not it".into(),
        "a new password".into(),
        "10.0.0.1",
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        (wrong.code().as_str(), wrong.field()),
        ("BAD_USER_INPUT", Some("currentPassword"))
    );
    assert_eq!(app.count("sessions").await, 2, "nothing changed");

    signin::change_password(
        &app.db,
        &app.bus,
        &app.auth,
        &ada.viewer,
        PASSWORD.into(),
        "a new password".into(),
        "10.0.0.1",
    )
    .await
    .unwrap();
    assert_eq!(app.count("sessions").await, 1);
    assert!(
        signin::logout(&app.db, &app.bus, Some(&elsewhere.viewer))
            .await
            .is_ok()
    );
    assert_eq!(
        app.count("sessions").await,
        1,
        "the other session was already gone"
    );
    // The new password signs in; the old one does not.
    assert!(
        signin::login(
            &app.db,
            &app.bus,
            &app.auth,
            "ada",
            "a new password".into(),
            "10.0.0.1",
            None
        )
        .await
        .is_ok()
    );
    assert!(
        signin::login(
            &app.db,
            &app.bus,
            &app.auth,
            "ada",
            PASSWORD.into(),
            "10.0.0.1",
            None
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn logout_ends_exactly_this_session_and_the_last_admin_stays() {
    let app = TestApp::spawn().await;
    let ada = registered(&app, "ada").await;
    let viewer: &Viewer = &ada.viewer;
    assert!(
        signin::logout(&app.db, &app.bus, Some(viewer))
            .await
            .unwrap()
    );
    assert!(!signin::logout(&app.db, &app.bus, None).await.unwrap());
    assert_eq!(app.count("sessions").await, 0);

    let admin = signin::set_role(&app.db, &app.bus, ada.viewer.user.id, Role::Admin)
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    let last = signin::set_role(&app.db, &app.bus, admin.id, Role::Borrower)
        .await
        .err()
        .unwrap();
    assert_eq!(last.code().as_str(), "CONFLICT");
    let last = signin::delete_user(&app.db, &app.bus, &app.config.lending, admin.id, &app.clock)
        .await
        .err()
        .unwrap();
    assert_eq!(last.code().as_str(), "CONFLICT");
    assert_eq!(app.count("users").await, 1);
}
