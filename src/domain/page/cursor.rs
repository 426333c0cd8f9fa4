//! Cursors: where a row is in a list sorted by a key and then by `id`, in the opaque form handed
//! to clients and back, and the SQL that seeks to it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};
use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, SimpleExpr};

use crate::error::AppError;

/// The value a list is sorted by, before `id` breaks ties.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Time(DateTime<Utc>),
    Text(String),
}

impl Key {
    fn value(&self) -> sea_orm::Value {
        match self {
            Self::Time(t) => (*t).into(),
            Self::Text(s) => s.clone().into(),
        }
    }
}

/// An order a list of `M` can be walked in: by `column`, then by `id`, both the same way.
pub struct Sort<M> {
    /// The list and order, as its cursors name them: a cursor is accepted only by the order that
    /// made it (`items.NAME`).
    pub name: &'static str,
    /// The key column (its table's index on `(column, id)` serves the order).
    pub column: &'static str,
    /// The key is a text (else a time). Texts compare by code point on both databases: on
    /// PostgreSQL under `COLLATE "C"` (its indexes on text keys are built so), as SQLite does.
    pub text: bool,
    /// Newest (or Z) first.
    pub descending: bool,
    /// A row's key and id.
    pub key: fn(&M) -> (Key, i64),
}

impl<M> Sort<M> {
    /// The position of `row` in this order.
    pub fn cursor(&self, row: &M) -> Cursor {
        let (key, id) = (self.key)(row);
        Cursor {
            order: self.name,
            key,
            id,
        }
    }

    /// Reads a cursor a client sent back as `field`: it must come from this very order.
    pub fn read(&self, field: &str, sent: &SentCursor) -> Result<Cursor, AppError> {
        if sent.order != self.name {
            return Err(AppError::bad_input(
                field,
                "is a cursor of another list or order: pass a cursor this list gave with the same `orderBy`",
            ));
        }
        // Only what this order's rows can hold: a time both databases store, or a text without
        // NUL no longer than any key.
        let key = match self.text {
            false => sent
                .key
                .strip_prefix('t')
                .and_then(|micros| micros.parse().ok())
                .and_then(DateTime::from_timestamp_micros)
                .filter(|t| (1..=9999).contains(&t.year()))
                .map(Key::Time),
            true => sent
                .key
                .strip_prefix('s')
                .filter(|s| s.len() <= MAX_TEXT_KEY && !s.contains('\0'))
                .map(|s| Key::Text(s.to_owned())),
        }
        .ok_or_else(|| AppError::bad_input(field, "is not a valid cursor"))?;
        Ok(Cursor {
            order: self.name,
            key,
            id: sent.id,
        })
    }

    /// The key column of `table` as this order compares it on `backend`.
    pub(super) fn key_column(&self, backend: DbBackend, table: &str) -> Expr {
        match self.text && backend == DbBackend::Postgres {
            true => Expr::cust(format!(r#""{table}"."{}" COLLATE "C""#, self.column)),
            false => Expr::col((Alias::new(table), Alias::new(self.column))),
        }
    }

    /// The SQL condition "the row is `side` of `cursor`" in this order, on `(table.column,
    /// table.id)`.
    pub fn seek(&self, backend: DbBackend, table: &str, side: Side, cursor: &Cursor) -> SimpleExpr {
        let key = Expr::tuple([
            self.key_column(backend, table),
            Expr::col((Alias::new(table), Alias::new("id"))),
        ]);
        let at = Expr::tuple([Expr::val(cursor.key.value()), Expr::val(cursor.id)]);
        // In an ascending order, "after" is "greater".
        let greater = matches!(side, Side::After | Side::AtOrAfter) != self.descending;
        match (greater, matches!(side, Side::AtOrAfter | Side::AtOrBefore)) {
            (true, false) => key.gt(at),
            (true, true) => key.gte(at),
            (false, false) => key.lt(at),
            (false, true) => key.lte(at),
        }
    }
}

/// The longest text key a cursor may carry (keys are case keys of names of at most 200
/// characters, which folding can lengthen).
const MAX_TEXT_KEY: usize = 4096;

/// Where rows lie relative to a cursor, in the list's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    After,
    Before,
    AtOrAfter,
    AtOrBefore,
}

/// A position in a list: the sort key and id of a row, and the order they belong to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub order: &'static str,
    pub key: Key,
    pub id: i64,
}

