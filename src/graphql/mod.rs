//! The GraphQL schema: per-domain roots merged into one, the role directive and its guard, the
//! error-code mapping, the request-scoped loaders, the SDL printer that `schema.graphql` is made
//! with, and the admission every operation passes first (persisted and trusted documents, cost
//! limits, introspection refused when off).

mod admission;
mod auth;
pub mod budget;
pub mod circulation;
mod connection;
pub mod context;
pub mod documents;
mod errors;
mod expansion;
mod fields;
mod item;
mod lending;
mod limits;
mod live;
pub mod loaders;
pub mod persisted;
mod post;
pub mod roles;
mod strings;
mod user;

use async_graphql::{MergedObject, SDLExportOptions, Schema};
use sea_orm::DatabaseConnection;

use crate::config::Config;

pub use admission::Admission;
pub use errors::{finish, is_request_error, refusal};

/// The root of every query.
#[derive(MergedObject, Default)]
pub struct Query(
    item::ItemQuery,
    lending::LendingQuery,
    post::PostQuery,
    user::UserQuery,
    auth::AuthQuery,
);

/// The root of every mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    item::ItemMutation,
    lending::LendingMutation,
    post::PostMutation,
    user::UserMutation,
);

/// The schema type the server executes.
pub type AppSchema = Schema<Query, Mutation, live::Subscription>;

/// What executing the schema needs.
pub struct Services {
    pub db: DatabaseConnection,
    pub auth: crate::auth::AuthServices,
    /// The lending rules (`LOAN_PERIOD` and the rest).
    pub lending: crate::config::Lending,
    /// The time the lending rules go by.
    pub clock: crate::clock::Clock,
    /// Where mutations announce what they changed.
    pub bus: crate::domain::events::Bus,
    /// What live subscriptions listen to.
    pub hub: crate::live::Hub,
}

/// How the schema behaves: production hides introspection. (The cost limits are checked before
/// the schema sees a request, and a document asking for introspection when it is off is refused
/// there: [`Admission`].)
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub introspection: bool,
}

impl Options {
    pub fn from_config(config: &Config) -> Self {
        Self {
            introspection: config.graphql.introspection,
        }
    }
}

/// Builds the schema. It has no extension, so that async-graphql resolves each field on its fast
/// path: the limits are checked before execution ([`Admission`]), `@requiresRole` by field guards
/// ([`roles`]) and the error codes after it ([`finish`]).
pub fn build(services: Services, options: Options) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), live::Subscription);
    if !options.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder
        .data(services.db)
        .data(services.auth)
        .data(services.lending)
        .data(services.clock)
        .data(services.bus)
        .data(services.hub)
        .finish()
}

/// The schema as `schema.graphql` shows it: every type, for printing (it is never executed).
pub fn printable() -> AppSchema {
    Schema::build(Query::default(), Mutation::default(), live::Subscription).finish()
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

/// The type of the operation an admitted request would run.
pub fn operation_type(
    request: &mut async_graphql::Request,
) -> Option<async_graphql::parser::types::OperationType> {
    let name = request.operation_name.clone();
    let doc = request.parsed_query().ok()?;
    let operation = match &name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => doc.operations.iter().next().map(|(_, op)| op),
    };
    operation.map(|op| op.node.ty)
}
