//! SeaORM entities, one per table, in the shape the code generator would write.
//! Business rules live in `domain/`; these are rows and relations only.

pub mod items;
pub mod posts;
pub mod users;
