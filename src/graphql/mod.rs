//! The GraphQL schema: per-domain query roots merged into one, the error-code mapping, the
//! request-scoped loaders, and the SDL printer that `schema.graphql` is made with.

mod connection;
mod context;
mod errors;
mod item;
pub mod loaders;
mod post;
mod prefetch;
mod user;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, SDLExportOptions, Schema};
use sea_orm::DatabaseConnection;

pub use errors::ErrorCodes;

/// The root of every query.
#[derive(MergedObject, Default)]
pub struct Query(item::ItemQuery, post::PostQuery, user::UserQuery);

/// The schema type the server executes.
pub type AppSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Builds the schema. `db` is absent only where nothing is executed (printing the SDL).
pub fn build(db: Option<DatabaseConnection>) -> AppSchema {
    let mut builder =
        Schema::build(Query::default(), EmptyMutation, EmptySubscription).extension(ErrorCodes);
    if let Some(db) = db {
        builder = builder.data(db);
    }
    builder.finish()
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
