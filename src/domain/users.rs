//! Reading users.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Select,
    Statement,
};

use super::page::{self, Key, Page, PageRequest, Sort};
use super::validate;
use crate::entity::users::{self, Column, Entity as Users};
use crate::error::AppError;

/// The orders the members can be listed in.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UserOrder {
    /// Oldest members first.
    #[default]
    Oldest,
    /// Newest members first.
    Newest,
    /// By username, A to Z in any case.
    Username,
}

impl UserOrder {
    /// How rows are sorted in this order.
    pub fn sort(self) -> &'static Sort<users::Model> {
        const OLDEST: Sort<users::Model> = Sort {
            name: "users.OLDEST",
            column: "created_at",
            text: false,
            descending: false,
            key: |m| (Key::Time(m.created_at), m.id),
        };
        const NEWEST: Sort<users::Model> = Sort {
            name: "users.NEWEST",
            descending: true,
            ..OLDEST
        };
        const USERNAME: Sort<users::Model> = Sort {
            name: "users.USERNAME",
            column: "username_key",
            text: true,
            descending: false,
            key: |m| (Key::Text(m.username_key.clone()), m.id),
        };
        match self {
            Self::Oldest => &OLDEST,
            Self::Newest => &NEWEST,
            Self::Username => &USERNAME,
        }
    }
}

/// Which members a list shows.
#[derive(async_graphql::InputObject, Clone, Debug, Default)]
pub struct UserFilter {
    /// Only members whose username contains this text, in any case (`%`, `_` and `\` are
    /// matched as themselves).
    pub search: Option<String>,
}

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

/// A page of the members in `order`, only those `filter` lets through.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &UserFilter,
    order: UserOrder,
    page: &PageRequest,
) -> Result<Page<users::Model>, AppError> {
    page::fetch(db, filtered(filter)?, "users", order.sort(), page).await
}

/// How many members `list` would walk through in all.
pub async fn count(db: &impl ConnectionTrait, filter: &UserFilter) -> Result<u64, AppError> {
    Ok(filtered(filter)?.count(db).await?)
}

fn filtered(filter: &UserFilter) -> Result<Select<Users>, AppError> {
    let select = Users::find();
    Ok(
        match validate::search_pattern("search", filter.search.as_deref())? {
            Some(pattern) => select.filter(
                Expr::col((Users, Column::UsernameKey)).like(LikeExpr::new(pattern).escape('\\')),
            ),
            None => select,
        },
    )
}
