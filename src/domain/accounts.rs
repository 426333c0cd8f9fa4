//! Accounts: creating users, finding them to sign in, changing passwords and roles, deleting.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect, SqlErr,
    sea_query::Condition,
};

use super::validate;
use crate::auth::password::{Admitted, Password, Passwords};
use crate::entity::users::{self, Column, Entity as Users, Role};
use crate::error::AppError;

/// A new account, validated, with its password already hashed.
pub struct NewAccount {
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
}

impl NewAccount {
    /// Checks a new account's fields by the rules every way of making one shares (`register`,
    /// `create-user`) and hashes its password. Errors name the field.
    pub async fn prepare(
        passwords: &Passwords,
        username: &str,
        email: &str,
        password: String,
        role: Role,
    ) -> Result<Self, AppError> {
        Self::check(username, email, password, role)?
            .hash(&passwords.admit()?)
            .await
    }

    /// The checks of [`prepare`](Self::prepare) alone, cheap: `register` makes them, then its
    /// own, before it pays for a hash.
    pub fn check(
        username: &str,
        email: &str,
        password: String,
        role: Role,
    ) -> Result<CheckedAccount, AppError> {
        Ok(CheckedAccount {
            username: validate::username("username", username)?,
            email: validate::email("email", email)?,
            password: Password::validated("password", password)?,
            role,
        })
    }
}

/// A new account whose fields passed the checks, its password not hashed yet.
pub struct CheckedAccount {
    pub username: String,
    pub email: String,
    password: Password,
    role: Role,
}

impl CheckedAccount {
    /// Hashes the password, in the queue place `hasher` holds.
    pub async fn hash(self, hasher: &Admitted) -> Result<NewAccount, AppError> {
        Ok(NewAccount {
            password_hash: hasher.hash(self.password).await?,
            username: self.username,
            email: self.email,
            role: self.role,
        })
    }
}

/// Creates the account. A username or email already taken (in any case) is a `CONFLICT` on that
/// field, decided by the unique indexes on their case keys (which `insert` derives), so two racing
/// registrations make one user.
pub async fn create(
    db: &impl ConnectionTrait,
    account: NewAccount,
) -> Result<users::Model, AppError> {
    let row = users::ActiveModel {
        username: Set(account.username),
        email: Set(account.email),
        password_hash: Set(account.password_hash),
        role: Set(account.role),
        image_file: Set("default.jpg".to_owned()),
        created_at: Set(super::now()),
        ..Default::default()
    };
    row.insert(db).await.map_err(taken)
}

/// Turns a unique violation on `users` into a `CONFLICT` naming the field.
fn taken(err: DbErr) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => {
            let field = if detail.contains("email") {
                "email"
            } else {
                "username"
            };
            AppError::Conflict {
                field: Some(field.to_owned()),
                message: format!("that {field} is already taken"),
            }
        }
        _ => err.into(),
    }
}

/// The user a login names: by username or by email, in any case.
pub async fn find_for_login(
    db: &impl ConnectionTrait,
    login: &str,
) -> Result<Option<users::Model>, AppError> {
    let login = login.trim();
    let column = if login.contains('@') {
        Column::Email
    } else {
        Column::Username
    };
    // Longer than any stored value: no account, and no query.
    if login.chars().count() > validate::EMAIL_MAX {
        return Ok(None);
    }
    Ok(Users::find()
        .filter(matching(column, login))
        .one(db)
        .await?)
}

/// The condition "`column` (`Username` or `Email`) equals `value` in any case": their case keys
/// are equal, which the unique indexes also decide.
fn matching(column: Column, value: &str) -> SimpleExpr {
    let key = match column {
        Column::Email => Column::EmailKey,
        _ => Column::UsernameKey,
    };
    key.eq(validate::case_key(value.trim()))
}

/// Replaces a user's password hash.
pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    user_id: i64,
    password_hash: String,
) -> Result<(), AppError> {
    Users::update_many()
        .col_expr(Column::PasswordHash, Expr::value(password_hash))
        .filter(Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Changes a user's role. Demoting the last admin is refused (`CONFLICT`).
pub async fn set_role(
    db: &impl ConnectionTrait,
    user_id: i64,
    role: Role,
) -> Result<users::Model, AppError> {
    lock_admins(db).await?;
    let user = Users::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    let mut row = user.into_active_model();
    row.role = Set(role);
    let user = row.update(db).await?;
    ensure_an_admin_remains(db, "the last admin cannot be demoted").await?;
    Ok(user)
}

/// Deletes a user, with their posts and sessions. Deleting the last admin is refused (`CONFLICT`).
pub async fn delete(db: &impl ConnectionTrait, user_id: i64) -> Result<(), AppError> {
    lock_admins(db).await?;
    let deleted = Users::delete_by_id(user_id).exec(db).await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound { what: "user" });
    }
    ensure_an_admin_remains(db, "the last admin cannot be deleted").await
}

/// On PostgreSQL, locks the admins' rows so that two admins demoting each other cannot both
/// succeed. (SQLite write transactions begin IMMEDIATE, which already serializes them.)
pub(super) async fn lock_admins(db: &impl ConnectionTrait) -> Result<(), AppError> {
    if db.get_database_backend() == DbBackend::Postgres {
        Users::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Role.eq(Role::Admin))
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(db)
            .await?;
    }
    Ok(())
}

async fn ensure_an_admin_remains(db: &impl ConnectionTrait, message: &str) -> Result<(), AppError> {
    let admins = Users::find()
        .filter(Column::Role.eq(Role::Admin))
        .count(db)
        .await?;
    if admins == 0 {
        return Err(AppError::Conflict {
            field: None,
            message: message.to_owned(),
        });
    }
    Ok(())
}

/// `CONFLICT` naming the field when the username or the email is taken, in any case (compared by
/// their case keys, as `find_for_login` compares). `register` asks before it hashes, so a taken name costs no
/// argon2 work; the unique indexes still decide between two racing registrations.
pub async fn ensure_available(
    db: &impl ConnectionTrait,
    username: &str,
    email: &str,
) -> Result<(), AppError> {
    let taken: Option<String> = Users::find()
        .select_only()
        .column(Column::UsernameKey)
        .filter(
            Condition::any()
                .add(matching(Column::Username, username))
                .add(matching(Column::Email, email)),
        )
        .into_tuple()
        .one(db)
        .await?;
    let Some(taken_username) = taken else {
        return Ok(());
    };
    let field = if taken_username == validate::case_key(username.trim()) {
        "username"
    } else {
        "email"
    };
    Err(AppError::Conflict {
        field: Some(field.to_owned()),
        message: format!("that {field} is already taken"),
    })
}
