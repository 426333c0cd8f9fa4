//! The GraphQL schema: per-domain roots merged into one, the role directive and its guard, the
//! error-code mapping, the request-scoped loaders, and the SDL printer that `schema.graphql` is
//! made with.

mod auth;
mod connection;
pub mod context;
mod errors;
mod item;
pub mod loaders;
mod post;
mod prefetch;
pub mod roles;
mod user;

use async_graphql::{EmptySubscription, MergedObject, SDLExportOptions, Schema};
use sea_orm::DatabaseConnection;

pub use errors::ErrorCodes;
pub use roles::{RoleGuard, RoleRules};

/// The root of every query.
#[derive(MergedObject, Default)]
pub struct Query(
    item::ItemQuery,
    post::PostQuery,
    user::UserQuery,
    auth::AuthQuery,
);

/// The root of every mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    item::ItemMutation,
    post::PostMutation,
    user::UserMutation,
);

/// The schema type the server executes.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// What executing the schema needs: absent only where nothing is executed (printing the SDL).
pub struct Services {
    pub db: DatabaseConnection,
    pub auth: context::AuthServices,
}

/// Builds the schema, with `@requiresRole` enforced as the printed SDL declares it.
pub fn build(services: Option<Services>) -> AppSchema {
    // The rules come from the SDL of the very same types, so they cannot differ from it.
    let rules = RoleRules::from_sdl(&sdl(&bare()))
        .unwrap_or_else(|e| unreachable!("the schema's own SDL parses: {e}"));
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .extension(ErrorCodes)
        .extension(RoleGuard::new(rules));
    if let Some(services) = services {
        builder = builder.data(services.db).data(services.auth);
    }
    builder.finish()
}

fn bare() -> AppSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).finish()
}

/// The SDL as committed in `schema.graphql`: fields and enum values sorted, so it is stable.
pub fn sdl(schema: &AppSchema) -> String {
    schema.sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}
