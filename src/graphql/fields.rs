//! The schema's object fields as the cost limits need them: each field's type, and which fields
//! are lists (they take `first`) with their default page size. Read once from the schema's own
//! types (async-graphql's registry), so that nothing else names a field.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_graphql::OutputType;
use async_graphql::registry::{MetaType, Registry};

use crate::domain::page::DEFAULT_PAGE_SIZE;

/// Every object field of the schema: its type, and for a list field (one that takes a `first`
/// argument) its default page size. Read once from the schema's own types, so that a new list
/// field is costed by declaring its arguments, and nothing here names a field.
pub static FIELDS: LazyLock<Fields> = LazyLock::new(Fields::of_schema);

pub struct Declared {
    /// The named type of the field's value (lists and non-null stripped).
    pub ty: String,
    /// For a list field, the page size when `first` is not given.
    pub page: Option<u64>,
}

pub struct Fields(HashMap<String, HashMap<String, Declared>>);

impl Fields {
    fn of_schema() -> Self {
        let mut registry = Registry::default();
        super::Query::create_type_info(&mut registry);
        super::Mutation::create_type_info(&mut registry);
        let mut types = HashMap::new();
        for (name, ty) in registry.types {
            let MetaType::Object { fields, .. } = ty else {
                continue;
            };
            let fields = fields
                .into_iter()
                .map(|(field, meta)| {
                    // Every list field takes `first`; its page is 20 rows unless `first` or
                    // `last` says otherwise.
                    let page = meta.args.contains_key("first").then_some(DEFAULT_PAGE_SIZE);
                    let ty = meta
                        .ty
                        .trim_matches(|c| matches!(c, '[' | ']' | '!'))
                        .to_owned();
                    (field, Declared { ty, page })
                })
                .collect();
            types.insert(name, fields);
        }
        Self(types)
    }

    pub fn get(&self, ty: &str, field: &str) -> Option<&Declared> {
        self.0.get(ty)?.get(field)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn list_fields_and_field_types_are_read_from_the_schema() {
        for (ty, field, of) in [
            ("Query", "items", "ItemConnection"),
            ("Query", "posts", "PostConnection"),
            ("Query", "users", "UserConnection"),
            ("User", "posts", "PostConnection"),
        ] {
            let declared = FIELDS.get(ty, field).unwrap();
            assert_eq!(
                (declared.ty.as_str(), declared.page),
                (of, Some(20)),
                "{ty}.{field}"
            );
        }
        let edges = FIELDS.get("PostConnection", "edges").unwrap();
        assert_eq!((edges.ty.as_str(), edges.page), ("PostEdge", None));
        assert_eq!(FIELDS.get("Query", "item").unwrap().page, None);
        assert!(FIELDS.get("Mutation", "createItem").is_some());
        assert!(FIELDS.get("Query", "nope").is_none());
    }
}
