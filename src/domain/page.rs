//! Keyset ("seek") pagination over `(created_at, id)`: a page deep in a million rows costs what
//! the first page costs, because the cursor becomes a `WHERE (created_at, id) < (…)` on an index
//! instead of an OFFSET.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::error::AppError;

/// The page size when the client gives none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A position in a list: the sort key of the last row seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "v1:{}:{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    /// Reads a cursor a client sent back; anything else is `BAD_USER_INPUT` on `field`.
    pub fn decode(field: &str, cursor: &str) -> Result<Self, AppError> {
        let invalid = || AppError::bad_input(field, "is not a valid cursor");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let mut parts = text.split(':');
        let (Some("v1"), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let id: i64 = id.parse().map_err(|_| invalid())?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(Self { created_at, id })
    }
}

/// What the client asked for: how many rows, after which one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub first: u64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Validates `first` and `after` as given to a list field.
    pub fn new(first: Option<i32>, after: Option<&str>) -> Result<Self, AppError> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (0..=MAX_PAGE_SIZE as i32).contains(&n) => n as u64,
            Some(n) => {
                return Err(AppError::bad_input(
                    "first",
                    format!("must be between 0 and {MAX_PAGE_SIZE}, got {n}"),
                ));
            }
        };
        let after = after.map(|c| Cursor::decode("after", c)).transpose()?;
        Ok(Self { first, after })
    }
}

/// One page of rows, and whether more follow.
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// Cuts the `first + 1` rows a query fetched down to the page, noting whether one was left.
    pub fn from_overfetch(mut rows: Vec<T>, first: u64) -> Self {
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Self {
            rows,
            has_next_page,
        }
    }
}

/// A row that can be paginated by `(created_at, id)`.
pub trait Keyed {
    fn cursor(&self) -> Cursor;
}

/// Implements [`Keyed`] for a row with `created_at` and `id` columns.
macro_rules! keyed {
    ($model:ty) => {
        impl $crate::domain::page::Keyed for $model {
            fn cursor(&self) -> $crate::domain::page::Cursor {
                $crate::domain::page::Cursor {
                    created_at: self.created_at,
                    id: self.id,
                }
            }
        }
    };
}

pub(crate) use keyed;

impl<T: Keyed> Keyed for std::sync::Arc<T> {
    fn cursor(&self) -> Cursor {
        T::cursor(self)
    }
}

/// The condition "comes after `cursor`" for a list sorted by `(created_at, id)` in `order`.
pub fn after_condition<C>(created_at: C, id: C, order: &Order, cursor: Cursor) -> Expr
where
    C: sea_orm::sea_query::IntoColumnRef,
{
    let key = Expr::tuple([Expr::col(created_at), Expr::col(id)]);
    let at = Expr::tuple([Expr::val(cursor.created_at), Expr::val(cursor.id)]);
    match order {
        Order::Asc => key.gt(at),
        _ => key.lt(at),
    }
}

/// Fetches one page of `select`, sorted by `(created_at, id)` in `order`.
pub async fn fetch<E, C>(
    db: &C,
    select: Select<E>,
    created_at: E::Column,
    id: E::Column,
    order: Order,
    page: &PageRequest,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut select = select
        .order_by(created_at, order.clone())
        .order_by(id, order.clone())
        .limit(page.first + 1);
    if let Some(cursor) = page.after {
        select = select.filter(after_condition(
            (E::default(), created_at),
            (E::default(), id),
            &order,
            cursor,
        ));
    }
    Ok(Page::from_overfetch(select.all(db).await?, page.first))
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
    use super::*;

    #[test]
    fn a_cursor_survives_its_round_trip() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_763_700_000_123_456).unwrap(),
            id: 42,
        };
        assert_eq!(Cursor::decode("after", &c.encode()).unwrap(), c);
    }

    #[test]
    fn malformed_cursors_and_sizes_are_bad_input() {
        for bad in [
            "",
            "!!",
            "djE6eDox",
            "bm9wZQ",
            &URL_SAFE_NO_PAD.encode("v1:1:2:3"),
        ] {
            let err = PageRequest::new(None, Some(bad)).unwrap_err();
            assert_eq!(
                (err.code(), err.field()),
                (crate::error::Code::BadUserInput, Some("after")),
                "{bad}"
            );
        }
        for bad in [-1, 101] {
            let err = PageRequest::new(Some(bad), None).unwrap_err();
            assert_eq!(err.field(), Some("first"));
        }
        assert_eq!(PageRequest::new(None, None).unwrap().first, 20);
        assert_eq!(PageRequest::new(Some(100), None).unwrap().first, 100);
    }
}
