//! Reading posts: the global feed, one author's posts, and the batched forms the GraphQL
//! loaders use so that a page of users or posts costs a fixed number of statements.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, FromQueryResult, IntoActiveModel, Order, PaginatorTrait, QueryFilter, QuerySelect,
    Select, Statement,
};

use super::page::{self, Page, PageRequest};
use super::validate;
use crate::auth::Viewer;
use crate::entity::posts::{self, Column, Entity as Posts};
use crate::error::AppError;

page::keyed!(posts::Model);

/// Posts by id, oldest first, in one statement.
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<posts::Model>, DbErr> {
    let sql = format!(
        "SELECT * FROM posts WHERE {} ORDER BY id",
        page::in_ids(db, "id")
    );
    Posts::find()
        .from_raw_sql(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [page::ids_value(ids)],
        ))
        .all(db)
        .await
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
    with_body: bool,
) -> Result<Page<posts::Model>, DbErr> {
    let mut select = filtered(author_id);
    if !with_body {
        // A title list: the bodies stay in the database (the field is never resolved).
        select = select
            .select_only()
            .columns([
                Column::Id,
                Column::Title,
                Column::CreatedAt,
                Column::UpdatedAt,
                Column::AuthorId,
            ])
            .column_as(Expr::value(""), "body");
    }
    page::fetch(db, select, Column::CreatedAt, Column::Id, Order::Desc, page).await
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
    let sql = format!(
        "SELECT author_id, COUNT(*) AS n FROM posts WHERE {} GROUP BY author_id",
        page::in_ids(db, "author_id")
    );
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [page::ids_value(author_ids)],
    ))
    .all(db)
    .await?;
    let mut counts: HashMap<i64, u64> = author_ids.iter().map(|&id| (id, 0)).collect();
    counts.extend(
        rows.into_iter()
            .map(|r| (r.author_id, u64::try_from(r.n).unwrap_or(0))),
    );
    Ok(counts)
}

/// The same page of posts for each of `author_ids`, in one statement that walks the
/// `(author_id, created_at, id)` index once per author and stops after `page.first + 1` rows (the
/// extra row, cut by [`Page::from_overfetch`], tells whether more follow): on PostgreSQL a
/// `LATERAL` join, on SQLite a correlated `IN` list (its plan: one index search per author, then
/// the posts by primary key). The ids travel as one JSON array, so the text is the same for any
/// number of authors and the prepared statement is reused; `body` is read only if `with_body`.
pub async fn page_by_author(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
    page: &PageRequest,
    with_body: bool,
) -> Result<HashMap<i64, Vec<posts::Model>>, DbErr> {
    let backend = db.get_database_backend();
    let body = if with_body { "p.body" } else { "'' AS body" };
    let mut values = vec![page::ids_value(author_ids), (page.first + 1).into()];
    let postgres = backend == DbBackend::Postgres;
    let after = match page.after {
        Some(cursor) => {
            values.extend([cursor.created_at.into(), cursor.id.into()]);
            if postgres {
                " AND (q.created_at, q.id) < ($3, $4)"
            } else {
                " AND (q.created_at, q.id) < (?3, ?4)"
            }
        }
        None => "",
    };
    let columns = format!("p.id, p.title, {body}, p.created_at, p.updated_at, p.author_id");
    let sql = if postgres {
        format!(
            "SELECT {columns} FROM json_array_elements_text($1::json) AS a(id) CROSS JOIN LATERAL \
             (SELECT q.id, q.title, q.body, q.created_at, q.updated_at, q.author_id FROM posts AS q \
              WHERE q.author_id = a.id::bigint{after} \
              ORDER BY q.created_at DESC, q.id DESC LIMIT $2) AS p"
        )
    } else {
        format!(
            "SELECT {columns} FROM json_each(?1) AS a JOIN posts AS p ON p.id IN \
             (SELECT q.id FROM posts AS q WHERE q.author_id = a.value{after} \
              ORDER BY q.created_at DESC, q.id DESC LIMIT ?2)"
        )
    };
    let rows = Posts::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;

    let mut by_author: HashMap<i64, Vec<posts::Model>> =
        author_ids.iter().map(|&id| (id, Vec::new())).collect();
    for row in rows {
        by_author.entry(row.author_id).or_default().push(row);
    }
    // Each author's rows newest first, whatever order the join returned them in.
    for rows in by_author.values_mut() {
        rows.sort_unstable_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));
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
