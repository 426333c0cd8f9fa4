//! Parsed documents, cached by their text (`GRAPHQL_DOCUMENT_CACHE` entries), so the few documents
//! a frontend sends again and again skip the parser. Bounded: the least recently used entry makes
//! room for a new one, a document longer than [`MAX_CACHED_TEXT`] is parsed every time, and the
//! kept documents hold at most [`MAX_CACHED_SELECTIONS`] selections together, so a stream of
//! distinct, huge or bushy queries can neither grow the cache past some 50 MB nor evict it faster
//! than it would anyway. Only the parse is cached: every limit is still measured on every request.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::parser::{Error, parse_query};
use lru::LruCache;

/// The longest document text kept; the documents a frontend sends are far shorter.
pub const MAX_CACHED_TEXT: usize = 16 * 1024;

/// The most selections (fields, spreads and inline fragments, as written) the kept documents may
/// hold together. A parsed selection takes a few hundred bytes, up to a hundred times its text
/// (`id ` is three bytes), so bounding entries and text alone would let a thousand 16 KiB
/// documents of bare fields hold gigabytes; this bounds the cache near 50 MB, while a thousand
/// ordinary documents (tens of selections each) fit. The least recently used make room.
pub const MAX_CACHED_SELECTIONS: usize = 200_000;

/// The largest document kept, in selections: a bigger one is parsed every time.
const MAX_SELECTIONS_PER_DOCUMENT: usize = 2_000;

/// The cache; with a capacity of 0 it keeps nothing.
pub struct DocumentCache {
    entries: Option<Mutex<Entries>>,
}

/// The kept documents, each with its number of selections, and their sum.
struct Entries {
    documents: LruCache<Arc<str>, (Arc<ExecutableDocument>, usize)>,
    selections: usize,
}

impl Entries {
    fn keep(&mut self, query: &str, document: ExecutableDocument) {
        let weight = selections(&document);
        if weight > MAX_SELECTIONS_PER_DOCUMENT {
            return;
        }
        while self.selections + weight > MAX_CACHED_SELECTIONS {
            let Some((_, (_, w))) = self.documents.pop_lru() else {
                break;
            };
            self.selections -= w;
        }
        let evicted = self
            .documents
            .push(Arc::from(query), (Arc::new(document), weight));
        self.selections += weight;
        if let Some((_, (_, w))) = evicted {
            self.selections -= w;
        }
    }
}

/// How many selections `document` holds as written (fragments counted once).
fn selections(document: &ExecutableDocument) -> usize {
    fn count(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| {
                1 + match &item.node {
                    Selection::Field(field) => count(&field.node.selection_set.node),
                    Selection::InlineFragment(f) => count(&f.node.selection_set.node),
                    Selection::FragmentSpread(_) => 0,
                }
            })
            .sum()
    }
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node));
    let fragments = document
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node));
    operations.chain(fragments).sum()
}

impl DocumentCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(|n| {
                Mutex::new(Entries {
                    documents: LruCache::new(n),
                    selections: 0,
                })
            }),
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
            .and_then(|mut entries| entries.documents.get(query).map(|(d, _)| Arc::clone(d)));
        if let Some(document) = cached {
            return Ok(ExecutableDocument::clone(&document));
        }
        let document = parse_query(query)?;
        if query.len() <= MAX_CACHED_TEXT
            && let Ok(mut entries) = entries.lock()
        {
            entries.keep(query, document.clone());
        }
        Ok(document)
    }

    /// How many documents are kept now.
    pub fn len(&self) -> usize {
        self.entries
            .as_ref()
            .and_then(|e| e.lock().ok().map(|e| e.documents.len()))
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
    fn the_kept_documents_hold_a_bounded_number_of_selections() {
        let cache = DocumentCache::new(10_000);
        // 1,500 selections each: the bound holds 133 of them, whatever the entry limit.
        for i in 0..200 {
            let document = format!("{{ a{i}: __typename {} }}", "id ".repeat(1_499));
            cache.parse(&document).unwrap();
        }
        assert_eq!(cache.len(), MAX_CACHED_SELECTIONS / 1_500);
        let last = format!("{{ a199: __typename {} }}", "id ".repeat(1_499));
        let entries = cache.entries.as_ref().unwrap().lock().unwrap();
        assert!(entries.documents.contains(last.as_str()));
        assert!(entries.selections <= MAX_CACHED_SELECTIONS);
    }

    #[test]
    fn keeps_no_long_documents_no_errors_and_nothing_when_off() {
        let cache = DocumentCache::new(10);
        let long = format!("{{ {} }}", "__typename ".repeat(MAX_CACHED_TEXT / 10));
        cache.parse(&long).unwrap();
        assert!(cache.parse("{ oops ").is_err());
        assert!(cache.is_empty());

        // Short, but bushy: 3,000 bare fields in 9 KiB.
        let bushy = format!("{{ {} }}", "id ".repeat(3_000));
        cache.parse(&bushy).unwrap();
        assert!(cache.is_empty());

        let off = DocumentCache::new(0);
        off.parse("{ __typename }").unwrap();
        assert!(off.is_empty());
    }
}
