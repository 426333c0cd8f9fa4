//! The catalogue: reading items.

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    Order, PaginatorTrait, QueryFilter, Select,
};

use super::page::{self, Page, PageRequest};
use super::validate;
use crate::entity::items::{self, Column, Entity as Items};
use crate::error::AppError;

page::keyed!(items::Model);

/// One item by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<items::Model>, DbErr> {
    Items::find_by_id(id).one(db).await
}

/// The catalogue, newest first, optionally only names containing `search` (any case).
pub async fn list(
    db: &impl ConnectionTrait,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<items::Model>, AppError> {
    Ok(page::fetch(
        db,
        filtered(search)?,
        Column::CreatedAt,
        Column::Id,
        Order::Desc,
        page,
    )
    .await?)
}

/// How many items `list` would walk through in all.
pub async fn count(db: &impl ConnectionTrait, search: Option<&str>) -> Result<u64, AppError> {
    Ok(filtered(search)?.count(db).await?)
}

/// The longest search text, in characters (trimmed): a search is refused before any SQL runs
/// when longer (SQLite also refuses LIKE patterns over 50,000 bytes, as an internal error).
pub const SEARCH_MAX: usize = 200;

/// Items whose name contains `search` in any case: their case keys contain its case key.
fn filtered(search: Option<&str>) -> Result<Select<Items>, AppError> {
    let select = Items::find();
    let Some(term) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(select);
    };
    if term.chars().count() > SEARCH_MAX {
        return Err(AppError::bad_input(
            "search",
            format!("must be at most {SEARCH_MAX} characters long"),
        ));
    }
    Ok(select.filter(
        Expr::col((Items, Column::NameKey))
            .like(LikeExpr::new(contains_pattern(&validate::case_key(term))).escape('\\')),
    ))
}

/// `%key%`, with LIKE's wildcards in `key` taken literally.
fn contains_pattern(key: &str) -> String {
    let mut pattern = String::with_capacity(key.len() + 2);
    pattern.push('%');
    for c in key.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The longest item name.
pub const NAME_MAX: usize = 200;
/// The longest item description.
pub const DESCRIPTION_MAX: usize = 10_000;

/// Adds an item to the catalogue.
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    description: Option<&str>,
) -> Result<items::Model, AppError> {
    let row = items::ActiveModel {
        name: Set(validate::text("name", name, NAME_MAX)?),
        description: Set(validate::optional_text(
            "description",
            description,
            DESCRIPTION_MAX,
        )?),
        created_at: Set(super::now()),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Changes an item: `None` keeps a field; a `description` of `Some(None)` removes it.
pub async fn update(
    db: &impl ConnectionTrait,
    id: i64,
    name: Option<&str>,
    description: Option<Option<&str>>,
) -> Result<items::Model, AppError> {
    let item = Items::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "item" })?;
    let mut row = item.clone().into_active_model();
    if let Some(name) = name {
        row.name = Set(validate::text("name", name, NAME_MAX)?);
    }
    if let Some(description) = description {
        row.description = Set(validate::optional_text(
            "description",
            description,
            DESCRIPTION_MAX,
        )?);
    }
    if !row.is_changed() {
        return Ok(item);
    }
    Ok(row.update(db).await?)
}

/// Removes an item from the catalogue.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<(), AppError> {
    let result = Items::delete_by_id(id).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound { what: "item" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_terms_match_literally() {
        assert_eq!(super::contains_pattern("50% off_now"), "%50\\% off\\_now%");
    }
}
