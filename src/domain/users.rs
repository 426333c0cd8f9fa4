//! Reading users.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter, Statement,
};

use super::page::{self, Page, PageRequest};
use super::validate;
use crate::entity::users::{self, Column, Entity as Users};

page::keyed!(users::Model);

/// One user by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<users::Model>, DbErr> {
    Users::find_by_id(id).one(db).await
}

/// One user by username, in any case (usernames are unique by their case key).
pub async fn by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<users::Model>, DbErr> {
    let username = username.trim();
    // Longer than any username: nobody, and no query.
    if username.chars().count() > validate::USERNAME_MAX {
        return Ok(None);
    }
    Users::find()
        .filter(Column::UsernameKey.eq(validate::case_key(username)))
        .one(db)
        .await
}

/// Many users by id, in one query.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, users::Model>, DbErr> {
    // One statement text for any number of ids (see `page::ids_value`).
    let sql = format!("SELECT * FROM users WHERE {}", page::in_ids(db, "id"));
    let rows = Users::find()
        .from_raw_sql(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [page::ids_value(ids)],
        ))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// All users, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &PageRequest,
) -> Result<Page<users::Model>, DbErr> {
    page::fetch(
        db,
        Users::find(),
        Column::CreatedAt,
        Column::Id,
        Order::Asc,
        page,
    )
    .await
}

/// How many users there are.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Users::find().count(db).await
}
