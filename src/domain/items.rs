//! The catalogue: reading items.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter, Select};

use super::page::{self, Cursor, Keyed, Page, PageRequest};
use crate::entity::items::{self, Column, Entity as Items};

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

#[cfg(test)]
mod tests {
    #[test]
    fn search_terms_match_literally() {
        assert_eq!(super::contains_pattern("50% Off_Now"), "%50\\% off\\_now%");
    }
}
