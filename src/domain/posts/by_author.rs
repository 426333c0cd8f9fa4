//! A page of posts for each of many authors at once, and their post counts: what a page of users
//! loads ahead so that its `posts` fields cost one statement whatever the page size.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, Statement};

use super::NEWEST;
use crate::domain::page::{self, Key, Page, PageRequest, Side};
use crate::entity::posts::{self, Entity as Posts};
use crate::error::AppError;

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

/// The same page of posts (newest first) for each of `author_ids`, in one statement that walks
/// the `(author_id, created_at, id)` index once per author and stops after `page.size + 1` rows
/// (the extra row, cut by [`Page::cut`], tells whether more follow): on PostgreSQL a `LATERAL`
/// join, on SQLite a correlated `IN` list (its plan: one index search per author, then the posts
/// by primary key). A backward page walks each author's index the other way. The ids travel as
/// one JSON array, so the text is the same for any number of authors and the prepared statement
/// is reused; `body` is read only if `with_body`. When the page is `exact` and starts from a
/// cursor, a second statement finds the authors with posts beyond it.
pub async fn page_by_author(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
    page: &PageRequest,
    with_body: bool,
) -> Result<HashMap<i64, Page<posts::Model>>, DbErr> {
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    // The callers check the cursors first ([`check_author_page`]), to report them as bad input.
    let (after, before) = page
        .bounds(&NEWEST)
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut values = vec![page::ids_value(author_ids), (page.size + 1).into()];
    let mut bounds = String::new();
    for (cursor, side) in [(&after, Side::After), (&before, Side::Before)] {
        if let Some(cursor) = cursor {
            bounds.push_str(&seek_sql(&mut values, postgres, side, cursor));
        }
    }
    let direction = match page.walks_descending(&NEWEST) {
        true => "DESC",
        false => "ASC",
    };
    let body = if with_body { "p.body" } else { "'' AS body" };
    let columns = format!("p.id, p.title, {body}, p.created_at, p.updated_at, p.author_id");
    let sql = if postgres {
        format!(
            "SELECT {columns} FROM json_array_elements_text($1::json) AS a(id) CROSS JOIN LATERAL \
             (SELECT q.id, q.title, q.body, q.created_at, q.updated_at, q.author_id FROM posts AS q \
              WHERE q.author_id = a.id::bigint{bounds} \
              ORDER BY q.created_at {direction}, q.id {direction} LIMIT $2) AS p"
        )
    } else {
        format!(
            "SELECT {columns} FROM json_each(?1) AS a JOIN posts AS p ON p.id IN \
             (SELECT q.id FROM posts AS q WHERE q.author_id = a.value{bounds} \
              ORDER BY q.created_at {direction}, q.id {direction} LIMIT ?2)"
        )
    };
    let rows = Posts::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;

    let beyond = match page.beyond(after, before) {
        Some((side, cursor)) if page.exact => {
            Some(authors_beyond(db, author_ids, side, &cursor).await?)
        }
        _ => None,
    };
    let mut by_author: HashMap<i64, Vec<posts::Model>> =
        author_ids.iter().map(|&id| (id, Vec::new())).collect();
    for row in rows {
        by_author.entry(row.author_id).or_default().push(row);
    }
    Ok(by_author
        .into_iter()
        .map(|(author, mut rows)| {
            // In walking order, whatever order the join returned them in.
            rows.sort_unstable_by_key(|p| (p.created_at, p.id));
            if page.walks_descending(&NEWEST) {
                rows.reverse();
            }
            let beyond = beyond.as_ref().map(|authors| authors.contains(&author));
            (author, Page::cut(rows, page, &NEWEST, beyond))
        })
        .collect())
}

/// Refuses a page of [`page_by_author`] whose cursors are not from a newest-first list of posts.
pub fn check_author_page(page: &PageRequest) -> Result<(), AppError> {
    page.check(&NEWEST)
}

/// `AND (q.created_at, q.id) <op> ($n, $m)`: the rows of a newest-first list `side` of `cursor`,
/// its values appended to `values`.
fn seek_sql(
    values: &mut Vec<sea_orm::Value>,
    postgres: bool,
    side: Side,
    cursor: &page::Cursor,
) -> String {
    let Key::Time(at) = cursor.key else {
        return " AND FALSE".to_owned();
    };
    values.extend([at.into(), cursor.id.into()]);
    let (a, b) = (values.len() - 1, values.len());
    let op = match side {
        Side::After => "<",
        Side::Before => ">",
        Side::AtOrAfter => "<=",
        Side::AtOrBefore => ">=",
    };
    match postgres {
        true => format!(" AND (q.created_at, q.id) {op} (${a}, ${b})"),
        false => format!(" AND (q.created_at, q.id) {op} (?{a}, ?{b})"),
    }
}

/// Which of `author_ids` have a post `side` of `cursor` (newest first), in one statement.
async fn authors_beyond(
    db: &impl ConnectionTrait,
    author_ids: &[i64],
    side: Side,
    cursor: &page::Cursor,
) -> Result<HashSet<i64>, DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        author_id: i64,
    }
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let mut values = vec![page::ids_value(author_ids)];
    let seek = seek_sql(&mut values, postgres, side, cursor);
    let sql = match postgres {
        true => format!(
            "SELECT a.id::bigint AS author_id FROM json_array_elements_text($1::json) AS a(id) \
             WHERE EXISTS (SELECT 1 FROM posts AS q WHERE q.author_id = a.id::bigint{seek})"
        ),
        false => format!(
            "SELECT a.value AS author_id FROM json_each(?1) AS a \
             WHERE EXISTS (SELECT 1 FROM posts AS q WHERE q.author_id = a.value{seek})"
        ),
    };
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.author_id).collect())
}
