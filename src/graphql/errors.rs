//! Every error leaves the server with an `extensions.code`, decided here and nowhere else: parse
//! failures and cost limits get theirs when the request is admitted, the rest when the response is
//! finished ([`finish`]): validation failures (no path), resolver errors (read from their
//! [`AppError`] source), and anything unexpected is logged and answered opaquely.

use async_graphql::{ErrorExtensionValues, Response, ServerError};

use crate::error::AppError;

/// Codes of errors about the request itself (nothing was executed): the response has no `data`.
/// Such errors have no `path`; `BAD_USER_INPUT` is one only then (a NUL refused before execution),
/// not when a field's resolver answers it.
pub const REQUEST_ERROR_CODES: &[&str] = &[
    "BAD_USER_INPUT",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "QUERY_TOO_DEEP",
    "QUERY_TOO_COMPLEX",
    "TOO_MANY_ALIASES",
    "TOO_MANY_ROOT_FIELDS",
    "TOO_MANY_DIRECTIVES",
];

/// Codes every error of a finished response and keeps at most `max_errors` of them.
pub fn finish(response: &mut Response, max_errors: usize) {
    response.errors.truncate(max_errors);
    for error in &mut response.errors {
        classify(error);
    }
}

/// Gives `error` the code `code` unless it has one already (a cost limit's, say).
pub fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let ext = extensions(&mut error);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    error
}

fn extensions(error: &mut ServerError) -> &mut ErrorExtensionValues {
    error.extensions.get_or_insert_with(Default::default)
}

/// Gives `error` its code; replaces the message of anything that is not meant for clients.
fn classify(error: &mut ServerError) {
    if error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
    {
        return;
    }
    // A database error that reached a resolver's `?` without passing through `AppError`.
    let from_db = error.source::<sea_orm::DbErr>().map(AppError::from_db);
    let app = match (&from_db, error.source::<AppError>()) {
        (Some(Some(app)), _) => Some(app),
        (Some(None), _) => {
            tracing::error!(error = %error.message, path = ?error.path, "database error");
            error.message = "internal server error".into();
            extensions(error).set("code", "INTERNAL_SERVER_ERROR");
            return;
        }
        (None, app) => app,
    };
    match app {
        Some(AppError::Internal(inner)) => {
            tracing::error!(error = %inner, debug = ?inner, path = ?error.path, "internal error");
            let code = "INTERNAL_SERVER_ERROR";
            error.message = "internal server error".into();
            extensions(error).set("code", code);
        }
        Some(app) => {
            let (code, field) = (app.code(), app.field().map(str::to_owned));
            let ext = extensions(error);
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
        }
        None if error.source.is_some() => {
            // An error type that was never classified: a bug; say nothing of it to the client.
            tracing::error!(message = %error.message, path = ?error.path, "unclassified error");
            error.message = "internal server error".into();
            extensions(error).set("code", "INTERNAL_SERVER_ERROR");
        }
        None if error.path.is_empty() => {
            // async-graphql's own errors outside any field are about the request as a whole, such
            // as an unknown `operationName`: nothing ran.
            extensions(error).set("code", "GRAPHQL_VALIDATION_FAILED");
        }
        None => {
            // ... and inside a field, about a value the client gave, such as a variable left out.
            extensions(error).set("code", "BAD_USER_INPUT");
        }
    }
}
