//! Cost limits, checked on the parsed document before validation or execution: first the size of
//! the document with its fragments expanded (counted in time linear in its text, before anything
//! expands a fragment), then nesting depth, complexity, aliases, root fields and directives per
//! field. Complexity counts the objects a query
//! can return: each field with a selection costs 1, and a page's selection counts `first` times
//! (20 when it is not given); scalar fields are free (aliases and root fields bound those). Introspection (`__schema`, `__type`, `__typename`) is left out of depth and
//! complexity, so that tools such as GraphiQL can load the schema; root `__typename`s still count
//! as root fields, so a flood of them is refused.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::config::GraphqlLimits;
use crate::domain::page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// How many selections (fields, fragment spreads, inline fragments) an operation may hold once its
/// fragments are expanded. Far above any real query (GraphiQL's introspection query expands to a
/// few hundred), far below what costs noticeable time to walk.
pub const MAX_EXPANDED_SELECTIONS: usize = 10_000;

/// Refuses a document whose fragments expand to more than [`MAX_EXPANDED_SELECTIONS`] selections
/// in some operation, or that spreads a fragment inside itself. Each fragment's expanded size is
/// computed once, so ten fragments that each spread the next eight times cost ten steps here, not
/// eight to the tenth: this runs before anything walks the expanded document (our limits and the
/// engine's own recursion check).
pub fn bound_expansion(document: &ExecutableDocument) -> ServerResult<()> {
    let mut sizes = Sizes {
        fragments: &document.fragments,
        done: HashMap::new(),
    };
    for (_, operation) in document.operations.iter() {
        let own = Own::of(&operation.node.selection_set);
        let mut total = own.selections;
        for name in own.spreads {
            total = total.saturating_add(sizes.fragment(name)?);
            if total > MAX_EXPANDED_SELECTIONS {
                return Err(too_large());
            }
        }
        if total > MAX_EXPANDED_SELECTIONS {
            return Err(too_large());
        }
    }
    Ok(())
}

fn too_large() -> ServerError {
    refuse(
        "QUERY_TOO_COMPLEX",
        format!(
            "the query is too large: with its fragments expanded, an operation may hold at most {MAX_EXPANDED_SELECTIONS} selections"
        ),
    )
}

/// A selection set's own selections, and the fragments it spreads (once per spread), without
/// expanding them. Nesting is at most 64 levels (the parser's limit), so the recursion is bounded.
struct Own<'a> {
    selections: usize,
    spreads: Vec<&'a str>,
}

impl<'a> Own<'a> {
    fn of(set: &'a Positioned<SelectionSet>) -> Self {
        let mut own = Self {
            selections: 0,
            spreads: Vec::new(),
        };
        own.add(set);
        own
    }

    fn add(&mut self, set: &'a Positioned<SelectionSet>) {
        for selection in &set.node.items {
            self.selections = self.selections.saturating_add(1);
            match &selection.node {
                Selection::Field(field) => self.add(&field.node.selection_set),
                Selection::InlineFragment(f) => self.add(&f.node.selection_set),
                Selection::FragmentSpread(spread) => {
                    self.spreads.push(spread.node.fragment_name.node.as_str());
                }
            }
        }
    }
}

/// Expanded fragment sizes, memoised; `None` marks a fragment being computed (a cycle if met).
struct Sizes<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    done: HashMap<&'a str, Option<usize>>,
}

impl<'a> Sizes<'a> {
    /// The expanded size of fragment `name` (0 if it does not exist: validation reports that),
    /// computed with an explicit stack, so a long chain of fragments cannot exhaust the thread's.
    fn fragment(&mut self, name: &'a str) -> ServerResult<usize> {
        if let Some(size) = self.done.get(name) {
            return size.ok_or_else(cycle);
        }
        // Each frame: a fragment, its expanded size so far, and the spreads still to add.
        let mut stack: Vec<Frame<'a>> = Vec::new();
        match self.enter(name) {
            Some(frame) => stack.push(frame),
            None => return Ok(0),
        }
        while let Some((current, total, spreads)) = stack.last_mut() {
            if *total > MAX_EXPANDED_SELECTIONS {
                return Err(too_large());
            }
            match spreads.next() {
                Some(next) => match self.done.get(next) {
                    Some(Some(size)) => *total = total.saturating_add(*size),
                    Some(None) => return Err(cycle()),
                    None => {
                        if let Some(frame) = self.enter(next) {
                            stack.push(frame);
                        }
                    }
                },
                None => {
                    let (current, total) = (*current, *total);
                    self.done.insert(current, Some(total));
                    stack.pop();
                    if let Some((_, parent, _)) = stack.last_mut() {
                        *parent = parent.saturating_add(total);
                    }
                }
            }
        }
        self.done.get(name).copied().flatten().ok_or_else(cycle)
    }

