//! Keyset ("seek") pagination, both ways: a list is sorted by a key column and then by `id`, and a
//! cursor is the `(key, id)` of a row, so `after`/`before` become `WHERE (key, id) > (…)` on an
//! index instead of an OFFSET, and a page deep in a million rows costs what the first page costs.
//! Paging backwards (`last`/`before`) walks the same index the other way and reverses the rows.

use sea_orm::sea_query::{Alias, Expr};
use sea_orm::{ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

mod cursor;

pub use cursor::{Cursor, Key, SentCursor, Side, Sort};

use crate::error::AppError;

/// The page size when the client gives none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// What the client asked for: how many rows, from which end, between which cursors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// `first` or `last`.
    pub size: u64,
    /// `last` was given: the page is the last `size` rows before `before` (or the end).
    pub backward: bool,
    pub after: Option<SentCursor>,
    pub before: Option<SentCursor>,
    /// Whether to find out exactly if rows lie beyond the cursor the page starts from
    /// (`hasPreviousPage` forwards, `hasNextPage` backwards), which costs a statement: only when
    /// the query selects that field.
    pub exact: bool,
}

impl PageRequest {
    /// Validates the four page arguments of a list field: `first` or `last` (0 to 100, not
    /// both), `after` and `before`.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self, AppError> {
        let bounded = |field: &str, n: i32| match u64::try_from(n) {
            Ok(n) if n <= MAX_PAGE_SIZE => Ok(n),
            _ => Err(AppError::bad_input(
                field,
                format!("must be between 0 and {MAX_PAGE_SIZE}, got {n}"),
            )),
        };
        let (size, backward) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(AppError::bad_input(
                    "last",
                    "cannot be given with `first`: page forwards with `first` and `after`, or backwards with `last` and `before`",
                ));
            }
            (Some(n), None) => (bounded("first", n)?, false),
            (None, Some(n)) => (bounded("last", n)?, true),
            (None, None) => (DEFAULT_PAGE_SIZE, false),
        };
        Ok(Self {
            size,
            backward,
            after: after.map(|c| SentCursor::decode("after", c)).transpose()?,
            before: before
                .map(|c| SentCursor::decode("before", c))
                .transpose()?,
            exact: false,
        })
    }

    /// The first `size` rows.
    pub fn first(size: u64) -> Self {
        Self {
            size,
            backward: false,
            after: None,
            before: None,
            exact: false,
        }
    }

    /// The cursors, read for `sort`.
    pub fn bounds<M>(&self, sort: &Sort<M>) -> Result<(Option<Cursor>, Option<Cursor>), AppError> {
        Ok((
            self.after
                .as_ref()
                .map(|c| sort.read("after", c))
                .transpose()?,
            self.before
                .as_ref()
                .map(|c| sort.read("before", c))
                .transpose()?,
        ))
    }

    /// Refuses cursors that are not from `sort` (`BAD_USER_INPUT` naming `after` or `before`),
    /// whatever the query then selects of the list.
    pub fn check<M>(&self, sort: &Sort<M>) -> Result<(), AppError> {
        self.bounds(sort).map(|_| ())
    }

    /// Whether the rows are fetched in descending order of `sort`'s key (the list's own order,
    /// or its reverse when paging backwards).
    pub fn walks_descending<M>(&self, sort: &Sort<M>) -> bool {
        sort.descending != self.backward
    }

    /// The cursor the page starts from, if any, and the side beyond it that decides
    /// `hasPreviousPage` (forwards) or `hasNextPage` (backwards).
    pub fn beyond(&self, after: Option<Cursor>, before: Option<Cursor>) -> Option<(Side, Cursor)> {
        match self.backward {
            false => after.map(|c| (Side::AtOrBefore, c)),
            true => before.map(|c| (Side::AtOrAfter, c)),
        }
    }
}

/// One page of rows in the list's order, their cursors, and whether rows lie on either side.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub cursors: Vec<Cursor>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// No rows.
    pub fn empty() -> Self {
        Self {
            rows: Vec::new(),
            cursors: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
        }
    }

    /// Cuts the `size + 1` rows a query fetched (in the order it walked) down to the page, in the
    /// list's order: the extra row tells whether more follow in the walking direction. Whether
    /// rows lie beyond the starting cursor is `beyond` (when it was looked up).
    pub fn cut(
        mut rows: Vec<T>,
        request: &PageRequest,
        sort: &Sort<T>,
        beyond: Option<bool>,
    ) -> Self {
        let more = rows.len() as u64 > request.size;
        rows.truncate(request.size as usize);
        let started = match request.backward {
            false => request.after.is_some(),
            true => request.before.is_some(),
        };
        let beyond = beyond.unwrap_or(started);
        if request.backward {
            rows.reverse();
        }
        let cursors = rows.iter().map(|r| sort.cursor(r)).collect();
        let (has_next_page, has_previous_page) = match request.backward {
            false => (more, beyond),
            true => (beyond, more),
        };
        Self {
            rows,
            cursors,
            has_next_page,
            has_previous_page,
        }
    }

    /// The same page with each row turned into something else.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(f).collect(),
            cursors: self.cursors,
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

