//! SeaORM entities, one per table, in the shape the code generator would write.
//! Business rules live in `domain/`; these are rows and relations only.

pub mod holds;
pub mod items;
pub mod loans;
pub mod login_failures;
pub mod posts;
pub mod sessions;
pub mod users;
