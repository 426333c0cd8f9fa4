//! Response completion. async-graphql 7.2 assembles an object's fields in the order they finish
//! and leaves out a field whose resolver failed. The GraphQL specification wants the fields in
//! the order the query asks for them, a failed field as `null`, and a `null` in a non-null place to
//! make its parent `null` in turn. This extension rebuilds `data` that way, from the executed
//! document and the field types read from the schema's SDL (see [`complete`]).

use std::collections::HashMap;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, Selection, SelectionSet, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{Name, Positioned, Response, Value, Variables};
use async_graphql_value::Value as AstValue;

/// `(object type, field)` → the field's type, for every object type of the schema.
#[derive(Debug, Default)]
pub struct FieldTypes {
    fields: HashMap<(String, String), Type>,
    query: String,
    mutation: String,
}

impl FieldTypes {
    pub fn from_sdl(sdl: &str) -> Result<Self, String> {
        let doc = async_graphql::parser::parse_schema(sdl).map_err(|e| e.to_string())?;
        let mut types = Self {
            query: "Query".into(),
            mutation: "Mutation".into(),
            ..Self::default()
        };
        for definition in doc.definitions {
            if let TypeSystemDefinition::Type(ty) = definition
                && let TypeKind::Object(object) = &ty.node.kind
            {
                for field in &object.fields {
                    types.fields.insert(
                        (
                            ty.node.name.node.to_string(),
                            field.node.name.node.to_string(),
                        ),
                        field.node.ty.node.clone(),
                    );
                }
            }
        }
        Ok(types)
    }
}

/// Rebuilds `response.data` for the operation `operation_name` of `document`.
pub fn complete(
    types: &FieldTypes,
    document: &ExecutableDocument,
    variables: &Variables,
    operation_name: Option<&str>,
    mut response: Response,
) -> Response {
    let operation = match operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => document.operations.iter().next(),
    };
    let Some((_, operation)) = operation else {
        return response;
    };
    let root = match operation.node.ty {
        async_graphql::parser::types::OperationType::Mutation => &types.mutation,
        _ => &types.query,
    };
    if let Value::Object(_) = response.data {
        let shaper = Shaper {
            types,
            document,
            variables,
        };
        let data = std::mem::take(&mut response.data);
        response.data = shaper
            .object(root, &[&operation.node.selection_set], data)
            .unwrap_or(Value::Null);
    }
    response
}

struct Shaper<'a> {
    types: &'a FieldTypes,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
}

impl<'a> Shaper<'a> {
    /// Completes an object of `type_name`; `None` when a non-null field of it is null.
    fn object(
        &self,
        type_name: &str,
        sets: &[&'a Positioned<SelectionSet>],
        value: Value,
    ) -> Option<Value> {
        let Value::Object(mut values) = value else {
            return Some(value);
        };
        let mut fields: IndexMap<Name, (&'a Field, Vec<&'a Positioned<SelectionSet>>)> =
            IndexMap::new();
        for set in sets {
            self.collect(set, &mut fields, &mut Vec::new());
        }
        let mut out = IndexMap::with_capacity(fields.len());
        for (key, (field, subsets)) in fields {
            let value = values.shift_remove(&key).unwrap_or(Value::Null);
            let name = field.name.node.as_str();
            if name.starts_with("__") {
                out.insert(key, value);
                continue;
            }
            let Some(ty) = self
                .types
                .fields
                .get(&(type_name.to_owned(), name.to_owned()))
            else {
                out.insert(key, value);
                continue;
            };
            out.insert(key, self.value(ty, &subsets, value)?);
        }
        Some(Value::Object(out))
    }

    /// Completes a value of type `ty`; `None` when it is null where null is not allowed.
    fn value(
        &self,
        ty: &Type,
        sets: &[&'a Positioned<SelectionSet>],
        value: Value,
    ) -> Option<Value> {
        let completed = match (value, &ty.base) {
            (Value::Null, _) => None,
            (Value::List(items), BaseType::List(inner)) => items
                .into_iter()
                .map(|item| self.value(inner, sets, item))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            (value @ Value::Object(_), BaseType::Named(name)) if !sets.is_empty() => {
                self.object(name.as_str(), sets, value)
            }
            (value, _) => Some(value),
        };
        match completed {
            Some(v) => Some(v),
            None if ty.nullable => Some(Value::Null),
            None => None,
        }
    }

    /// The fields of a selection set by response key, in query order, through fragments,
    /// leaving out those `@skip`ped or not `@include`d.
    fn collect(
        &self,
        set: &'a Positioned<SelectionSet>,
        fields: &mut IndexMap<Name, (&'a Field, Vec<&'a Positioned<SelectionSet>>)>,
        seen: &mut Vec<&'a str>,
    ) {
        for selection in &set.node.items {
            if !self.included(selection.node.directives()) {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.clone();
                    let entry = fields.entry(key).or_insert((&field.node, Vec::new()));
                    entry.1.push(&field.node.selection_set);
                }
                Selection::InlineFragment(fragment) => {
                    self.collect(&fragment.node.selection_set, fields, seen);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if seen.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(name) {
                        seen.push(name);
                        self.collect(&fragment.node.selection_set, fields, seen);
                        seen.pop();
                    }
                }
            }
        }
    }

    fn included(&self, directives: &[Positioned<async_graphql::parser::types::Directive>]) -> bool {
        directives.iter().all(|d| {
            let condition = d.node.get_argument("if").map(|v| match &v.node {
                AstValue::Boolean(b) => *b,
                AstValue::Variable(name) => {
                    matches!(self.variables.get(name), Some(Value::Boolean(true)))
                }
                _ => false,
            });
            !matches!(
                (d.node.name.node.as_str(), condition),
                ("skip", Some(true)) | ("include", Some(false))
            )
        })
    }
}
