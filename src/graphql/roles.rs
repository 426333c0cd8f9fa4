//! `@requiresRole`: one declaration, two effects. A field marked
//! `#[graphql(directive = requiresRole::apply(Role::Admin))]` shows the directive in the SDL, and
//! [`refusal`] (run for every field by the schema's extension) enforces exactly what the SDL says:
//! the rules are read back from the printed schema, so the schema and the enforcement cannot
//! drift apart.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{ExtensionContext, ResolveInfo};
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use async_graphql::{PathSegment, ServerError, TypeDirective};

use super::context::Identity;
use super::user::Role;
use crate::error::AppError;

/// Marks a field that only users of `role` may use (the server enforces it).
#[TypeDirective(location = "FieldDefinition")]
pub fn requiresRole(role: Role) {}

/// type → field → the role it requires, as read from the SDL (looked up for every field resolved,
/// so by `&str`, without allocating).
#[derive(Debug, Default, Clone)]
pub struct RoleRules(HashMap<String, HashMap<String, Role>>);

impl RoleRules {
    /// Reads every `@requiresRole(role: …)` of `sdl`.
    pub fn from_sdl(sdl: &str) -> Result<Self, String> {
        let doc = async_graphql::parser::parse_schema(sdl).map_err(|e| e.to_string())?;
        let mut rules = HashMap::new();
        for definition in doc.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let TypeKind::Object(object) = &ty.node.kind else {
                continue;
            };
            for field in &object.fields {
                for directive in &field.node.directives {
                    if directive.node.name.node != "requiresRole" {
                        continue;
                    }
                    let role = directive
                        .node
                        .get_argument("role")
                        .and_then(|v| match &v.node {
                            async_graphql::Value::Enum(name) => Role::from_sdl(name.as_str()),
                            _ => None,
                        })
                        .ok_or_else(|| format!("{}: bad @requiresRole", field.node.name.node))?;
                    rules
                        .entry(ty.node.name.node.to_string())
                        .or_insert_with(HashMap::new)
                        .insert(field.node.name.node.to_string(), role);
                }
            }
        }
        Ok(Self(rules))
    }

    /// The role `type.field` requires, if any.
    pub fn get(&self, type_name: &str, field: &str) -> Option<Role> {
        self.0.get(type_name)?.get(field).copied()
    }
}

/// The refusal of a guarded field, before its resolver runs: `UNAUTHENTICATED` without a
/// session, `FORBIDDEN` with the wrong role; `None` when the field may run.
pub fn refusal(
    rules: &RoleRules,
    ctx: &ExtensionContext<'_>,
    info: &ResolveInfo<'_>,
) -> Option<ServerError> {
    let required = rules.get(info.parent_type, info.name)?;
    let identity = ctx.data_opt::<Identity>();
    let error = match identity.map(Identity::role) {
        None | Some(Err(AppError::Unauthenticated)) => AppError::Unauthenticated,
        Some(Err(other)) => other,
        Some(Ok(role)) if role != required => AppError::Forbidden,
        Some(Ok(_)) => return None,
    };
    Some(field_error(error, info))
}

/// `error` as the error of the field `info` describes, refused before its resolver ran.
pub fn field_error(error: AppError, info: &ResolveInfo<'_>) -> ServerError {
    let mut server_error = ServerError::new(error.to_string(), None);
    server_error.path = info
        .path_node
        .to_string_vec()
        .into_iter()
        .map(PathSegment::Field)
        .collect();
    server_error.source = Some(Arc::new(error));
    server_error
}
