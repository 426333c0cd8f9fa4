//! The gate every operation passes before the engine sees it, over HTTP and over WebSocket alike:
//! its document settled (found by its hash, checked against the trusted documents: see
//! [`super::persisted`]) before anything parses it, then parsed once and measured
//! ([`super::limits`]), then, when introspection is off, refused if it selects `__schema` or
//! `__type`. Only a document that passed all of it is kept by its hash for automatic persisted
//! queries.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Positioned, ServerResult};

use super::documents::DocumentCache;
use super::persisted::{Manifest, PersistedDocuments};
use crate::config::{Config, GraphqlLimits};
use crate::error::Code;

/// What admitting an operation needs: the limits, the parsed documents, the persisted ones.
pub struct Admission {
    limits: GraphqlLimits,
    documents: DocumentCache,
    persisted: PersistedDocuments,
    introspection: bool,
}

impl Admission {
    /// The gate for `config`, with the trusted documents of `manifest` (empty without
    /// `TRUSTED_DOCUMENTS`).
    pub fn new(config: &Config, manifest: Manifest) -> Self {
        Self {
            limits: config.limits,
            documents: DocumentCache::new(config.graphql.document_cache),
            persisted: PersistedDocuments::new(
                config.graphql.persisted_queries,
                manifest,
                config.graphql.trusted_documents_only,
            ),
            introspection: config.graphql.introspection,
        }
    }

    /// Admits `request` or says why not (a request error: nothing runs). The parsed document
    /// travels with the request, so the engine does not parse it again.
    pub fn admit(&self, request: &mut async_graphql::Request) -> ServerResult<()> {
        let registration = self.persisted.resolve(request)?;
        super::limits::admit(request, &self.limits, &self.documents)?;
        if !self.introspection {
            refuse_introspection(request.parsed_query()?)?;
        }
        if let Some(registration) = registration {
            self.persisted.register(registration, &request.query);
        }
        Ok(())
    }

    /// Settles the document `request` runs, without parsing it (see
    /// [`PersistedDocuments::resolve`]); for a refusal to be sent before anything else happens.
    pub fn settle(&self, request: &mut async_graphql::Request) -> ServerResult<()> {
        self.persisted.resolve(request).map(drop)
    }
}

/// With introspection off, a document selecting `__schema` or `__type` anywhere (an operation or
/// a fragment) is refused as a whole, as the specification would have it: those fields are
/// non-null, so answering them `null` is no answer. `__typename` is not introspection of the
/// schema and keeps working.
fn refuse_introspection(document: &ExecutableDocument) -> ServerResult<()> {
    let sets = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set)
        .chain(document.fragments.values().map(|f| &f.node.selection_set));
    for set in sets {
        if let Some(field) = introspection_field(set) {
            let mut error = super::errors::refusal(
                Code::GraphqlValidationFailed,
                format!(
                    "introspection is disabled on this server: `{}` cannot be queried (`__typename` can)",
                    field.node
                ),
            );
            error.locations = vec![field.pos];
            return Err(error);
        }
    }
    Ok(())
}

/// The first `__schema` or `__type` field in `set`, through inline fragments and nested fields
/// (fragment spreads are looked at where their fragments are defined).
fn introspection_field(set: &Positioned<SelectionSet>) -> Option<&Positioned<async_graphql::Name>> {
    set.node
        .items
        .iter()
        .find_map(|selection| match &selection.node {
            Selection::Field(field) => {
                let name = &field.node.name;
                if matches!(name.node.as_str(), "__schema" | "__type") {
                    Some(name)
                } else {
                    introspection_field(&field.node.selection_set)
                }
            }
            Selection::InlineFragment(fragment) => {
                introspection_field(&fragment.node.selection_set)
            }
            Selection::FragmentSpread(_) => None,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn refused(query: &str) -> Option<String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        refuse_introspection(&document).err().map(|e| e.message)
    }

    #[test]
    fn schema_and_type_are_found_anywhere_and_typename_is_not() {
        assert!(refused("{ __schema { types { name } } }").is_some());
        assert!(refused(r#"{ __type(name: "Item") { name } }"#).is_some());
        assert!(
            refused("{ ...F } fragment F on Query { __schema { queryType { name } } }").is_some()
        );
        assert!(
            refused("{ ... on Query { items { totalCount } __type(name: \"X\") { name } } }")
                .is_some()
        );
        assert!(
            refused("query A { __typename } query B { __schema { queryType { name } } }").is_some()
        );
        assert_eq!(refused("{ __typename items { __typename } }"), None);
        assert_eq!(refused("{ items { edges { node { name } } } }"), None);
    }
}
