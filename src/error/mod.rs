//! The one error type of the application. Resolvers and domain functions return it; the GraphQL
//! layer turns it into `extensions.code` in one place (`graphql::errors`).

use std::fmt;
use std::sync::Arc;

use axum::http::StatusCode;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Result with [`AppError`] as the default error.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Every `extensions.code` the server sends, spelled here and nowhere else, with what it means
/// over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    // The HTTP request is not a GraphQL request we take (nothing ran; `status` says how).
    /// A body or query string that is not a GraphQL request.
    BadRequest,
    /// A POST whose body is not JSON.
    UnsupportedMediaType,
    /// Neither GET nor POST, or a mutation sent with GET.
    MethodNotAllowed,
    /// An `Accept` header that takes neither GraphQL response media type.
    NotAcceptable,
    /// A body over the size limit.
    RequestTooLarge,
    // The document is refused before it runs (a request error: no `data`).
    /// The document does not parse.
    GraphqlParseFailed,
    /// The document does not validate against the schema.
    GraphqlValidationFailed,
    /// Nested deeper than `GRAPHQL_MAX_DEPTH`.
    QueryTooDeep,
    /// More than `GRAPHQL_MAX_COMPLEXITY`, or too large with its fragments expanded.
    QueryTooComplex,
    /// More aliases than `GRAPHQL_MAX_ALIASES`.
    TooManyAliases,
    /// More root fields than `GRAPHQL_MAX_ROOT_FIELDS`.
    TooManyRootFields,
    /// More directives on a field than `GRAPHQL_MAX_DIRECTIVES`.
    TooManyDirectives,
    // Raised while executing (a field's error), or, for `BadUserInput`, before (a NUL refused).
    /// A value the client sent is refused; `extensions.field` names it.
    BadUserInput,
    /// No valid session (or a wrong username or password).
    Unauthenticated,
    /// Signed in, but not allowed.
    Forbidden,
    /// A mutation named something that does not exist.
    NotFound,
    /// A unique value is taken, or the last admin would go.
    Conflict,
    /// Too many attempts; try again later.
    TooManyRequests,
    /// The response would exceed `GRAPHQL_MAX_RESPONSE_BYTES`.
    ResponseTooLarge,
    /// The database cannot be reached, or the request ran past `REQUEST_TIMEOUT`.
    ServiceUnavailable,
    /// A bug or an unexpected failure (logged; the message is opaque).
    InternalServerError,
}

impl Code {
    const ALL: [Self; 21] = [
        Self::BadRequest,
        Self::UnsupportedMediaType,
        Self::MethodNotAllowed,
        Self::NotAcceptable,
        Self::RequestTooLarge,
        Self::GraphqlParseFailed,
        Self::GraphqlValidationFailed,
        Self::QueryTooDeep,
        Self::QueryTooComplex,
        Self::TooManyAliases,
        Self::TooManyRootFields,
        Self::TooManyDirectives,
        Self::BadUserInput,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::TooManyRequests,
        Self::ResponseTooLarge,
        Self::ServiceUnavailable,
        Self::InternalServerError,
    ];

    /// The code as clients see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::QueryTooDeep => "QUERY_TOO_DEEP",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::TooManyAliases => "TOO_MANY_ALIASES",
            Self::TooManyRootFields => "TOO_MANY_ROOT_FIELDS",
            Self::TooManyDirectives => "TOO_MANY_DIRECTIVES",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The code of `text` (as read back from an error's extensions).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// Whether an error with this code and no path is about the request as a whole, so that
    /// nothing ran: the response then has no `data` and, in the GraphQL response media type,
    /// the status 400. (`BadUserInput` only without a path: a NUL refused before execution; with
    /// a path it is a field's error.)
    pub const fn is_request_error(self) -> bool {
        matches!(
            self,
            Self::BadUserInput
                | Self::GraphqlParseFailed
                | Self::GraphqlValidationFailed
                | Self::QueryTooDeep
                | Self::QueryTooComplex
                | Self::TooManyAliases
                | Self::TooManyRootFields
                | Self::TooManyDirectives
        )
    }

    /// The HTTP status of a refusal with this code, made by the HTTP layer instead of running
    /// GraphQL (the timeout's 503, a panic's 500, the media-type and size checks). A GraphQL
    /// response is 200, or 400 for a request error in the GraphQL response media type.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// One error, `{"errors": [{"message", "extensions": {"code"}}]}`, as JSON text: the body of a
    /// refusal made outside GraphQL.
    pub fn body(self, message: &str) -> String {
        serde_json::json!({
            "errors": [{ "message": message, "extensions": { "code": self.as_str() } }]
        })
        .to_string()
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// Too many attempts; try again later.
    #[error("too many requests, try again later")]
    RateLimited,
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
            Self::Unauthenticated | Self::InvalidCredentials => Code::Unauthenticated,
            Self::Forbidden => Code::Forbidden,
            Self::NotFound { .. } => Code::NotFound,
            Self::BadInput { .. } => Code::BadUserInput,
            Self::Conflict { .. } => Code::Conflict,
            Self::RateLimited => Code::TooManyRequests,
            Self::ResponseTooLarge { .. } => Code::ResponseTooLarge,
            Self::Unavailable => Code::ServiceUnavailable,
            Self::Internal(_) => Code::InternalServerError,
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

#[cfg(test)]
mod code_tests {
    use super::Code;

    #[test]
    fn every_code_reads_back_from_its_text_and_is_spelled_once() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        let mut texts: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), Code::ALL.len());
        assert_eq!(Code::parse("NOPE"), None);
    }

    /// No code is spelled as a string anywhere in `src/` but here.
    #[test]
    fn codes_are_spelled_only_in_this_file() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut paths = Vec::new();
        files(&src, &mut paths);
        assert!(paths.len() > 20, "{}", src.display());
        for path in paths.iter().filter(|p| !p.ends_with("src/error.rs")) {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            for code in Code::ALL {
                assert!(
                    !text.contains(&format!("\"{}\"", code.as_str())),
                    "{} spells {code}: use error::Code",
                    path.display()
                );
            }
        }
    }
}
