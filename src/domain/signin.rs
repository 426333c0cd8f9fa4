//! The account flows: register, log in, log out, change a password. Each does the cheap checks
//! first, the password hash (the expensive part) last, and owns its write transaction; the GraphQL
//! resolvers parse arguments, call one of these, set or clear the cookie and shape the answer.

use sea_orm::DatabaseConnection;

use super::events::{Bus, Changes, Event};
use super::{accounts, sessions, throttle};
use crate::auth::password::{MAX_LENGTH, Password};
use crate::auth::{AuthServices, Viewer};
use crate::entity::users::Role;
use crate::error::AppError;

/// Who has just signed in, and the session token for their cookie (its only copy).
pub struct SignedIn {
    pub viewer: Viewer,
    pub token: String,
}

/// What a new member fills in.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: String,
}

/// Creates a borrower account and signs it in, ending the session `current` (if any). A taken
/// username or email is a `CONFLICT` naming the field; too many registrations from one client
/// address answer `TOO_MANY_REQUESTS` for a while.
pub async fn register(
    db: &DatabaseConnection,
    bus: &Bus,
    auth: &AuthServices,
    form: Registration<'_>,
    client_ip: &str,
    current: Option<&Viewer>,
) -> Result<SignedIn, AppError> {
    let account =
        accounts::NewAccount::check(form.username, form.email, form.password, Role::Borrower)?;
    throttle::precheck_registration(db, auth.limits, client_ip).await?;
    let hasher = auth.passwords.admit()?;
    throttle::reserve_registration(db, auth.limits, client_ip).await?;
    accounts::ensure_available(db, &account.username, &account.email).await?;
    let account = account.hash(&hasher).await?;
    drop(hasher);

    let txn = super::begin_write(db).await?;
    let user = accounts::create(&txn, account).await?;
    let (token, session) = sessions::start(&txn, user.id, auth.lifetimes).await?;
    let mut changes = Changes::new();
    if let Some(old) = current {
        sessions::end(&txn, old.session.id).await?;
        changes.note(Event::Account { user: old.user.id });
    }
    changes.commit(txn, bus).await?;
    Ok(SignedIn {
        viewer: Viewer { user, session },
        token,
    })
}

/// Signs in with a username or an email (`login`) and a password, ending the session `current`
/// (if any). Every attempt is counted before its password is checked, so concurrent guesses
/// cannot overshoot the throttle; after too many failures for the account or from the client, the
/// answer is `TOO_MANY_REQUESTS` for a while. An unknown name, and a locked account, cost the
/// same hash as a real check, against a dummy.
pub async fn login(
    db: &DatabaseConnection,
    bus: &Bus,
    auth: &AuthServices,
    login: &str,
    password: String,
    client_ip: &str,
    current: Option<&Viewer>,
) -> Result<SignedIn, AppError> {
    let user = accounts::find_for_login(db, login).await?;
    let attempt = throttle::Attempt::login(user.as_ref().map(|u| u.id), login, client_ip);
    // Cheap checks first (a read, then a place in the hash queue), each refusing at once.
    throttle::precheck(db, auth.limits, &attempt).await?;
    let hasher = auth.passwords.admit()?;
    let reservation = throttle::reserve(db, auth.limits, &attempt).await?;

    // An over-long password cannot match: refuse it before hashing, like a wrong one. A locked
    // account's password is not checked: the dummy hash costs the same.
    let plausible = password.chars().count() <= MAX_LENGTH;
    let hash = user
        .as_ref()
        .filter(|_| !reservation.account_locked)
        .map(|u| u.password_hash.clone());
    let matches = plausible && hasher.verify(Password::new(password), hash).await?;
    drop(hasher);
    // (Verifying against no hash answers false.)
    let Some(user) = user.filter(|_| matches) else {
        throttle::failed(db, auth.limits, reservation).await?;
        return Err(AppError::InvalidCredentials);
    };

    let txn = super::begin_write(db).await?;
    throttle::succeeded(&txn, auth.limits, reservation).await?;
    let (token, session) = sessions::start(&txn, user.id, auth.lifetimes).await?;
    let mut changes = Changes::new();
    if let Some(old) = current {
        sessions::end(&txn, old.session.id).await?;
        changes.note(Event::Account { user: old.user.id });
    }
    sessions::purge_expired(&txn, auth.lifetimes).await?;
    changes.commit(txn, bus).await?;
    Ok(SignedIn {
        viewer: Viewer { user, session },
        token,
    })
}

