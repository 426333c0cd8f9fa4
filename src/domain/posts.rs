//! Reading posts: the global feed, one author's posts, and the batched forms the GraphQL
//! loaders use so that a page of users or posts costs a fixed number of statements.

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Query, WindowStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, IntoActiveModel, Order, PaginatorTrait, QueryFilter, QuerySelect, Select,
};

use super::page::{self, Cursor, Keyed, Page, PageRequest};
use super::validate;
use crate::auth::Viewer;
use crate::entity::posts::{self, Column, Entity as Posts};
use crate::error::AppError;

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

/// The longest post title.
pub const TITLE_MAX: usize = 100;
/// The longest post body.
pub const BODY_MAX: usize = 20_000;

/// Publishes a post by `viewer`.
pub async fn create(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    title: &str,
    body: &str,
) -> Result<posts::Model, AppError> {
    let now = super::now();
    let row = posts::ActiveModel {
        title: Set(validate::text("title", title, TITLE_MAX)?),
        body: Set(validate::text("body", body, BODY_MAX)?),
        created_at: Set(now),
        updated_at: Set(now),
        author_id: Set(viewer.user.id),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Changes a post; only its author or an admin may. `None` keeps a field.
pub async fn update(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
    title: Option<&str>,
    body: Option<&str>,
) -> Result<posts::Model, AppError> {
    let post = editable(db, viewer, id).await?;
    let mut row = post.clone().into_active_model();
    if let Some(title) = title {
        row.title = Set(validate::text("title", title, TITLE_MAX)?);
    }
    if let Some(body) = body {
        row.body = Set(validate::text("body", body, BODY_MAX)?);
    }
    if !row.is_changed() {
        return Ok(post);
    }
    row.updated_at = Set(super::now());
    Ok(row.update(db).await?)
}

/// Deletes a post; only its author or an admin may.
pub async fn delete(db: &impl ConnectionTrait, viewer: &Viewer, id: i64) -> Result<(), AppError> {
    editable(db, viewer, id).await?;
    Posts::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// The post, if `viewer` may change it: `NOT_FOUND` when there is none, `FORBIDDEN` when it is
/// someone else's and the viewer is not an admin.
async fn editable(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i64,
) -> Result<posts::Model, AppError> {
    let post = Posts::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "post" })?;
    if post.author_id != viewer.user.id && !viewer.is_admin() {
        return Err(AppError::Forbidden);
    }
    Ok(post)
}
