//! Cost limits, checked on the parsed document before validation or execution: first the size of
//! the document with its fragments expanded ([`super::expansion`], in time linear in its text),
//! then nesting depth, complexity, aliases, root fields and directives per field. Complexity
//! counts the objects a query can return: each field with a selection costs 1, and a list field's
//! selection (a field that takes `first`) counts `first` or `last` times (the larger if both are
//! given, 20 when neither is); scalar fields are free (aliases and root fields bound those). Which fields
//! are lists, and of what type each field is, is read from the schema's own types. Introspection
//! (`__schema`, `__type`, `__typename`) is left out of depth and complexity, so that tools such as
//! GraphiQL can load the schema; root `__typename`s still count as root fields, so a flood of them
//! is refused.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};
use async_graphql_value::{ConstValue, Value};

use super::documents::DocumentCache;
use super::fields::FIELDS;
use crate::config::GraphqlLimits;
use crate::domain::page::MAX_PAGE_SIZE;
use crate::error::Code;

/// Admits a request before the engine sees it: parses it once (or takes the parse from
/// `documents`), bounds its fragment expansion, measures its cost and refuses NUL characters in
/// its strings. The parsed document travels with the request, so the engine does not parse it
/// again.
pub fn admit(
    request: &mut async_graphql::Request,
    limits: &GraphqlLimits,
    documents: &DocumentCache,
) -> ServerResult<()> {
    let document = documents
        .parse(&request.query)
        .map_err(|e| super::errors::with_code(e.into(), Code::GraphqlParseFailed))?;
    check(&document, &request.variables, limits)?;
    super::strings::check(&document, &request.variables)?;
    request.set_parsed_query(document);
    Ok(())
}

/// Measures every operation of `document`; the first limit exceeded is the error. Arguments are
/// costed with the values they will have: a variable's value, else its declared default, else
/// the field's own default.
pub fn check(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &GraphqlLimits,
) -> ServerResult<()> {
    super::expansion::bound(document)?;
    let mut walk = Walk {
        fragments: &document.fragments,
        variables,
        operation: None,
        limits,
        aliases: 0,
        stack: Vec::new(),
    };
    for (_, operation) in document.operations.iter() {
        walk.operation = Some(&operation.node);
        let set = &operation.node.selection_set;
        let root = match operation.node.ty {
            OperationType::Mutation => "Mutation",
            _ => "Query",
        };
        let root_fields = walk.root_fields(set)?;
        if root_fields > limits.root_fields {
            return Err(refuse(
                Code::TooManyRootFields,
                format!(
                    "the operation has {root_fields} root fields; at most {} are allowed",
                    limits.root_fields
                ),
            ));
        }
        let measure = walk.selection_set(set, Some(root), 1)?;
        if measure.depth > limits.depth {
            return Err(refuse(
                Code::QueryTooDeep,
                format!(
                    "the query nests {} levels deep; at most {} are allowed",
                    measure.depth, limits.depth
                ),
            ));
        }
        if measure.complexity > limits.complexity {
            return Err(refuse(
                Code::QueryTooComplex,
                format!(
                    "the query's complexity is {}; at most {} is allowed (each object counts 1, a page's objects count `first` or `last` times)",
                    measure.complexity, limits.complexity
                ),
            ));
        }
    }
    if walk.aliases > limits.aliases {
        return Err(refuse(
            Code::TooManyAliases,
            format!(
                "the document has {} aliased fields; at most {} are allowed",
                walk.aliases, limits.aliases
            ),
        ));
    }
    Ok(())
}

pub(super) fn refuse(code: Code, message: String) -> ServerError {
    super::errors::refusal(code, message)
}

#[derive(Default, Clone, Copy)]
struct Measure {
    depth: usize,
    complexity: usize,
}

struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    /// The operation being measured, for its variables' default values.
    operation: Option<&'a OperationDefinition>,
    limits: &'a GraphqlLimits,
    aliases: usize,
    /// Fragments being expanded: a cycle (invalid anyway) stops here instead of looping.
    stack: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    /// Counts the fields at the root of an operation, through fragments.
    fn root_fields(&mut self, set: &'a Positioned<SelectionSet>) -> ServerResult<usize> {
        let mut count = 0;
        for selection in &set.node.items {
            count += match &selection.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(f) => self.root_fields(&f.node.selection_set)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.enter(name) {
                        Some(fragment) => {
                            let n = self.root_fields(&fragment.node.selection_set)?;
                            self.stack.pop();
                            n
                        }
                        None => 0,
                    }
                }
            };
        }
        Ok(count)
    }

    /// Measures a selection set on type `ty` (`None` where the document names a type or field
    /// the schema lacks: validation will refuse it, and it is still measured).
    fn selection_set(
        &mut self,
        set: &'a Positioned<SelectionSet>,
        ty: Option<&'a str>,
        level: usize,
    ) -> ServerResult<Measure> {
        let mut total = Measure::default();
        for selection in &set.node.items {
            let m = match &selection.node {
                Selection::Field(field) => self.field(&field.node, ty, level)?,
                Selection::InlineFragment(f) => {
                    let on = f.node.type_condition.as_ref();
                    let ty = on.map_or(ty, |c| Some(c.node.on.node.as_str()));
                    self.selection_set(&f.node.selection_set, ty, level)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.enter(name) {
                        Some(fragment) => {
                            let ty = fragment.node.type_condition.node.on.node.as_str();
                            let m =
                                self.selection_set(&fragment.node.selection_set, Some(ty), level)?;
                            self.stack.pop();
                            m
                        }
                        None => Measure::default(),
                    }
                }
            };
            total.depth = total.depth.max(m.depth);
            total.complexity = total.complexity.saturating_add(m.complexity);
        }
        Ok(total)
    }

    fn field(
        &mut self,
        field: &'a Field,
        ty: Option<&'a str>,
        level: usize,
    ) -> ServerResult<Measure> {
        if field.alias.is_some() {
            self.aliases += 1;
        }
        if field.directives.len() > self.limits.directives {
            return Err(refuse(
                Code::TooManyDirectives,
                format!(
                    "`{}` has {} directives; at most {} are allowed per field",
                    field.name.node,
                    field.directives.len(),
                    self.limits.directives
                ),
            ));
        }
        if field.name.node.starts_with("__") {
            return Ok(Measure::default());
        }
        if field.selection_set.node.items.is_empty() {
            return Ok(Measure {
                depth: level,
                complexity: 0,
            });
        }
        let declared = ty.and_then(|ty| FIELDS.get(ty, &field.name.node));
        let children = self.selection_set(
            &field.selection_set,
            declared.map(|d| d.ty.as_str()),
            level + 1,
        )?;
        let times = self.multiplier(field, declared.and_then(|d| d.page));
        Ok(Measure {
            depth: children.depth.max(level),
            complexity: children.complexity.saturating_mul(times).saturating_add(1),
        })
    }

    /// How many times a field's children count: `first` or `last` for a list field (the larger
    /// if both are given; the default page size when neither is), once otherwise. A `first` or
    /// `last` given to a field the schema does not know counts too.
    fn multiplier(&self, field: &Field, default_page: Option<u64>) -> usize {
        let size = |argument: &str| {
            field
                .arguments
                .iter()
                .find(|(name, _)| name.node == argument)
                .map(|(_, value)| match &value.node {
                    Value::Number(n) => n.as_u64(),
                    Value::Variable(var) => match self.variable(var) {
                        Some(ConstValue::Number(n)) => n.as_u64(),
                        _ => None,
                    },
                    _ => None,
                })
        };
        let (first, last) = (size("first"), size("last"));
        // A null or absent size is the default page; given both, the larger counts.
        let given = first.flatten().max(last.flatten());
        let mentioned = first.is_some() || last.is_some();
        match (given, default_page) {
            (Some(n), _) => n.min(MAX_PAGE_SIZE) as usize,
            (None, Some(n)) => n.min(MAX_PAGE_SIZE) as usize,
            (None, None) if mentioned => MAX_PAGE_SIZE as usize,
            (None, None) => 1,
        }
    }

    /// A variable's value: as sent, else its declared default.
    fn variable(&self, name: &Name) -> Option<&'a ConstValue> {
        if let Some(value) = self.variables.get(name) {
            return Some(value);
        }
        self.operation?
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map(|v| &v.node)
    }

    fn enter(&mut self, name: &'a str) -> Option<&'a Positioned<FragmentDefinition>> {
        if self.stack.contains(&name) {
            return None;
        }
        let fragment = self.fragments.get(name)?;
        self.stack.push(name);
        Some(fragment)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn limits() -> GraphqlLimits {
        GraphqlLimits {
            depth: 10,
            complexity: 1000,
            aliases: 30,
            root_fields: 20,
            directives: 5,
            batch: 10,
            errors: 50,
            response_bytes: 1 << 20,
        }
    }

    fn code(error: &ServerError) -> String {
        match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(code)) => code.clone(),
            other => format!("{other:?}"),
        }
    }

    /// Ten fragments spreading the next eight times at each of `levels` levels.
    fn bomb(levels: usize) -> String {
        let mut document = String::from("{ ...A1 }\n");
        for level in 1..levels {
            let spreads = format!("...A{} ", level + 1).repeat(8);
            document.push_str(&format!("fragment A{level} on Query {{ {spreads}}}\n"));
        }
        document.push_str(&format!("fragment A{levels} on Query {{ __typename }}\n"));
        document
    }

    fn complexity(query: &str) -> usize {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let mut big = limits();
        big.complexity = usize::MAX;
        check(&document, &Variables::default(), &big).unwrap();
        let mut bound = 0;
        // The smallest limit it passes is its complexity.
        while {
            big.complexity = bound;
            check(&document, &Variables::default(), &big).is_err()
        } {
            bound += 1;
        }
        bound
    }

    #[test]
    fn a_list_field_counts_its_declared_default_page_wherever_it_is_reached() {
        // users (1) + 20 × (edges 1 + node 1 + posts 1 + 20 × (edges 1 + node 1))
        let nested = "{ users { edges { node { posts { edges { node { title } } } } } } }";
        assert_eq!(complexity(nested), 1 + 20 * (3 + 20 * 2));
        // The same through a fragment on User, and with `first` given.
        let fragment = "{ users(first: 2) { edges { node { ...P } } } } fragment P on User { posts(first: 3) { edges { node { title } } } }";
        assert_eq!(complexity(fragment), 1 + 2 * (3 + 3 * 2));
        // `last` counts like `first` (the larger if a query gives both, which is then refused).
        let backwards = "{ users(last: 2) { edges { node { posts(last: 3, first: 1) { edges { node { title } } } } } } }";
        assert_eq!(complexity(backwards), 1 + 2 * (3 + 3 * 2));
        // A single object is not a list, whatever its arguments.
        assert_eq!(
            complexity(r#"{ post(id: "1") { author { username } } }"#),
            2
        );
    }

    #[test]
    fn fragment_bombs_are_refused_in_time_linear_in_their_text() {
        for levels in [10, 20, 31] {
            let mut request = async_graphql::Request::new(bomb(levels));
            let started = Instant::now();
            let error = admit(&mut request, &limits(), &DocumentCache::new(0)).unwrap_err();
            let took = started.elapsed();
            assert_eq!(code(&error), Code::QueryTooComplex.as_str(), "{levels}");
            assert!(
                took < Duration::from_millis(100),
                "{levels} levels: {took:?}"
            );
        }
    }
}
