//! Reading posts: the global feed, one author's posts, and the batched forms the GraphQL
//! loaders use so that a page of users or posts costs a fixed number of statements.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect, Select, Statement,
};

use super::page::{self, Key, Page, PageRequest, Sort};
use super::validate::{self, case_key};
use crate::auth::Viewer;
use crate::entity::posts::{self, Column, Entity as Posts};
use crate::error::AppError;

mod by_author;

pub use by_author::{check_author_page, count_by_author, page_by_author};

/// The orders posts can be listed in.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PostOrder {
    /// Newest first.
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
}

impl PostOrder {
    /// How rows are sorted in this order.
    pub fn sort(self) -> &'static Sort<posts::Model> {
        match self {
            Self::Newest => &NEWEST,
            Self::Oldest => &OLDEST,
        }
    }
}

const NEWEST: Sort<posts::Model> = Sort {
    name: "posts.NEWEST",
    column: "created_at",
    text: false,
    descending: true,
    key: |m| (Key::Time(m.created_at), m.id),
};
const OLDEST: Sort<posts::Model> = Sort {
    name: "posts.OLDEST",
    descending: false,
    ..NEWEST
};

/// Which posts a list shows; every part optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostFilter {
    pub author_id: Option<i64>,
    /// Text the title or the body contains, in any case.
    pub search: Option<String>,
    /// Only posts written after this instant (excluded).
    pub created_after: Option<DateTime<Utc>>,
    /// Only posts written before this instant (excluded).
    pub created_before: Option<DateTime<Utc>>,
}

/// Posts by id, oldest first, in one statement.
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<posts::Model>, DbErr> {
    let sql = format!(
        "SELECT id, title, body, created_at, updated_at, author_id FROM posts WHERE {} ORDER BY id",
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

/// A page of posts in `order`, only those `filter` lets through (`with_body`: with their bodies).
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &PostFilter,
    order: PostOrder,
    page: &PageRequest,
    with_body: bool,
) -> Result<Page<posts::Model>, AppError> {
    let mut select = filtered(filter)?;
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
    page::fetch(db, select, "posts", order.sort(), page).await
}

/// How many posts `list` would walk through in all.
pub async fn count(db: &impl ConnectionTrait, filter: &PostFilter) -> Result<u64, AppError> {
    Ok(filtered(filter)?.count(db).await?)
}

fn filtered(filter: &PostFilter) -> Result<Select<Posts>, AppError> {
    let mut select = Posts::find();
    if let Some(id) = filter.author_id {
        select = select.filter(Column::AuthorId.eq(id));
    }
    if let Some(pattern) = validate::search_pattern("search", filter.search.as_deref())? {
        // `search_key`: the title's and the body's case keys (see `search_key`), kept by `create`
        // and `update`.
        select = select.filter(
            Expr::col((Posts, Alias::new("search_key"))).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(after) = filter.created_after {
        select = select.filter(Column::CreatedAt.gt(after));
    }
    if let Some(before) = filter.created_before {
        select = select.filter(Column::CreatedAt.lt(before));
    }
    Ok(select)
}

/// What a post's `search` looks in: its title's and body's case keys, one per line.
fn search_key(title: &str, body: &str) -> String {
    format!("{}\n{}", case_key(title), case_key(body))
}

/// Stores a post's search key (a column the entity leaves out, so that reading posts never
/// fetches it).
pub async fn index_for_search(db: &impl ConnectionTrait, post: &posts::Model) -> Result<(), DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "UPDATE posts SET search_key = $1 WHERE id = $2",
        _ => "UPDATE posts SET search_key = ?1 WHERE id = ?2",
    };
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [search_key(&post.title, &post.body).into(), post.id.into()],
    ))
    .await?;
    Ok(())
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
    let post = row.insert(db).await?;
    index_for_search(db, &post).await?;
    Ok(post)
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
    let post = row.update(db).await?;
    index_for_search(db, &post).await?;
    Ok(post)
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
