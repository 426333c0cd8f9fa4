//! The size of a document with its fragments expanded, counted before anything expands them.
//! Each fragment's expanded size is computed once, so ten fragments that each spread the next
//! eight times cost ten steps here, not eight to the tenth. This runs before every walk that does
//! expand fragments: our cost limits and the engine's own recursion check, which memoise nothing.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult};

use super::limits::refuse;
use crate::error::Code;

/// How many selections (fields, fragment spreads, inline fragments) an operation may hold once its
/// fragments are expanded. Far above any real query (GraphiQL's introspection query expands to a
/// few hundred), far below what costs noticeable time to walk.
pub const MAX_EXPANDED_SELECTIONS: usize = 10_000;

/// Refuses a document whose fragments expand to more than [`MAX_EXPANDED_SELECTIONS`] selections
/// in some operation (`QUERY_TOO_COMPLEX`), or that spreads a fragment inside itself.
pub fn bound(document: &ExecutableDocument) -> ServerResult<()> {
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
        Code::QueryTooComplex,
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
        Code::GraphqlValidationFailed,
        "a fragment spreads itself, directly or through other fragments".to_owned(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(error: &ServerError) -> String {
        match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(code)) => code.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_long_chain_of_fragments_does_not_exhaust_the_stack() {
        let mut document = String::from("{ ...F0 }\n");
        for i in 0..20_000 {
            document.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        document.push_str("fragment F20000 on Query { __typename }\n");
        let error = bound(&async_graphql::parser::parse_query(&document).unwrap()).unwrap_err();
        assert_eq!(code(&error), Code::QueryTooComplex.as_str());
    }

    #[test]
    fn expansion_counts_each_spread_of_a_shared_fragment() {
        // 2 selections (`a`, `...B`) + 3 spreads of B, each 1 + 2 * 2 selections of C = 17.
        let document = "{ a: __typename ...B ...B ...B } fragment B on Query { ...C ...C } fragment C on Query { x: __typename y: __typename }";
        let parsed = async_graphql::parser::parse_query(document).unwrap();
        bound(&parsed).unwrap();
        let mut sizes = Sizes {
            fragments: &parsed.fragments,
            done: HashMap::new(),
        };
        assert_eq!(sizes.fragment("C").unwrap(), 2);
        assert_eq!(sizes.fragment("B").unwrap(), 6);
    }
}
