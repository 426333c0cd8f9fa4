//! `@requiresRole`: one declaration, two effects. A resolver method marked
//! `#[requires_role(Admin)]`, in an `impl` marked `#[resolvers]` (the `tkc-macros` crate), gets
//! both the directive, which the SDL shows, and [`RoleGuard`], which async-graphql runs before the
//! resolver: the schema and the enforcement cannot drift apart, and no hook runs for every field.

use async_graphql::{Context, Guard, TypeDirective};

use super::context::ContextExt;
use super::user::Role;
use crate::error::AppError;

/// Marks a field that only users of `role` may use (the server enforces it).
#[TypeDirective(location = "FieldDefinition")]
pub fn requiresRole(role: Role) {}

/// Refuses a field before its resolver runs: `UNAUTHENTICATED` without a session, `FORBIDDEN`
/// with another role (`SERVICE_UNAVAILABLE` when the session could not be checked).
pub struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match ctx.identity().role() {
            Ok(role) if role == self.0 => Ok(()),
            Ok(_) => Err(AppError::Forbidden.into()),
            Err(refused) => Err(refused.into()),
        }
    }
}
