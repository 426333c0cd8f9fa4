//! Persisted documents: a document found by its SHA-256 instead of sent in full.
//!
//! - **Automatic persisted queries** (Apollo's APQ protocol): a request carries
//!   `extensions.persistedQuery { version: 1, sha256Hash }`. Without `query`, the hash is looked
//!   up; an unknown one is `PERSISTED_QUERY_NOT_FOUND` (message `PersistedQueryNotFound`: Apollo's
//!   clients match either and send the request again with the document). With `query`, the text
//!   must hash to `sha256Hash` (else `BAD_REQUEST`, nothing kept), and it is kept for next time
//!   once it has been admitted. The store is bounded: `GRAPHQL_PERSISTED_QUERIES` entries, least
//!   recently used out, and a document longer than [`MAX_PERSISTED_TEXT`] runs but is not kept,
//!   so a flood of distinct registrations cannot grow memory. `GRAPHQL_PERSISTED_QUERIES=0` turns
//!   the protocol off: a hash alone is then `PERSISTED_QUERY_NOT_SUPPORTED`.
//! - **Trusted documents**: a [`Manifest`] loaded at start-up (`TRUSTED_DOCUMENTS`), whose
//!   documents are always found by their hash. With `TRUSTED_DOCUMENTS_ONLY`, nothing else runs:
//!   any other document, sent by hash or in full, is `PERSISTED_QUERY_NOT_ALLOWED`, decided from
//!   its hash before it is parsed.
//!
//! The document found runs exactly as if it had been sent in full: every limit applies, and the
//! cache of parsed documents (keyed by the text) still spares the parser.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::{ServerError, ServerResult, Value};
use lru::LruCache;

use crate::error::Code;

mod manifest;

pub use manifest::{Manifest, parse_failure, sha256_hex};

/// The longest document text the store keeps (the same bound as the cache of parsed documents):
/// a longer one runs, but is sent in full every time.
pub const MAX_PERSISTED_TEXT: usize = super::documents::MAX_CACHED_TEXT;

/// The extension's key in a request's `extensions`.
const EXTENSION: &str = "persistedQuery";

/// Whether `request` carries `extensions.persistedQuery` (so it may name its document by hash
/// instead of sending it).
pub fn names_a_document(request: &async_graphql::Request) -> bool {
    request
        .extensions
        .get(EXTENSION)
        .is_some_and(|v| *v != Value::Null)
}

/// Where documents are found by their hash: the trusted manifest, then the APQ store.
pub struct PersistedDocuments {
    /// Documents registered by clients, least recently used out; `None` when APQ is off.
    registered: Option<Mutex<LruCache<String, Arc<str>>>>,
    trusted: Manifest,
    trusted_only: bool,
}

/// A document to keep under its hash once it has been admitted.
#[must_use]
pub struct Registration {
    hash: String,
}

impl PersistedDocuments {
    /// A store of `capacity` registered documents (0: APQ off), with the trusted `manifest`;
    /// `trusted_only` refuses every other document.
    pub fn new(capacity: usize, manifest: Manifest, trusted_only: bool) -> Self {
        Self {
            registered: NonZeroUsize::new(capacity).map(|n| Mutex::new(LruCache::new(n))),
            trusted: manifest,
            trusted_only,
        }
    }

    /// Settles which document `request` runs, before it is parsed: the one its
    /// `extensions.persistedQuery` names when it has no `query` (filled in), or the one it sends
    /// (checked against the hash it names). In trusted-only mode anything outside the manifest is
    /// refused. A document sent with a hash the store does not know yet is returned as a
    /// [`Registration`], to [`register`](Self::register) once it has been admitted.
    pub fn resolve(
        &self,
        request: &mut async_graphql::Request,
    ) -> ServerResult<Option<Registration>> {
        let hash = requested_hash(request)?;
        let sent = !request.query.trim().is_empty();
        match (hash, sent) {
            // No document at all: nothing to trust either.
            (None, false) if self.trusted_only => Err(not_allowed()),
            (None, false) => Ok(None),
            (None, true) => {
                if self.trusted_only && self.trusted.get(&sha256_hex(&request.query)).is_none() {
                    return Err(not_allowed());
                }
                Ok(None)
            }
            (Some(hash), false) => {
                let found = match self.trusted.get(&hash) {
                    Some(document) => Arc::clone(document),
                    None if self.trusted_only => return Err(not_allowed()),
                    None => {
                        let Some(registered) = &self.registered else {
                            return Err(refusal(
                                Code::PersistedQueryNotSupported,
                                "PersistedQueryNotSupported",
                            ));
                        };
                        let found = registered
                            .lock()
                            .ok()
                            .and_then(|mut r| r.get(&hash).map(Arc::clone));
                        found.ok_or_else(|| {
                            refusal(Code::PersistedQueryNotFound, "PersistedQueryNotFound")
                        })?
                    }
                };
                request.query = found.to_string();
                Ok(None)
            }
            (Some(hash), true) => {
                let actual = sha256_hex(&request.query);
                if actual != hash {
                    return Err(refusal(
                        Code::BadRequest,
                        &format!(
                            "the query's SHA-256 is {actual}, not the extensions.persistedQuery.sha256Hash sent ({hash}): nothing was run or kept"
                        ),
                    ));
                }
                if self.trusted.get(&hash).is_some() {
                    return Ok(None);
                }
                if self.trusted_only {
                    return Err(not_allowed());
                }
                Ok(
                    (self.registered.is_some() && request.query.len() <= MAX_PERSISTED_TEXT)
                        .then_some(Registration { hash }),
                )
            }
        }
    }

