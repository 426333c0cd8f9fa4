//! tkc-library's schema, as an ordered list of reversible migrations that run unchanged on SQLite
//! and PostgreSQL. Never edit a migration that has shipped: add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_users;
mod m20261121_000002_create_posts;
mod m20261121_000003_create_items;
mod m20261121_000004_create_sessions;
mod m20261121_000005_create_login_failures;
mod m20261122_000010_add_login_attempt_columns;
mod m20261122_000020_add_case_keys;
mod m20261122_000030_create_lending;
mod m20261122_000040_list_orders;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users::Migration),
            Box::new(m20261121_000002_create_posts::Migration),
            Box::new(m20261121_000003_create_items::Migration),
            Box::new(m20261121_000004_create_sessions::Migration),
            Box::new(m20261121_000005_create_login_failures::Migration),
            Box::new(m20261122_000010_add_login_attempt_columns::Migration),
            Box::new(m20261122_000020_add_case_keys::Migration),
            Box::new(m20261122_000030_create_lending::Migration),
            Box::new(m20261122_000040_list_orders::Migration),
        ]
    }
}
