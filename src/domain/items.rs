//! The catalogue: reading items.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    Order, PaginatorTrait, QueryFilter, Select,
};

use super::page::{self, Cursor, Keyed, Page, PageRequest};
use super::validate;
use crate::entity::items::{self, Column, Entity as Items};
use crate::error::AppError;

impl Keyed for items::Model {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// One item by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<items::Model>, DbErr> {
    Items::find_by_id(id).one(db).await
}

/// The catalogue, newest first, optionally only names containing `search` (any case).
pub async fn list(
    db: &impl ConnectionTrait,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<items::Model>, DbErr> {
    page::fetch(
        db,
        filtered(search),
        Column::CreatedAt,
        Column::Id,
        Order::Desc,
        page,
    )
    .await
}

/// How many items `list` would walk through in all.
pub async fn count(db: &impl ConnectionTrait, search: Option<&str>) -> Result<u64, DbErr> {
    filtered(search).count(db).await
}

fn filtered(search: Option<&str>) -> Select<Items> {
    let select = Items::find();
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        None => select,
        Some(term) => select.filter(
            Expr::expr(Func::lower(Expr::col((Items, Column::Name))))
                .like(LikeExpr::new(contains_pattern(term)).escape('\\')),
        ),
    }
}

/// `%term%` in lower case, with LIKE's wildcards in `term` taken literally.
fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.to_lowercase().chars() {
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
        assert_eq!(super::contains_pattern("50% Off_Now"), "%50\\% off\\_now%");
    }
}
