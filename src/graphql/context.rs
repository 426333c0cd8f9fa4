//! Small helpers for resolvers: the database, the request's loaders, and ID parsing.

use async_graphql::{Context, ID};
use sea_orm::DatabaseConnection;

use super::loaders::Loaders;
use crate::error::AppError;

/// What a resolver reads from its context.
pub trait ContextExt {
    /// The connection pool.
    fn db(&self) -> Result<&DatabaseConnection, AppError>;
    /// This request's batch loaders.
    fn loaders(&self) -> Result<&Loaders, AppError>;
}

impl ContextExt for Context<'_> {
    fn db(&self) -> Result<&DatabaseConnection, AppError> {
        self.data::<DatabaseConnection>()
            .map_err(|e| AppError::internal(e.message))
    }

    fn loaders(&self) -> Result<&Loaders, AppError> {
        self.data::<Loaders>()
            .map_err(|e| AppError::internal(e.message))
    }
}

/// Reads a numeric `ID` argument; anything else is `BAD_USER_INPUT` on `field`.
pub fn parse_id(field: &str, id: &ID) -> Result<i64, AppError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::bad_input(field, format!("`{}` is not a valid id", id.as_str())))
}
