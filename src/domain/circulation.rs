//! Reading loans and holds: the lists (keyset-paginated, newest first) and the batched lookups the
//! GraphQL loaders use, so that a page of items costs the same few statements whatever its size.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, Select, Statement,
};

use sea_orm::sea_query::ExprTrait;

use super::page::{self, Key, Page, PageRequest, Sort};
use crate::entity::holds::{self, Entity as Holds, HoldStatus};
use crate::entity::items::{self, Entity as Items};
use crate::entity::loans::{self, Entity as Loans};
use crate::error::AppError;

/// Loans, newest first.
pub const LOANS: Sort<loans::Model> = Sort {
    name: "loans.NEWEST",
    column: "checked_out_at",
    text: false,
    descending: true,
    key: |m| (Key::Time(m.checked_out_at), m.id),
};

/// Holds, newest first.
pub const HOLDS: Sort<holds::Model> = Sort {
    name: "holds.NEWEST",
    column: "placed_at",
    text: false,
    descending: true,
    key: |m| (Key::Time(m.placed_at), m.id),
};

/// Which loans a list shows; every part optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LoanFilter {
    pub item_id: Option<i64>,
    pub borrower_id: Option<i64>,
    /// Not returned yet (`true`), or returned (`false`).
    pub active: Option<bool>,
    /// Active and past due (`true`), or not (`false`).
    pub overdue: Option<bool>,
}

impl LoanFilter {
    fn select(&self, now: DateTime<Utc>) -> Select<Loans> {
        let mut select = Loans::find();
        if let Some(item_id) = self.item_id {
            select = select.filter(loans::Column::ItemId.eq(item_id));
        }
        if let Some(borrower_id) = self.borrower_id {
            select = select.filter(loans::Column::BorrowerId.eq(borrower_id));
        }
        match self.active {
            Some(true) => select = select.filter(loans::Column::ReturnedAt.is_null()),
            Some(false) => select = select.filter(loans::Column::ReturnedAt.is_not_null()),
            None => {}
        }
        let overdue = loans::Column::ReturnedAt
            .is_null()
            .and(loans::Column::DueAt.lt(now));
        match self.overdue {
            Some(true) => select.filter(overdue),
            Some(false) => select.filter(overdue.not()),
            None => select,
        }
    }
}

/// A page of loans, newest first.
pub async fn loans(
    db: &impl ConnectionTrait,
    filter: LoanFilter,
    now: DateTime<Utc>,
    page: &PageRequest,
) -> Result<Page<loans::Model>, AppError> {
    page::fetch(db, filter.select(now), "loans", &LOANS, page).await
}

/// How many loans `loans` walks through in all.
pub async fn count_loans(
    db: &impl ConnectionTrait,
    filter: LoanFilter,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    filter.select(now).count(db).await
}

fn member_holds(member_id: i64, active: Option<bool>) -> Select<Holds> {
    let select = Holds::find().filter(holds::Column::MemberId.eq(member_id));
    let open = [HoldStatus::Waiting, HoldStatus::Ready];
    match active {
        Some(true) => select.filter(holds::Column::Status.is_in(open)),
        Some(false) => select.filter(holds::Column::Status.is_not_in(open)),
        None => select,
    }
}

/// A page of a member's holds, newest first (`active`: only the open ones, or only the ended).
pub async fn holds_of(
    db: &impl ConnectionTrait,
    member_id: i64,
    active: Option<bool>,
    page: &PageRequest,
) -> Result<Page<holds::Model>, AppError> {
    page::fetch(db, member_holds(member_id, active), "holds", &HOLDS, page).await
}

/// How many holds `holds_of` walks through in all.
pub async fn count_holds_of(
    db: &impl ConnectionTrait,
    member_id: i64,
    active: Option<bool>,
) -> Result<u64, DbErr> {
    member_holds(member_id, active).count(db).await
}

/// Items by id, in one statement.
pub async fn items_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, items::Model>, DbErr> {
    let rows = Items::find()
        .from_raw_sql(by_ids_statement(db, "items", "id", "", ids))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|i| (i.id, i)).collect())
}

/// Holds by id, in one statement.
pub async fn holds_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<holds::Model>, DbErr> {
    Holds::find()
        .from_raw_sql(by_ids_statement(db, "holds", "id", " ORDER BY id", ids))
        .all(db)
        .await
}

/// A member's open holds (`WAITING` or `READY`), oldest first.
pub async fn open_holds_of_member(
    db: &impl ConnectionTrait,
    member_id: i64,
) -> Result<Vec<holds::Model>, DbErr> {
    Holds::find()
        .filter(holds::Column::MemberId.eq(member_id))
        .filter(holds::Column::Status.is_in([HoldStatus::Waiting, HoldStatus::Ready]))
        .order_by(holds::Column::PlacedAt, Order::Asc)
        .order_by(holds::Column::Id, Order::Asc)
        .all(db)
        .await
}

/// The active loan of each of `item_ids` that has one, in one statement.
pub async fn active_loans(
    db: &impl ConnectionTrait,
    item_ids: &[i64],
) -> Result<HashMap<i64, loans::Model>, DbErr> {
    let rows = Loans::find()
        .from_raw_sql(by_ids_statement(
            db,
            "loans",
            "item_id",
            " AND returned_at IS NULL",
            item_ids,
        ))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|l| (l.item_id, l)).collect())
}

/// The queue (waiting holds, first in line first) of each of `item_ids`, in one statement; an
/// item nobody waits for gets an empty queue.
pub async fn queues(
    db: &impl ConnectionTrait,
    item_ids: &[i64],
) -> Result<HashMap<i64, Vec<holds::Model>>, DbErr> {
    let rows = Holds::find()
        .from_raw_sql(by_ids_statement(
            db,
            "holds",
            "item_id",
            " AND status = 'WAITING' ORDER BY placed_at, id",
            item_ids,
        ))
        .all(db)
        .await?;
    let mut queues: HashMap<i64, Vec<holds::Model>> =
        item_ids.iter().map(|&id| (id, Vec::new())).collect();
    for hold in rows {
        queues.entry(hold.item_id).or_default().push(hold);
    }
    Ok(queues)
}

/// `member_id`'s open hold on each of `item_ids` that has one, in one statement.
pub async fn open_holds_of(
    db: &impl ConnectionTrait,
    member_id: i64,
    item_ids: &[i64],
) -> Result<HashMap<i64, holds::Model>, DbErr> {
    let backend = db.get_database_backend();
    let member = match backend {
        sea_orm::DbBackend::Postgres => "$2",
        _ => "?2",
    };
    let sql = format!(
        "SELECT * FROM holds WHERE {} AND member_id = {member} AND status IN ('WAITING', 'READY')",
        page::in_ids(db, "item_id")
    );
    let rows = Holds::find()
        .from_raw_sql(Statement::from_sql_and_values(
            backend,
            sql,
            [page::ids_value(item_ids), member_id.into()],
        ))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|h| (h.item_id, h)).collect())
}

/// `SELECT * FROM table WHERE column IN (ids)…`, with the ids as one bound value (one statement
/// text for any number of ids, see [`page::ids_value`]).
fn by_ids_statement(
    db: &impl ConnectionTrait,
    table: &str,
    column: &str,
    rest: &str,
    ids: &[i64],
) -> Statement {
    Statement::from_sql_and_values(
        db.get_database_backend(),
        format!(
            "SELECT * FROM {table} WHERE {}{rest}",
            page::in_ids(db, column)
        ),
        [page::ids_value(ids)],
    )
}
