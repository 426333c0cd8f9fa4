//! The one error type of the application. Resolvers and domain functions return it; the GraphQL
//! layer turns it into `extensions.code` in one place (`graphql::errors`).

use std::fmt;
use std::sync::Arc;

use sea_orm::{DbErr, RuntimeErr, SqlErr};

mod code;

pub use code::{Code, Reason};

/// Result with [`AppError`] as the default error.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Everything that can go wrong while serving a request, classified once.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid session.
    #[error("you must be signed in to do this")]
    Unauthenticated,
    /// A login with a wrong username or password (the same answer for both).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Signed in, but not allowed.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// A mutation named something that does not exist.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The client sent a value we refuse; `field` names the argument or input field.
    #[error("{message}")]
    BadInput {
        field: Option<String>,
        message: String,
    },
    /// A unique value is already taken.
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// A lending request the item's or the member's state refuses (`CONFLICT` with a reason).
    #[error("{message}")]
    Refused { reason: Reason, message: String },
    /// Too many attempts; try again later.
    #[error("too many requests, try again later")]
    RateLimited,
    /// The session a live subscription ran under has ended (signed out, expired, deleted).
    #[error("your session has ended: sign in again and resubscribe")]
    SessionEnded,
    /// A WebSocket connection already runs `GRAPHQL_WS_MAX_SUBSCRIPTIONS` subscriptions.
    #[error(
        "this connection already runs {max} subscriptions (GRAPHQL_WS_MAX_SUBSCRIPTIONS): complete one first"
    )]
    TooManySubscriptions { max: usize },
    /// A subscriber fell further behind than the server buffers.
    #[error("the subscription fell too far behind its updates and was ended: resubscribe")]
    SlowSubscriber,
    /// The response would be larger than `GRAPHQL_MAX_RESPONSE_BYTES`.
    #[error(
        "the response would be larger than {max} bytes (GRAPHQL_MAX_RESPONSE_BYTES): ask for fewer items or fewer long fields"
    )]
    ResponseTooLarge { max: usize },
    /// The database cannot be reached right now.
    #[error("the service is temporarily unavailable, try again shortly")]
    Unavailable,
    /// A bug or an unexpected failure: logged in full, answered opaquely.
    #[error("internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// A `BAD_USER_INPUT` error about one field.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Any unexpected failure, kept for the log.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    /// The stable `extensions.code` clients switch on.
    pub fn code(&self) -> Code {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials | Self::SessionEnded => {
                Code::Unauthenticated
            }
            Self::TooManySubscriptions { .. } => Code::TooManySubscriptions,
            Self::SlowSubscriber => Code::SlowSubscriber,
            Self::Forbidden => Code::Forbidden,
            Self::NotFound { .. } => Code::NotFound,
            Self::BadInput { .. } => Code::BadUserInput,
            Self::Conflict { .. } | Self::Refused { .. } => Code::Conflict,
            Self::RateLimited => Code::TooManyRequests,
            Self::ResponseTooLarge { .. } => Code::ResponseTooLarge,
            Self::Unavailable => Code::ServiceUnavailable,
            Self::Internal(_) => Code::InternalServerError,
        }
    }

    /// A `CONFLICT` with `reason`.
    pub fn refused(reason: Reason, message: impl Into<String>) -> Self {
        Self::Refused {
            reason,
            message: message.into(),
        }
    }

    /// Why a lending request was refused, if it was.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::Refused { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// The input field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadInput { field, .. } | Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl AppError {
    /// The database errors that mean something to a client; `None` for the rest (bugs).
    pub(crate) fn from_db(err: &DbErr) -> Option<Self> {
        if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            return Some(Self::Conflict {
                field: None,
                message: "that value is already taken".into(),
            });
        }
        if is_unavailable(err) {
            tracing::warn!(error = %err, "database unavailable");
            return Some(Self::Unavailable);
        }
        None
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        Self::from_db(&err).unwrap_or_else(|| Self::Internal(Box::new(err)))
    }
}

/// Batch loaders share one error among every caller of the batch.
impl From<Arc<DbErr>> for AppError {
    fn from(err: Arc<DbErr>) -> Self {
        Self::from_db(&err).unwrap_or_else(|| Self::Internal(Box::new(err)))
    }
}

/// Whether a database error means "cannot reach the database" rather than "the query is wrong":
/// no connection to be had, one lost on the way, or one the server ended (PostgreSQL's connection
/// exceptions, class `08`, and its shutdown codes `57P01` to `57P03`, which it sends when a
/// backend is terminated or the server stops or starts).
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Io(_) | Sqlx::WorkerCrashed => true,
                Sqlx::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

/// A configuration or start-up failure: one line naming the setting at fault.
#[derive(Debug)]
pub struct StartupError {
    /// The setting (or the step) that failed, e.g. `PORT` or `DATABASE_URL`.
    pub setting: &'static str,
    /// What is wrong with it, without secrets.
    pub message: String,
}

impl StartupError {
    pub fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

impl std::error::Error for StartupError {}