/// Fetches one page of `select` (rows of `table`) in `sort`'s order: one statement, and a second
/// (does any row lie beyond the starting cursor?) only when the request is `exact`.
pub async fn fetch<E, C>(
    db: &C,
    select: Select<E>,
    table: &str,
    sort: &Sort<E::Model>,
    request: &PageRequest,
) -> Result<Page<E::Model>, AppError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let backend = db.get_database_backend();
    let (after, before) = request.bounds(sort)?;
    let mut bounded = select.clone();
    if let Some(cursor) = &after {
        bounded = bounded.filter(sort.seek(backend, table, Side::After, cursor));
    }
    if let Some(cursor) = &before {
        bounded = bounded.filter(sort.seek(backend, table, Side::Before, cursor));
    }
    let order = match request.walks_descending(sort) {
        true => Order::Desc,
        false => Order::Asc,
    };
    let col = |c: &str| Expr::col((Alias::new(table), Alias::new(c)));
    let rows = bounded
        .order_by(sort.key_column(backend, table), order.clone())
        .order_by(col("id"), order)
        .limit(request.size + 1)
        .all(db)
        .await?;
    let beyond = match request.beyond(after, before) {
        Some((side, cursor)) if request.exact => Some(
            select
                .filter(sort.seek(backend, table, side, &cursor))
                .select_only()
                .column_as(col("id"), "id")
                .limit(1)
                .into_tuple::<i64>()
                .one(db)
                .await?
                .is_some(),
        ),
        _ => None,
    };
    Ok(Page::cut(rows, request, sort, beyond))
}

/// `ids` as one value: a JSON array, so that a statement about any number of rows has one text
/// (and one prepared statement) per shape; [`in_ids`] reads it back in SQL.
pub fn ids_value(ids: &[i64]) -> sea_orm::Value {
    let mut json = String::with_capacity(ids.len() * 8 + 2);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    json.into()
}

/// The SQL condition "`column` is one of the ids of [`ids_value`]", bound as the statement's first
/// parameter. On PostgreSQL `= ANY (ARRAY(…))`, which searches the index once per id (an `IN`
/// over the function would hash-join a scan of the whole table).
pub fn in_ids(db: &impl ConnectionTrait, column: &str) -> String {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => format!(
            "{column} = ANY (ARRAY(SELECT value::bigint FROM json_array_elements_text($1::json)))"
        ),
        _ => format!("{column} IN (SELECT value FROM json_each(?1))"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    struct Row(DateTime<Utc>, i64);

    const BY_TIME: Sort<Row> = Sort {
        name: "rows.NEWEST",
        column: "created_at",
        text: false,
        descending: true,
        key: |r| (Key::Time(r.0), r.1),
    };

    #[test]
    fn sizes_are_bounded_and_first_and_last_exclusive() {
        for (first, last, field) in [
            (Some(-1), None, "first"),
            (Some(101), None, "first"),
            (None, Some(101), "last"),
            (Some(1), Some(1), "last"),
        ] {
            let err = PageRequest::new(first, None, last, None).unwrap_err();
            assert_eq!(err.field(), Some(field));
        }
        assert_eq!(PageRequest::new(None, None, None, None).unwrap().size, 20);
        let back = PageRequest::new(None, None, Some(100), None).unwrap();
        assert!(back.backward && back.size == 100);
    }

    #[test]
    fn a_backward_page_comes_out_in_the_lists_order() {
        let t = DateTime::from_timestamp_micros(0).unwrap();
        let rows = (1..=4).map(|i| Row(t, i)).collect();
        let mut request = PageRequest::first(3);
        request.backward = true;
        let page = Page::cut(rows, &request, &BY_TIME, None);
        let ids: Vec<i64> = page.rows.iter().map(|r| r.1).collect();
        assert_eq!(ids, [3, 2, 1]);
        assert!(page.has_previous_page && !page.has_next_page);
    }
}
