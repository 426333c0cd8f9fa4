//! The catalogue: reading items.

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, Select,
};

use super::page::{self, Key, Page, PageRequest, Sort};
use super::validate;
use crate::entity::items::{self, Column, Entity as Items, ItemStatus};
use crate::error::AppError;

/// The orders the catalogue can be listed in.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ItemOrder {
    /// Newest first.
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// By name, A to Z in any case.
    Name,
}

impl ItemOrder {
    /// How rows are sorted in this order.
    pub fn sort(self) -> &'static Sort<items::Model> {
        const NEWEST: Sort<items::Model> = Sort {
            name: "items.NEWEST",
            column: "created_at",
            text: false,
            descending: true,
            key: |m| (Key::Time(m.created_at), m.id),
        };
        const OLDEST: Sort<items::Model> = Sort {
            name: "items.OLDEST",
            descending: false,
            ..NEWEST
        };
        const NAME: Sort<items::Model> = Sort {
            name: "items.NAME",
            column: "name_key",
            text: true,
            descending: false,
            key: |m| (Key::Text(m.name_key.clone()), m.id),
        };
        match self {
            Self::Newest => &NEWEST,
            Self::Oldest => &OLDEST,
            Self::Name => &NAME,
        }
    }
}

/// Which items a list shows; every part optional.
#[derive(async_graphql::InputObject, Clone, Debug, Default)]
pub struct ItemFilter {
    /// Only items whose name contains this text, in any case (`%`, `_` and `\` are matched as
    /// themselves).
    pub search: Option<String>,
    /// Only items in this state of circulation.
    pub status: Option<ItemStatus>,
}

/// One item by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<items::Model>, DbErr> {
    Items::find_by_id(id).one(db).await
}

/// A page of the catalogue in `order`, only the items `filter` lets through.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &ItemFilter,
    order: ItemOrder,
    page: &PageRequest,
) -> Result<Page<items::Model>, AppError> {
    page::fetch(db, filtered(filter)?, "items", order.sort(), page).await
}

/// How many items `list` would walk through in all.
pub async fn count(db: &impl ConnectionTrait, filter: &ItemFilter) -> Result<u64, AppError> {
    Ok(filtered(filter)?.count(db).await?)
}

/// Items whose name contains `search` in any case (their case keys contain its case key), and
/// in `status`.
fn filtered(filter: &ItemFilter) -> Result<Select<Items>, AppError> {
    let mut select = Items::find();
    if let Some(pattern) = validate::search_pattern("search", filter.search.as_deref())? {
        select = select
            .filter(Expr::col((Items, Column::NameKey)).like(LikeExpr::new(pattern).escape('\\')));
    }
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status));
    }
    Ok(select)
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