impl Cursor {
    /// The opaque form handed to clients: `v2:<order>:<id>:<key>` in URL-safe base64, the key a
    /// time in microseconds (`t…`) or a text (`s…`).
    pub fn encode(&self) -> String {
        let key = match &self.key {
            Key::Time(t) => format!("t{}", t.timestamp_micros()),
            Key::Text(s) => format!("s{s}"),
        };
        URL_SAFE_NO_PAD.encode(format!("v2:{}:{}:{key}", self.order, self.id))
    }
}

/// A cursor as a client sent it, checked for shape; [`Sort::read`] checks it belongs to the list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SentCursor {
    order: String,
    id: i64,
    key: String,
}

impl SentCursor {
    /// Reads a cursor sent as `field`; anything but a cursor this server made is `BAD_USER_INPUT`.
    pub fn decode(field: &str, cursor: &str) -> Result<Self, AppError> {
        let invalid = || AppError::bad_input(field, "is not a valid cursor");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(4, ':');
        let (Some("v2"), Some(order), Some(id), Some(key)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Self {
            order: order.to_owned(),
            id: id.parse().map_err(|_| invalid())?,
            key: key.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Row(DateTime<Utc>, String, i64);

    const BY_TIME: Sort<Row> = Sort {
        name: "rows.NEWEST",
        column: "created_at",
        text: false,
        descending: true,
        key: |r| (Key::Time(r.0), r.2),
    };
    const BY_NAME: Sort<Row> = Sort {
        name: "rows.NAME",
        column: "name_key",
        text: true,
        descending: false,
        key: |r| (Key::Text(r.1.clone()), r.2),
    };

    #[test]
    fn a_cursor_survives_its_round_trip_and_belongs_to_its_order() {
        let row = Row(
            DateTime::from_timestamp_micros(1_763_700_000_123_456).unwrap(),
            "a:b:c é".to_owned(),
            42,
        );
        for sort in [&BY_TIME, &BY_NAME] {
            let c = sort.cursor(&row);
            let sent = SentCursor::decode("after", &c.encode()).unwrap();
            assert_eq!(sort.read("after", &sent).unwrap(), c);
        }
        let by_time = SentCursor::decode("before", &BY_TIME.cursor(&row).encode()).unwrap();
        let err = BY_NAME.read("before", &by_time).unwrap_err();
        assert_eq!(
            (err.code(), err.field()),
            (crate::error::Code::BadUserInput, Some("before"))
        );
    }

    #[test]
    fn malformed_cursors_are_bad_input() {
        for bad in [
            "",
            "!!",
            "djE6eDox",
            "bm9wZQ",
            &URL_SAFE_NO_PAD.encode("v1:1:2"),
            &URL_SAFE_NO_PAD.encode("v2:rows.NEWEST:x:t1"),
        ] {
            let err = SentCursor::decode("after", bad).unwrap_err();
            assert_eq!(
                (err.code(), err.field()),
                (crate::error::Code::BadUserInput, Some("after")),
                "{bad}"
            );
        }
        // Shaped right, but not a key this order's rows can hold.
        for (sort, key) in [
            (&BY_TIME, "tx"),
            (&BY_TIME, "sabc"),
            (&BY_TIME, "t-300000000000000000"),
            (&BY_NAME, "t1"),
            (&BY_NAME, "sa\0b"),
        ] {
            let text = format!("v2:{}:1:{key}", sort.name);
            let sent = SentCursor::decode("after", &URL_SAFE_NO_PAD.encode(text)).unwrap();
            assert!(sort.read("after", &sent).is_err(), "{key}");
        }
    }
}
