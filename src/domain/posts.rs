//! Reading posts: the global feed, one author's posts, and the batched forms the GraphQL
//! loaders use so that a page of users or posts costs a fixed number of statements.

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Query, WindowStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Order, PaginatorTrait,
    QueryFilter, QuerySelect, Select,
};

use super::page::{self, Cursor, Keyed, Page, PageRequest};
use crate::entity::posts::{self, Column, Entity as Posts};

impl Keyed for posts::Model {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// One post by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<posts::Model>, DbErr> {
    Posts::find_by_id(id).one(db).await
}

/// All posts (or one author's), newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    author_id: Option<i64>,
    page: &PageRequest,
) -> Result<Page<posts::Model>, DbErr> {
    page::fetch(
        db,
        filtered(author_id),
        Column::CreatedAt,
        Column::Id,
        Order::Desc,
        page,
    )
    .await
}

/// How many posts `list` would walk through in all.
pub async fn count(db: &impl ConnectionTrait, author_id: Option<i64>) -> Result<u64, DbErr> {
    filtered(author_id).count(db).await
}

fn filtered(author_id: Option<i64>) -> Select<Posts> {
    match author_id {
        Some(id) => Posts::find().filter(Column::AuthorId.eq(id)),
        None => Posts::find(),
    }
}

/// The number of posts of each of `author_ids`, in one query (authors without posts get 0).
pub async fn count_by_author(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
) -> Result<HashMap<i64, u64>, DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        author_id: i64,
        n: i64,
    }
    let rows = Posts::find()
        .select_only()
        .column(Column::AuthorId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(Column::AuthorId.is_in(author_ids.iter().copied()))
        .group_by(Column::AuthorId)
        .into_model::<Row>()
        .all(db)
        .await?;
    let mut counts: HashMap<i64, u64> = author_ids.iter().map(|&id| (id, 0)).collect();
    counts.extend(
        rows.into_iter()
            .map(|r| (r.author_id, u64::try_from(r.n).unwrap_or(0))),
    );
    Ok(counts)
}

/// The same page of posts for each of `author_ids`, in one query: a window function numbers each
/// author's posts newest first and keeps the first `page.first + 1` of each (the extra row, cut
/// by [`Page::from_overfetch`], tells whether more follow).
pub async fn page_by_author(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
    page: &PageRequest,
) -> Result<HashMap<i64, Vec<posts::Model>>, DbErr> {
    let rank = Alias::new("rank_in_author");
    let mut numbered = Query::select();
    numbered
        .column(Asterisk)
        .expr_window_as(
            Func::cust("ROW_NUMBER"),
            WindowStatement::partition_by(Column::AuthorId)
                .order_by(Column::CreatedAt, Order::Desc)
                .order_by(Column::Id, Order::Desc)
                .to_owned(),
            rank.clone(),
        )
        .from(Posts)
        .and_where(Expr::col(Column::AuthorId).is_in(author_ids.iter().copied()));
    if let Some(cursor) = page.after {
        numbered.and_where(page::after_condition(
            Column::CreatedAt,
            Column::Id,
            &Order::Desc,
            cursor,
        ));
    }
    let query = Query::select()
        .column(Asterisk)
        .from_subquery(numbered, Alias::new("numbered"))
        .and_where(Expr::col(rank.clone()).lte(page.first + 1))
        .order_by(rank, Order::Asc)
        .to_owned();

    let rows = Posts::find()
        .from_raw_sql(db.get_database_backend().build(&query))
        .all(db)
        .await?;

    let mut by_author: HashMap<i64, Vec<posts::Model>> =
        author_ids.iter().map(|&id| (id, Vec::new())).collect();
    for row in rows {
        by_author.entry(row.author_id).or_default().push(row);
    }
    Ok(by_author)
}