    /// Starts computing fragment `name`: `None` if the document has no such fragment.
    fn enter(&mut self, name: &'a str) -> Option<Frame<'a>> {
        let fragment = self.fragments.get(name)?;
        let own = Own::of(&fragment.node.selection_set);
        self.done.insert(name, None);
        Some((name, own.selections, own.spreads.into_iter()))
    }
}

type Frame<'a> = (&'a str, usize, std::vec::IntoIter<&'a str>);

fn cycle() -> ServerError {
    refuse(
        "GRAPHQL_VALIDATION_FAILED",
        "a fragment spreads itself, directly or through other fragments".to_owned(),
    )
}

/// Admits a request before the engine sees it: parses it once, bounds its fragment expansion and
/// measures its cost. The parsed document travels with the request, so the engine does not parse
/// it again.
pub fn admit(request: &mut async_graphql::Request, limits: &GraphqlLimits) -> ServerResult<()> {
    let document = async_graphql::parser::parse_query(&request.query).map_err(|e| {
        super::errors::with_code(recode_directives(e.into()), "GRAPHQL_PARSE_FAILED")
    })?;
    check(&document, &request.variables, limits)?;
    request.set_parsed_query(document);
    Ok(())
}

/// async-graphql counts directives while parsing (`limit_directives`); its refusal gets the same
/// kind of code as the other limits.
pub fn recode_directives(mut error: ServerError) -> ServerError {
    if error.message.starts_with("The number of directives") {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", "TOO_MANY_DIRECTIVES");
    }
    error
}

/// Measures every operation of `document`; the first limit exceeded is the error. Arguments are
/// costed with the values they will have: a variable's value, else its declared default, else
/// the field's own default.
pub fn check(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &GraphqlLimits,
) -> ServerResult<()> {
    bound_expansion(document)?;
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
        let root_fields = walk.root_fields(set)?;
        if root_fields > limits.root_fields {
            return Err(refuse(
                "TOO_MANY_ROOT_FIELDS",
                format!(
                    "the operation has {root_fields} root fields; at most {} are allowed",
                    limits.root_fields
                ),
            ));
        }
        let measure = walk.selection_set(set, 1)?;
        if measure.depth > limits.depth {
            return Err(refuse(
                "QUERY_TOO_DEEP",
                format!(
                    "the query nests {} levels deep; at most {} are allowed",
                    measure.depth, limits.depth
                ),
            ));
        }
        if measure.complexity > limits.complexity {
            return Err(refuse(
                "QUERY_TOO_COMPLEX",
                format!(
                    "the query's complexity is {}; at most {} is allowed (each object counts 1, a page's objects count `first` times)",
                    measure.complexity, limits.complexity
                ),
            ));
        }
    }
    if walk.aliases > limits.aliases {
        return Err(refuse(
            "TOO_MANY_ALIASES",
            format!(
                "the document has {} aliased fields; at most {} are allowed",
                walk.aliases, limits.aliases
            ),
        ));
    }
    Ok(())
}

fn refuse(code: &str, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
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

    fn selection_set(
        &mut self,
        set: &'a Positioned<SelectionSet>,
        level: usize,
    ) -> ServerResult<Measure> {
        let mut total = Measure::default();
        for selection in &set.node.items {
            let m = match &selection.node {
                Selection::Field(field) => self.field(&field.node, level)?,
                Selection::InlineFragment(f) => self.selection_set(&f.node.selection_set, level)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.enter(name) {
                        Some(fragment) => {
                            let m = self.selection_set(&fragment.node.selection_set, level)?;
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

    fn field(&mut self, field: &'a Field, level: usize) -> ServerResult<Measure> {
        if field.alias.is_some() {
            self.aliases += 1;
        }
        if field.directives.len() > self.limits.directives {
            return Err(refuse(
                "TOO_MANY_DIRECTIVES",
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
        let children = self.selection_set(&field.selection_set, level + 1)?;
        let times = self.multiplier(field);
        Ok(Measure {
            depth: children.depth.max(level),
            complexity: children.complexity.saturating_mul(times).saturating_add(1),
        })
    }

    /// How many times a field's children count: `first` for a page (the default page size when
    /// it is not given), once otherwise.
    fn multiplier(&self, field: &Field) -> usize {
        let first = field
            .arguments
            .iter()
            .find(|(name, _)| name.node == "first")
            .map(|(_, value)| match &value.node {
                Value::Number(n) => n.as_u64(),
                Value::Variable(var) => match self.variable(var) {
                    Some(ConstValue::Number(n)) => n.as_u64(),
                    _ => None,
                },
                _ => None,
            });
        let is_page =
            first.is_some() || matches!(field.name.node.as_str(), "items" | "posts" | "users");
        match (is_page, first) {
            (_, Some(Some(n))) => n.min(MAX_PAGE_SIZE) as usize,
            (true, _) => DEFAULT_PAGE_SIZE as usize,
            (false, _) => 1,
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