/// Ends the session `current`; false when nobody was signed in.
pub async fn logout(
    db: &DatabaseConnection,
    bus: &Bus,
    current: Option<&Viewer>,
) -> Result<bool, AppError> {
    match current {
        Some(viewer) => {
            let txn = super::begin_write(db).await?;
            sessions::end(&txn, viewer.session.id).await?;
            account_changed(viewer.user.id).commit(txn, bus).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Changes `viewer`'s password and ends their other sessions; returns the viewer as they are now
/// (with the new hash, so that a later check in the same operation reads it). A wrong
/// `current_password` is `BAD_USER_INPUT` on `currentPassword`, counted by the login throttle of
/// the account.
pub async fn change_password(
    db: &DatabaseConnection,
    bus: &Bus,
    auth: &AuthServices,
    viewer: &Viewer,
    current_password: String,
    new_password: String,
    client_ip: &str,
) -> Result<Viewer, AppError> {
    let new_password = Password::validated("newPassword", new_password)?;
    let attempt = throttle::Attempt::own_account(viewer.user.id, client_ip);
    throttle::precheck(db, auth.limits, &attempt).await?;
    let hasher = auth.passwords.admit()?;
    let reservation = throttle::reserve(db, auth.limits, &attempt).await?;

    let current_ok = current_password.chars().count() <= MAX_LENGTH
        && hasher
            .verify(
                Password::new(current_password),
                Some(viewer.user.password_hash.clone()),
            )
            .await?;
    if !current_ok {
        throttle::failed(db, auth.limits, reservation).await?;
        return Err(AppError::bad_input(
            "currentPassword",
            "is not your current password",
        ));
    }
    let hash = hasher.hash(new_password).await?;
    drop(hasher);

    let txn = super::begin_write(db).await?;
    throttle::succeeded(&txn, auth.limits, reservation).await?;
    accounts::set_password_hash(&txn, viewer.user.id, hash.clone()).await?;
    sessions::end_others(&txn, viewer.user.id, viewer.session.id).await?;
    account_changed(viewer.user.id).commit(txn, bus).await?;
    let mut now = viewer.clone();
    now.user.password_hash = hash;
    Ok(now)
}

/// Gives a user another role (the last admin cannot be demoted: `CONFLICT`).
pub async fn set_role(
    db: &DatabaseConnection,
    bus: &Bus,
    user_id: i64,
    role: Role,
) -> Result<crate::entity::users::Model, AppError> {
    let txn = super::begin_write(db).await?;
    let user = accounts::set_role(&txn, user_id, role).await?;
    account_changed(user_id).commit(txn, bus).await?;
    Ok(user)
}

/// Deletes a user with their posts, sessions and holds (the last admin cannot be deleted:
/// `CONFLICT`). Refused while they have an item on loan (`HAS_ACTIVE_LOANS`); their ready holds
/// hand their items on, and their past loans stay, without a borrower.
pub async fn delete_user(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &crate::config::Lending,
    user_id: i64,
    clock: &impl crate::clock::Now,
) -> Result<(), AppError> {
    let txn = super::begin_write(db).await?;
    // Admins first, then the member, then items: the order every flow locks in.
    accounts::lock_admins(&txn).await?;
    let mut changes = account_changed(user_id);
    super::lending::release_member(&txn, &mut changes, rules, user_id, clock).await?;
    accounts::delete(&txn, user_id).await?;
    changes.commit(txn, bus).await?;
    Ok(())
}

/// A user's sessions or role changed: their open live connections check again who they are.
fn account_changed(user_id: i64) -> Changes {
    let mut changes = Changes::new();
    changes.note(Event::Account { user: user_id });
    changes
}
