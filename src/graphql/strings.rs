//! Strings no field accepts, refused before validation or execution: a NUL character (U+0000),
//! which PostgreSQL cannot store in text (an internal error) and SQLite takes for the end of a
//! LIKE pattern (so a search for it matched everything). One walk over the request's variables
//! and the document's literal values finds the first; the refusal is `BAD_USER_INPUT` with
//! `extensions.field` naming the argument or variable and the path inside it (`input.title`,
//! `ids[2]`). A variable is checked even when no operation uses it: simpler, and never needed.

use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Pos, Positioned, ServerError, ServerResult, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::error::Code;

/// Refuses the first string in `variables` or in `document`'s literals that contains a NUL.
pub fn check(document: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    let mut path = String::new();
    for (name, value) in variables.iter() {
        path.clear();
        path.push_str(name);
        if const_value(value, &mut path) {
            return Err(refuse(&path, None));
        }
    }
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        for definition in &operation.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                path.clear();
                path.push_str(&definition.node.name.node);
                if const_value(&default.node, &mut path) {
                    return Err(refuse(&path, Some(default.pos)));
                }
            }
            directives(&definition.node.directives, &mut path)?;
        }
        directives(&operation.directives, &mut path)?;
        selection_set(&operation.selection_set, &mut path)?;
    }
    for fragment in document.fragments.values() {
        directives(&fragment.node.directives, &mut path)?;
        selection_set(&fragment.node.selection_set, &mut path)?;
    }
    Ok(())
}

fn selection_set(set: &Positioned<SelectionSet>, path: &mut String) -> ServerResult<()> {
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) => {
                arguments(&field.node.arguments, path)?;
                directives(&field.node.directives, path)?;
                selection_set(&field.node.selection_set, path)?;
            }
            Selection::InlineFragment(fragment) => {
                directives(&fragment.node.directives, path)?;
                selection_set(&fragment.node.selection_set, path)?;
            }
            Selection::FragmentSpread(spread) => directives(&spread.node.directives, path)?,
        }
    }
    Ok(())
}

fn directives(directives: &[Positioned<Directive>], path: &mut String) -> ServerResult<()> {
    for directive in directives {
        arguments(&directive.node.arguments, path)?;
    }
    Ok(())
}

fn arguments(
    arguments: &[(Positioned<Name>, Positioned<Value>)],
    path: &mut String,
) -> ServerResult<()> {
    for (name, value) in arguments {
        path.clear();
        path.push_str(&name.node);
        if literal(&value.node, path) {
            return Err(refuse(path, Some(value.pos)));
        }
    }
    Ok(())
}

/// Whether a literal holds a NUL; if so, `path` leads to it.
fn literal(value: &Value, path: &mut String) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::List(items) => items
            .iter()
            .enumerate()
            .any(|(i, item)| within(path, &format!("[{i}]"), |p| literal(item, p))),
        Value::Object(fields) => fields
            .iter()
            .any(|(name, item)| within(path, &format!(".{name}"), |p| literal(item, p))),
        _ => false,
    }
}

/// Whether a variable's value (or a default) holds a NUL; if so, `path` leads to it.
fn const_value(value: &ConstValue, path: &mut String) -> bool {
    match value {
        ConstValue::String(s) => s.contains('\0'),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .any(|(i, item)| within(path, &format!("[{i}]"), |p| const_value(item, p))),
        ConstValue::Object(fields) => fields
            .iter()
            .any(|(name, item)| within(path, &format!(".{name}"), |p| const_value(item, p))),
        _ => false,
    }
}

/// Runs `found` with `segment` appended to `path`, keeping it there only when it found a NUL.
fn within(path: &mut String, segment: &str, found: impl FnOnce(&mut String) -> bool) -> bool {
    let length = path.len();
    path.push_str(segment);
    if found(path) {
        return true;
    }
    path.truncate(length);
    false
}

fn refuse(field: &str, pos: Option<Pos>) -> ServerError {
    let mut error = ServerError::new(
        format!("`{field}` must not contain a NUL character (U+0000)"),
        pos,
    );
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", Code::BadUserInput.as_str());
    extensions.set("field", field);
    error
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::json;

    use super::*;

    fn refused_field(query: &str, variables: serde_json::Value) -> Option<String> {
        let document = parse_query(query).unwrap();
        let variables = Variables::from_json(variables);
        check(&document, &variables).err().map(|e| {
            let ext = e.extensions.unwrap();
            assert_eq!(
                ext.get("code"),
                Some(&ConstValue::from(Code::BadUserInput.as_str()))
            );
            match ext.get("field") {
                Some(ConstValue::String(field)) => field.clone(),
                other => panic!("a field: {other:?}"),
            }
        })
    }

    #[test]
    fn the_first_nul_anywhere_is_named_by_its_path() {
        let cases = [
            (r#"{ a(x: "ok", y: "n\u0000") }"#, json!({}), "y"),
            (
                r#"{ a { b(in: { l: ["", "\u0000"] }) } }"#,
                json!({}),
                "in.l[1]",
            ),
            (r#"{ a @include(if: "\u0000") }"#, json!({}), "if"),
            (r#"query($v: String = "\u0000") { a }"#, json!({}), "v"),
            (
                r#"{ ...F } fragment F on Q { a(x: "\u0000") }"#,
                json!({}),
                "x",
            ),
            (
                "{ a }",
                json!({ "v": { "w": [{ "x": "\u{0}" }] } }),
                "v.w[0].x",
            ),
        ];
        for (query, variables, field) in cases {
            assert_eq!(
                refused_field(query, variables).as_deref(),
                Some(field),
                "{query}"
            );
        }
        assert_eq!(
            refused_field(
                r#"{ a(x: "\\u0000 is fine escaped", y: 1) }"#,
                json!({ "v": "é" })
            ),
            None
        );
    }
}
