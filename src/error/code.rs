//! Every `extensions.code` the server sends, and every `extensions.reason` of a refused lending
//! request: spelled here and nowhere else.

use axum::http::StatusCode;

/// Every `extensions.code` the server sends, spelled here and nowhere else, with what it means
/// over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    // The HTTP request is not a GraphQL request we take (nothing ran; `status` says how).
    /// A body or query string that is not a GraphQL request, or a `persistedQuery` extension that
    /// is malformed or whose hash is not the document's.
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
    /// A document sent by its hash alone that the server does not know (yet): send it again with
    /// its text (automatic persisted queries).
    PersistedQueryNotFound,
    /// A document sent by its hash alone while `GRAPHQL_PERSISTED_QUERIES` is 0.
    PersistedQueryNotSupported,
    /// A document that is not in the trusted documents' manifest, while `TRUSTED_DOCUMENTS_ONLY`.
    PersistedQueryNotAllowed,
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
    /// A WebSocket connection asked for more than `GRAPHQL_WS_MAX_SUBSCRIPTIONS` subscriptions.
    TooManySubscriptions,
    /// A subscription fell further behind than `GRAPHQL_WS_BUFFER` updates and was ended.
    SlowSubscriber,
    /// The database cannot be reached, or the request ran past `REQUEST_TIMEOUT`.
    ServiceUnavailable,
    /// A bug or an unexpected failure (logged; the message is opaque).
    InternalServerError,
}

impl Code {
    const ALL: [Self; 26] = [
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
        Self::PersistedQueryNotFound,
        Self::PersistedQueryNotSupported,
        Self::PersistedQueryNotAllowed,
        Self::BadUserInput,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::TooManyRequests,
        Self::ResponseTooLarge,
        Self::TooManySubscriptions,
        Self::SlowSubscriber,
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
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            Self::PersistedQueryNotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            Self::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            Self::SlowSubscriber => "SLOW_SUBSCRIBER",
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
    /// a path it is a field's error. `BadRequest` here is a `persistedQuery` extension refused.)
    pub const fn is_request_error(self) -> bool {
        matches!(
            self,
            Self::BadRequest
                | Self::PersistedQueryNotFound
                | Self::PersistedQueryNotSupported
                | Self::PersistedQueryNotAllowed
                | Self::BadUserInput
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

/// Why a lending request is refused: the `extensions.reason` of its `CONFLICT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The item cannot be lent now (on loan, out of circulation, or ready for someone else).
    ItemNotAvailable,
    /// The member already has an open hold on the item.
    AlreadyHolding,
    /// The member has the item on loan.
    AlreadyBorrowing,
    /// The member has `MAX_HOLDS_PER_MEMBER` open holds.
    HoldLimit,
    /// The member has `MAX_LOANS_PER_MEMBER` active loans.
    LoanLimit,
    /// The member has an overdue loan.
    OverdueLoans,
    /// Someone waits for the item, so its loan cannot be renewed.
    HoldsWaiting,
    /// The loan has had `MAX_RENEWALS` renewals.
    RenewalLimit,
    /// The item (or the loan) is not on loan.
    NotOnLoan,
    /// The item is on loan, so it cannot be deleted or taken out of circulation.
    ItemOnLoan,
    /// The member has active loans, so the account cannot be deleted.
    HasActiveLoans,
}

impl Reason {
    #[cfg(test)]
    pub(super) const ALL: [Self; 11] = [
        Self::ItemNotAvailable,
        Self::AlreadyHolding,
        Self::AlreadyBorrowing,
        Self::HoldLimit,
        Self::LoanLimit,
        Self::OverdueLoans,
        Self::HoldsWaiting,
        Self::RenewalLimit,
        Self::NotOnLoan,
        Self::ItemOnLoan,
        Self::HasActiveLoans,
    ];

    /// The reason as clients see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ItemNotAvailable => "ITEM_NOT_AVAILABLE",
            Self::AlreadyHolding => "ALREADY_HOLDING",
            Self::AlreadyBorrowing => "ALREADY_BORROWING",
            Self::HoldLimit => "HOLD_LIMIT",
            Self::LoanLimit => "LOAN_LIMIT",
            Self::OverdueLoans => "OVERDUE_LOANS",
            Self::HoldsWaiting => "HOLDS_WAITING",
            Self::RenewalLimit => "RENEWAL_LIMIT",
            Self::NotOnLoan => "NOT_ON_LOAN",
            Self::ItemOnLoan => "ITEM_ON_LOAN",
            Self::HasActiveLoans => "HAS_ACTIVE_LOANS",
        }
    }
}

#[cfg(test)]
mod code_tests {
    use super::{Code, Reason};

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
        let mut reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), Reason::ALL.len());
    }

    /// No code or reason is spelled as a string anywhere in `src/` but here.
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
        for path in paths.iter().filter(|p| !p.ends_with("src/error/code.rs")) {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let spelled = Code::ALL
                .iter()
                .map(|c| c.as_str())
                .chain(Reason::ALL.iter().map(|r| r.as_str()));
            for text_of in spelled {
                assert!(
                    !text.contains(&format!("\"{text_of}\"")),
                    "{} spells {text_of}: use error::Code or error::Reason",
                    path.display()
                );
            }
        }
    }
}
