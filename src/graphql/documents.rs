//! Parsed documents, cached by their text (`GRAPHQL_DOCUMENT_CACHE` entries), so the few documents
//! a frontend sends again and again skip the parser. Bounded: the least recently used entry makes
//! room for a new one, and a document longer than [`MAX_CACHED_TEXT`] is parsed every time, so a
//! stream of distinct or huge queries can neither grow the cache nor evict it faster than it
//! would anyway. Only the parse is cached: every limit is still measured on every request.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::parser::{Error, parse_query};
use lru::LruCache;

/// The longest document text kept; the documents a frontend sends are far shorter.
pub const MAX_CACHED_TEXT: usize = 16 * 1024;

/// The cache; with a capacity of 0 it keeps nothing.
pub struct DocumentCache {
    entries: Option<Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>>,
}

impl DocumentCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(|n| Mutex::new(LruCache::new(n))),
        }
    }

    /// The document `query` parses to: a copy of the cached one, or parsed now (and kept).
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, Error> {
        let Some(entries) = &self.entries else {
            return parse_query(query);
        };
        let cached = entries
            .lock()
            .ok()
            .and_then(|mut entries| entries.get(query).cloned());
        if let Some(document) = cached {
            return Ok(ExecutableDocument::clone(&document));
        }
        let document = parse_query(query)?;
        if query.len() <= MAX_CACHED_TEXT
            && let Ok(mut entries) = entries.lock()
        {
            entries.put(Arc::from(query), Arc::new(document.clone()));
        }
        Ok(document)
    }

    /// How many documents are kept now.
    pub fn len(&self) -> usize {
        self.entries
            .as_ref()
            .and_then(|e| e.lock().ok().map(|e| e.len()))
            .unwrap_or(0)
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_its_capacity_and_answers_from_it() {
        let cache = DocumentCache::new(2);
        for i in 0..50 {
            cache.parse(&format!("{{ a{i}: __typename }}")).unwrap();
        }
        assert_eq!(cache.len(), 2);
        let again = cache.parse("{ a49: __typename }").unwrap();
        assert_eq!(again.operations.iter().count(), 1);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn keeps_no_long_documents_no_errors_and_nothing_when_off() {
        let cache = DocumentCache::new(10);
        let long = format!("{{ {} }}", "__typename ".repeat(MAX_CACHED_TEXT / 10));
        cache.parse(&long).unwrap();
        assert!(cache.parse("{ oops ").is_err());
        assert!(cache.is_empty());

        let off = DocumentCache::new(0);
        off.parse("{ __typename }").unwrap();
        assert!(off.is_empty());
    }
}
