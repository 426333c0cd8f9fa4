//! Signing up, in and out: `me`, `register`, `login`, `logout`, `changePassword`.

use async_graphql::{Context, InputObject, Object};

use super::context::ContextExt;
use super::user::User;
use crate::auth::Identity;
use crate::domain::signin::{self, SignedIn};
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
        let current = ctx.identity();
        let signed_in = signin::register(
            ctx.db()?,
            ctx.bus()?,
            ctx.auth()?,
            signin::Registration {
                username: &input.username,
                email: &input.email,
                password: input.password,
            },
            ctx.client_ip(),
            current.viewer(),
        )
        .await?;
        Ok(start_session(ctx, signed_in)?)
    }

    /// Signs in with a username or an email and a password (sets the session cookie). After too
    /// many failures for the account or from the client, answers `TOO_MANY_REQUESTS` for a while.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The username or the email address.")] username: String,
        password: String,
    ) -> async_graphql::Result<User> {
        let current = ctx.identity();
        let signed_in = signin::login(
            ctx.db()?,
            ctx.bus()?,
            ctx.auth()?,
            &username,
            password,
            ctx.client_ip(),
            current.viewer(),
        )
        .await?;
        Ok(start_session(ctx, signed_in)?)
    }

    /// Signs out: ends this session and clears the cookie. False when nobody was signed in.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let ended = signin::logout(ctx.db()?, ctx.bus()?, ctx.identity().viewer()).await?;
        ctx.auth()?.cookies.clear(ctx.cookies()?);
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
        let (db, auth) = (ctx.db()?, ctx.auth()?);
        let now = signin::change_password(
            db,
            ctx.bus()?,
            auth,
            &viewer,
            current_password,
            new_password,
            ctx.client_ip(),
        )
        .await?;
        // A later field of this mutation checks passwords against the new hash.
        ctx.set_identity(Identity::User(Box::new(now)));
        Ok(true)
    }
}

/// Sets the new session's cookie; the rest of this operation runs as the user who has just signed
/// in (their private fields show).
fn start_session(ctx: &Context<'_>, signed_in: SignedIn) -> Result<User, AppError> {
    ctx.auth()?.cookies.set(ctx.cookies()?, &signed_in.token);
    let user = User::new(signed_in.viewer.user.clone());
    ctx.set_identity(Identity::User(Box::new(signed_in.viewer)));
    Ok(user)
}