    /// Keeps `document` under the hash it was checked against.
    pub fn register(&self, registration: Registration, document: &str) {
        if let Some(Ok(mut registered)) = self.registered.as_ref().map(Mutex::lock) {
            registered.put(registration.hash, Arc::from(document));
        }
    }

    /// How many registered documents are kept now (the manifest's not counted).
    pub fn len(&self) -> usize {
        self.registered
            .as_ref()
            .and_then(|r| r.lock().ok().map(|r| r.len()))
            .unwrap_or(0)
    }

    /// Whether no registered document is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The hash `extensions.persistedQuery` names (lowercased), if the request has the extension.
fn requested_hash(request: &async_graphql::Request) -> ServerResult<Option<String>> {
    let extension = match request.extensions.get(EXTENSION) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(fields)) => fields,
        Some(_) => {
            return Err(refusal(
                Code::BadRequest,
                "`extensions.persistedQuery` is not an object { version: 1, sha256Hash }",
            ));
        }
    };
    match extension.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => {
            return Err(refusal(
                Code::BadRequest,
                "`extensions.persistedQuery.version` must be 1 (the only version of the protocol)",
            ));
        }
    }
    match extension.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        _ => Err(refusal(
            Code::BadRequest,
            "`extensions.persistedQuery.sha256Hash` must be the document's SHA-256 as 64 hexadecimal characters",
        )),
    }
}

fn not_allowed() -> ServerError {
    refusal(
        Code::PersistedQueryNotAllowed,
        "PersistedQueryNotAllowed: this server runs only its trusted documents (TRUSTED_DOCUMENTS_ONLY), and this one is not among them",
    )
}

fn refusal(code: Code, message: &str) -> ServerError {
    super::errors::refusal(code, message.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(query: &str, hash: Option<&str>) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        if let Some(hash) = hash {
            let extension = serde_json::json!({ "version": 1, "sha256Hash": hash });
            request
                .extensions
                .insert(EXTENSION.to_owned(), Value::from_json(extension).unwrap());
        }
        request
    }

    fn code(error: &ServerError) -> Option<Code> {
        super::super::errors::code_of(error)
    }

    #[test]
    fn the_store_keeps_at_most_its_capacity_and_no_long_documents() {
        let store = PersistedDocuments::new(2, Manifest::default(), false);
        for i in 0..50 {
            let text = format!("{{ a{i}: __typename }}");
            let registration = store.resolve(&mut request(&text, Some(&sha256_hex(&text))));
            store.register(registration.unwrap().unwrap(), &text);
        }
        assert_eq!(store.len(), 2);
        let newest = "{ a49: __typename }";
        let mut by_hash = request("", Some(&sha256_hex(newest)));
        assert!(store.resolve(&mut by_hash).unwrap().is_none());
        assert_eq!(by_hash.query, newest);
        let mut oldest = request("", Some(&sha256_hex("{ a0: __typename }")));
        let error = store.resolve(&mut oldest).err().unwrap();
        assert_eq!(code(&error), Some(Code::PersistedQueryNotFound));

        let long = format!("{{ __typename }}#{}", "x".repeat(MAX_PERSISTED_TEXT));
        let registration = store.resolve(&mut request(&long, Some(&sha256_hex(&long))));
        assert!(registration.unwrap().is_none());
    }

    #[test]
    fn trusted_only_refuses_by_hash_and_by_text_and_never_registers() {
        let trusted = "{ __typename }";
        let store =
            PersistedDocuments::new(10, Manifest::from_documents([trusted.to_owned()]), true);
        for mut refused in [
            request("{ a: __typename }", None),
            request("", Some(&sha256_hex("{ a: __typename }"))),
            request("{ a: __typename }", Some(&sha256_hex("{ a: __typename }"))),
            request("{ not a document", None),
        ] {
            let error = store.resolve(&mut refused).err().unwrap();
            assert_eq!(code(&error), Some(Code::PersistedQueryNotAllowed));
        }
        assert!(
            store
                .resolve(&mut request(trusted, None))
                .unwrap()
                .is_none()
        );
        let mut by_hash = request("", Some(&sha256_hex(trusted)));
        assert!(store.resolve(&mut by_hash).unwrap().is_none());
        assert_eq!(by_hash.query, trusted);
        assert!(store.is_empty());
    }
}
