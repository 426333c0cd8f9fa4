//! Every error leaves the server with an `extensions.code`, decided here and nowhere else: parse
//! failures and cost limits get theirs when the request is admitted, the rest when the response is
//! finished ([`finish`]): validation failures (no path), resolver errors (read from their
//! [`AppError`] source), and anything unexpected is logged and answered opaquely.

use async_graphql::{ErrorExtensionValues, Response, ServerError};

use crate::error::{AppError, Code};

/// Whether `error` is about the request itself, so that nothing ran: no `path`, and a code that
/// says so ([`Code::is_request_error`]).
pub fn is_request_error(error: &ServerError) -> bool {
    error.path.is_empty() && code_of(error).is_some_and(Code::is_request_error)
}

/// The code an error carries, if it has one.
pub fn code_of(error: &ServerError) -> Option<Code> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Code::parse(code),
        _ => None,
    }
}

/// An error with `code`, made before execution.
pub fn refusal(code: Code, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    extensions(&mut error).set("code", code.as_str());
    error
}

/// Codes every error of a finished response and keeps at most `max_errors` of them.
pub fn finish(response: &mut Response, max_errors: usize) {
    response.errors.truncate(max_errors);
    for error in &mut response.errors {
        classify(error);
    }
}

/// Gives `error` the code `code` unless it has one already (a cost limit's, say).
pub fn with_code(mut error: ServerError, code: Code) -> ServerError {
    let ext = extensions(&mut error);
    if ext.get("code").is_none() {
        ext.set("code", code.as_str());
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
            extensions(error).set("code", Code::InternalServerError.as_str());
            return;
        }
        (None, app) => app,
    };
    match app {
        Some(AppError::Internal(inner)) => {
            tracing::error!(error = %inner, debug = ?inner, path = ?error.path, "internal error");
            error.message = "internal server error".into();
            extensions(error).set("code", Code::InternalServerError.as_str());
        }
        Some(app) => {
            let (code, field, reason) = (app.code(), app.field().map(str::to_owned), app.reason());
            let ext = extensions(error);
            ext.set("code", code.as_str());
            if let Some(field) = field {
                ext.set("field", field);
            }
            if let Some(reason) = reason {
                ext.set("reason", reason.as_str());
            }
        }
        None if error.source.is_some() => {
            // An error type that was never classified: a bug; say nothing of it to the client.
            tracing::error!(message = %error.message, path = ?error.path, "unclassified error");
            error.message = "internal server error".into();
            extensions(error).set("code", Code::InternalServerError.as_str());
        }
        None if error.path.is_empty() => {
            // async-graphql's own errors outside any field are about the request as a whole, such
            // as an unknown `operationName`: nothing ran.
            extensions(error).set("code", Code::GraphqlValidationFailed.as_str());
        }
        None => {
            // ... and inside a field, about a value the client gave, such as a variable left out.
            extensions(error).set("code", Code::BadUserInput.as_str());
        }
    }
}
