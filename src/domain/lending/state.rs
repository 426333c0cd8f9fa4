//! What the lending flows share: the row locks, the hand-off to the next member, and the
//! lookups they decide on (each inside the flow's transaction).

use chrono::{DateTime, Utc};

use crate::clock::Now;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{Rules, after, may_see_member};
use crate::auth::Viewer;
use crate::domain::events::{Changes, Event};
use crate::entity::holds::{self, Entity as Holds, HoldStatus};
use crate::entity::items::{self, Entity as Items, ItemStatus};
use crate::entity::loans::{self, Entity as Loans};
use crate::entity::users::{self, Entity as Users};
use crate::error::{AppError, Reason};

/// Before an item is deleted (in the caller's transaction): refused while it is on loan. Its holds
/// and loans are deleted with it (`ON DELETE CASCADE`: a hold or a loan always has its item).
pub async fn release_item(txn: &impl ConnectionTrait, item_id: i64) -> Result<(), AppError> {
    let item = lock_item(txn, item_id).await?;
    if item.status == ItemStatus::OnLoan {
        return Err(AppError::refused(
            Reason::ItemOnLoan,
            "the item is on loan: return it first",
        ));
    }
    Ok(())
}

/// Before a member's account is deleted (in the caller's transaction): refused while they have an
/// item on loan; their open holds are cancelled, a ready one handing its item on.
pub async fn release_member(
    txn: &impl ConnectionTrait,
    changes: &mut Changes,
    rules: &Rules,
    member_id: i64,
    clock: &impl Now,
) -> Result<(), AppError> {
    if !locked_member(txn, member_id).await? {
        // No such member: the deletion says so.
        return Ok(());
    }
    let active = Loans::find()
        .filter(loans::Column::BorrowerId.eq(member_id))
        .filter(loans::Column::ReturnedAt.is_null())
        .count(txn)
        .await?;
    if active > 0 {
        return Err(AppError::refused(
            Reason::HasActiveLoans,
            format!("the member has {active} items on loan: return them first"),
        ));
    }
    // Lock every item the member holds first: a return elsewhere could make a waiting hold of
    // theirs ready between reading and cancelling.
    let held: Vec<i64> = Holds::find()
        .select_only()
        .column(holds::Column::ItemId)
        .filter(holds::Column::MemberId.eq(member_id))
        .filter(holds::Column::Status.is_in([HoldStatus::Waiting, HoldStatus::Ready]))
        .order_by_asc(holds::Column::ItemId)
        .into_tuple()
        .all(txn)
        .await?;
    for &item_id in &held {
        lock_item(txn, item_id).await?;
        // Their place in the queue goes: the holds behind it move up.
        changes.queue(item_id);
    }
    let now = clock.now();
    let ready: Vec<i64> = Holds::find()
        .select_only()
        .column(holds::Column::ItemId)
        .filter(holds::Column::MemberId.eq(member_id))
        .filter(holds::Column::Status.eq(HoldStatus::Ready))
        .into_tuple()
        .all(txn)
        .await?;
    cancel_open(txn, holds::Column::MemberId.eq(member_id), now).await?;
    for item_id in ready {
        let item = lock_item(txn, item_id).await?;
        hand_on(txn, changes, rules, item, now).await?;
    }
    Ok(())
}

/// The item's row, locked until the transaction ends; `NOT_FOUND` when there is none.
pub(super) async fn lock_item(
    db: &impl ConnectionTrait,
    item_id: i64,
) -> Result<items::Model, AppError> {
    Items::find_by_id(item_id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "item" })
}

/// Locks the member's row, so that their limits are checked against a settled count; `NOT_FOUND`
/// when there is none.
pub(super) async fn lock_member(db: &impl ConnectionTrait, member_id: i64) -> Result<(), AppError> {
    match locked_member(db, member_id).await? {
        true => Ok(()),
        false => Err(AppError::NotFound { what: "member" }),
    }
}

