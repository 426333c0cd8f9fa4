//! Signing up, in and out: `me`, `register`, `login`, `logout`, `changePassword`.

use async_graphql::{Context, InputObject, Object};

use super::context::ContextExt;
use super::user::User;
use crate::auth::Identity;
use crate::auth::Viewer;
use crate::auth::password::Password;
use crate::domain::{self, accounts, sessions, throttle};
use crate::entity::sessions as session_rows;
use crate::entity::users::{self, Role};
use crate::error::AppError;

/// A new account.
#[derive(InputObject)]
pub struct RegisterInput {
    /// 3 to 64 letters, digits, `_`, `.` or `-`; unique in any case.
    pub username: String,
    /// A valid email address, at most 120 characters; unique in any case.
    pub email: String,
    /// 8 to 128 characters, any Unicode; never trimmed or truncated.
    pub password: String,
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in user; null when anonymous.
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        ctx.identity().viewer().map(|v| User::new(v.user.clone()))
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates a borrower account and signs it in (sets the session cookie).
    // A taken username or email is a `CONFLICT` naming the field; too many registrations from one
    // client address answer `TOO_MANY_REQUESTS` for a while.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<User> {
        let auth = ctx.auth()?;
        let db = ctx.db()?;
        // The cheap checks first; the hash, the expensive part, last.
        let account = accounts::NewAccount::check(
            &input.username,
            &input.email,
            input.password,
            Role::Borrower,
        )?;
        throttle::precheck_registration(db, auth.limits, ctx.client_ip()).await?;
        let hasher = auth.passwords.admit()?;
        throttle::reserve_registration(db, auth.limits, ctx.client_ip()).await?;
        accounts::ensure_available(db, &account.username, &account.email).await?;
        let account = account.hash(&hasher).await?;
        drop(hasher);

        let txn = domain::begin_write(db).await?;
        let user = accounts::create(&txn, account).await?;
        let (token, session) = sessions::start(&txn, user.id, auth.lifetimes).await?;
        if let Some(old) = ctx.identity().viewer() {
            sessions::end(&txn, old.session.id).await?;
        }
        txn.commit().await?;

        auth.cookies.set(ctx.cookies()?, &token);
        Ok(signed_in(ctx, user, session))
    }

    /// Signs in with a username or an email and a password (sets the session cookie). After too
    /// many failures for the account or from the client, answers `TOO_MANY_REQUESTS` for a while.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The username or the email address.")] username: String,
        password: String,
    ) -> async_graphql::Result<User> {
        let auth = ctx.auth()?;
        let db = ctx.db()?;
        let user = accounts::find_for_login(db, &username).await?;
        let attempt =
            throttle::Attempt::login(user.as_ref().map(|u| u.id), &username, ctx.client_ip());
        // Cheap checks first (a read, then a place in the hash queue), each refusing at once.
        throttle::precheck(db, auth.limits, &attempt).await?;
        let hasher = auth.passwords.admit()?;
        // Counted before the password is checked, so concurrent guesses cannot overshoot.
        let reservation = throttle::reserve(db, auth.limits, &attempt).await?;

        // An over-long password cannot match: refuse it before hashing, like a wrong one. A
        // locked account's password is not checked: the dummy hash costs the same.
        let plausible = password.chars().count() <= crate::auth::password::MAX_LENGTH;
        let hash = user
            .as_ref()
            .filter(|_| !reservation.account_locked)
            .map(|u| u.password_hash.clone());
        let matches = plausible && hasher.verify(Password::new(password), hash).await?;
        drop(hasher);
        // (Verifying against no hash answers false.)
        let Some(user) = user.filter(|_| matches) else {
            throttle::failed(db, auth.limits, reservation).await?;
            return Err(AppError::InvalidCredentials.into());
        };

        let txn = domain::begin_write(db).await?;
        throttle::succeeded(&txn, auth.limits, reservation).await?;
        let (token, session) = sessions::start(&txn, user.id, auth.lifetimes).await?;
        if let Some(old) = ctx.identity().viewer() {
            sessions::end(&txn, old.session.id).await?;
        }
        sessions::purge_expired(&txn, auth.lifetimes).await?;
        txn.commit().await?;

        auth.cookies.set(ctx.cookies()?, &token);
        Ok(signed_in(ctx, user, session))
    }

    /// Signs out: ends this session and clears the cookie. False when nobody was signed in.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let auth = ctx.auth()?;
        let ended = match ctx.identity().viewer() {
            Some(viewer) => {
                sessions::end(ctx.db()?, viewer.session.id).await?;
                true
            }
            None => false,
        };
        auth.cookies.clear(ctx.cookies()?);
        ctx.set_identity(Identity::Anonymous);
        Ok(ended)
    }

    /// Changes the signed-in user's password and ends their other sessions.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let viewer = ctx.require_user()?;
        let auth = ctx.auth()?;
        let db = ctx.db()?;
        let new_password = Password::validated("newPassword", new_password)?;
        let attempt = throttle::Attempt::own_account(viewer.user.id, ctx.client_ip());
        throttle::precheck(db, auth.limits, &attempt).await?;
        let hasher = auth.passwords.admit()?;
        let reservation = throttle::reserve(db, auth.limits, &attempt).await?;

        let current_ok = current_password.chars().count() <= crate::auth::password::MAX_LENGTH
            && hasher
                .verify(
                    Password::new(current_password),
                    Some(viewer.user.password_hash.clone()),
                )
                .await?;
        if !current_ok {
            throttle::failed(db, auth.limits, reservation).await?;
            return Err(
                AppError::bad_input("currentPassword", "is not your current password").into(),
            );
        }
        let hash = hasher.hash(new_password).await?;
        drop(hasher);

        let txn = domain::begin_write(db).await?;
        throttle::succeeded(&txn, auth.limits, reservation).await?;
        accounts::set_password_hash(&txn, viewer.user.id, hash).await?;
        sessions::end_others(&txn, viewer.user.id, viewer.session.id).await?;
        txn.commit().await?;
        Ok(true)
    }
}

/// The rest of this operation runs as the user who has just signed in (their private fields show).
fn signed_in(ctx: &Context<'_>, user: users::Model, session: session_rows::Model) -> User {
    ctx.set_identity(Identity::User(Box::new(Viewer {
        user: user.clone(),
        session,
    })));
    User::new(user)
}