/// Locks the member's row; whether there is one.
pub(super) async fn locked_member(
    db: &impl ConnectionTrait,
    member_id: i64,
) -> Result<bool, AppError> {
    let found = Users::find_by_id(member_id)
        .select_only()
        .column(users::Column::Id)
        .lock_exclusive()
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Gives the item to the first member waiting (their hold becomes ready, the item goes to the
/// hold shelf), or puts it on the shelf when nobody waits.
pub(super) async fn hand_on(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    rules: &Rules,
    item: items::Model,
    now: DateTime<Utc>,
) -> Result<items::Model, AppError> {
    match next_waiting(db, item.id).await? {
        Some(hold) => {
            changes.note(Event::Hold { id: hold.id });
            changes.queue(item.id);
            let mut row = hold.into_active_model();
            row.status = Set(HoldStatus::Ready);
            row.pickup_by = Set(Some(after(now, rules.hold_pickup_window)));
            row.update(db).await?;
            set_status(db, changes, item, ItemStatus::OnHoldShelf).await
        }
        None => set_status(db, changes, item, ItemStatus::Available).await,
    }
}

pub(super) async fn set_status(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    item: items::Model,
    status: ItemStatus,
) -> Result<items::Model, AppError> {
    changes.note(Event::Item { id: item.id });
    if item.status == status {
        return Ok(item);
    }
    let mut row = item.into_active_model();
    row.status = Set(status);
    Ok(row.update(db).await?)
}

pub(super) async fn end_hold(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    hold: holds::Model,
    status: HoldStatus,
    now: DateTime<Utc>,
) -> Result<holds::Model, AppError> {
    changes.note(Event::Hold { id: hold.id });
    changes.queue(hold.item_id);
    let mut row = hold.into_active_model();
    row.status = Set(status);
    row.ended_at = Set(Some(now));
    Ok(row.update(db).await?)
}

/// Cancels the open holds `condition` selects.
pub(super) async fn cancel_open(
    db: &impl ConnectionTrait,
    condition: sea_orm::sea_query::SimpleExpr,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    Holds::update_many()
        .col_expr(
            holds::Column::Status,
            sea_orm::sea_query::Expr::value(HoldStatus::Cancelled),
        )
        .col_expr(holds::Column::EndedAt, sea_orm::sea_query::Expr::value(now))
        .filter(condition)
        .filter(holds::Column::Status.is_in([HoldStatus::Waiting, HoldStatus::Ready]))
        .exec(db)
        .await?;
    Ok(())
}

/// The first hold in the item's queue (by `placedAt`, then id).
pub(super) async fn next_waiting(
    db: &impl ConnectionTrait,
    item_id: i64,
) -> Result<Option<holds::Model>, AppError> {
    Ok(Holds::find()
        .filter(holds::Column::ItemId.eq(item_id))
        .filter(holds::Column::Status.eq(HoldStatus::Waiting))
        .order_by_asc(holds::Column::PlacedAt)
        .order_by_asc(holds::Column::Id)
        .one(db)
        .await?)
}

pub(super) async fn ready_hold(
    db: &impl ConnectionTrait,
    item_id: i64,
) -> Result<Option<holds::Model>, AppError> {
    Ok(Holds::find()
        .filter(holds::Column::ItemId.eq(item_id))
        .filter(holds::Column::Status.eq(HoldStatus::Ready))
        .one(db)
        .await?)
}

pub(super) async fn open_hold(
    db: &impl ConnectionTrait,
    item_id: i64,
    member_id: i64,
) -> Result<Option<holds::Model>, AppError> {
    Ok(Holds::find()
        .filter(holds::Column::ItemId.eq(item_id))
        .filter(holds::Column::MemberId.eq(member_id))
        .filter(holds::Column::Status.is_in([HoldStatus::Waiting, HoldStatus::Ready]))
        .one(db)
        .await?)
}

pub(super) async fn active_loan(
    db: &impl ConnectionTrait,
    item_id: i64,
) -> Result<Option<loans::Model>, AppError> {
    Ok(Loans::find()
        .filter(loans::Column::ItemId.eq(item_id))
        .filter(loans::Column::ReturnedAt.is_null())
        .one(db)
        .await?)
}

pub(super) async fn refuse_if_overdue(
    db: &impl ConnectionTrait,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let overdue = Loans::find()
        .filter(loans::Column::BorrowerId.eq(member_id))
        .filter(loans::Column::ReturnedAt.is_null())
        .filter(loans::Column::DueAt.lt(now))
        .count(db)
        .await?;
    if overdue > 0 {
        return Err(AppError::refused(
            Reason::OverdueLoans,
            format!("the member has {overdue} overdue loans: return them first"),
        ));
    }
    Ok(())
}

/// A hold `viewer` may see (theirs, or any for an admin); `NOT_FOUND` otherwise.
pub(super) async fn visible_hold(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    hold_id: i64,
) -> Result<holds::Model, AppError> {
    Holds::find_by_id(hold_id)
        .one(db)
        .await?
        .filter(|h| may_see_member(Some(viewer), Some(h.member_id)))
        .ok_or(AppError::NotFound { what: "hold" })
}

/// A loan `viewer` may see (theirs, or any for an admin); `NOT_FOUND` otherwise.
pub(super) async fn visible_loan(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    loan_id: i64,
) -> Result<loans::Model, AppError> {
    Loans::find_by_id(loan_id)
        .one(db)
        .await?
        .filter(|l| may_see_member(Some(viewer), l.borrower_id))
        .ok_or(AppError::NotFound { what: "loan" })
}
