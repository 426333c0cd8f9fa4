//! The holds queue: placing and cancelling holds, and expiring the ready ones not picked up.

use chrono::{DateTime, Utc};

use crate::clock::Now;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::state::{
    active_loan, end_hold, hand_on, lock_item, lock_member, next_waiting, open_hold,
    refuse_if_overdue, set_status, visible_hold,
};
use super::{Rules, after};
use crate::auth::Viewer;
use crate::domain::events::{Bus, Changes, Event};
use crate::entity::holds::{self, Entity as Holds, HoldStatus};
use crate::entity::items::ItemStatus;
use crate::error::{AppError, Reason};

/// Places a hold for `member_id`: ready at once when the item is on the shelf with nobody waiting
/// (the item goes to the hold shelf), otherwise at the end of the queue.
pub async fn place_hold(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &Rules,
    member_id: i64,
    item_id: i64,
    clock: &impl Now,
) -> Result<holds::Model, AppError> {
    let txn = crate::domain::begin_write(db).await?;
    let mut changes = Changes::new();
    lock_member(&txn, member_id).await?;
    let item = lock_item(&txn, item_id).await?;
    let now = clock.now();
    refuse_if_overdue(&txn, member_id, now).await?;
    if open_hold(&txn, item_id, member_id).await?.is_some() {
        return Err(AppError::refused(
            Reason::AlreadyHolding,
            "you already have a hold on this item",
        ));
    }
    if active_loan(&txn, item_id)
        .await?
        .is_some_and(|loan| loan.borrower_id == Some(member_id))
    {
        return Err(AppError::refused(
            Reason::AlreadyBorrowing,
            "you have this item on loan",
        ));
    }
    let open = Holds::find()
        .filter(holds::Column::MemberId.eq(member_id))
        .filter(holds::Column::Status.is_in([HoldStatus::Waiting, HoldStatus::Ready]))
        .count(&txn)
        .await?;
    if open >= u64::from(rules.max_holds_per_member) {
        return Err(AppError::refused(
            Reason::HoldLimit,
            format!(
                "you have {open} open holds; at most {} are allowed (MAX_HOLDS_PER_MEMBER)",
                rules.max_holds_per_member
            ),
        ));
    }
    let ready =
        item.status == ItemStatus::Available && next_waiting(&txn, item_id).await?.is_none();
    let hold = holds::ActiveModel {
        item_id: Set(item_id),
        member_id: Set(member_id),
        status: Set(if ready {
            HoldStatus::Ready
        } else {
            HoldStatus::Waiting
        }),
        placed_at: Set(now),
        pickup_by: Set(ready.then(|| after(now, rules.hold_pickup_window))),
        ended_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    changes.note(Event::Item { id: item_id });
    changes.note(Event::Hold { id: hold.id });
    if ready {
        set_status(&txn, &mut changes, item, ItemStatus::OnHoldShelf).await?;
    }
    changes.commit(txn, bus).await?;
    Ok(hold)
}

/// Cancels a hold of `viewer`'s (or any, for an admin); a ready one hands the item on. A hold that
/// has already ended is answered as it is.
pub async fn cancel_hold(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &Rules,
    viewer: &Viewer,
    hold_id: i64,
    clock: &impl Now,
) -> Result<holds::Model, AppError> {
    let txn = crate::domain::begin_write(db).await?;
    let mut changes = Changes::new();
    let seen = visible_hold(&txn, viewer, hold_id).await?;
    let item = lock_item(&txn, seen.item_id).await?;
    let now = clock.now();
    // Read again under the item's lock: a return or the sweeper may have moved it meanwhile.
    let hold = visible_hold(&txn, viewer, hold_id).await?;
    if !hold.status.is_open() {
        return Ok(hold);
    }
    let was_ready = hold.status == HoldStatus::Ready;
    let hold = end_hold(&txn, &mut changes, hold, HoldStatus::Cancelled, now).await?;
    if was_ready {
        hand_on(&txn, &mut changes, rules, item, now).await?;
    }
    changes.commit(txn, bus).await?;
    Ok(hold)
}

/// Expires the ready holds whose pickup time has passed, each handing its item on, and returns
/// how many it expired. Safe to run in several instances at once: each hold is re-read under its
/// item's lock, so it is expired (and its item handed on) exactly once.
pub async fn sweep_expired_holds(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    let due: Vec<(i64, i64)> = Holds::find()
        .select_only()
        .column(holds::Column::Id)
        .column(holds::Column::ItemId)
        .filter(holds::Column::Status.eq(HoldStatus::Ready))
        .filter(holds::Column::PickupBy.lt(now))
        .order_by_asc(holds::Column::PickupBy)
        .limit(1000)
        .into_tuple()
        .all(db)
        .await?;
    let mut expired = 0;
    for (hold_id, item_id) in due {
        let txn = crate::domain::begin_write(db).await?;
        let mut changes = Changes::new();
        let item = match lock_item(&txn, item_id).await {
            Ok(item) => item,
            // Deleted since the scan, with its holds.
            Err(AppError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let Some(hold) = Holds::find_by_id(hold_id).one(&txn).await? else {
            continue;
        };
        if hold.status != HoldStatus::Ready || hold.pickup_by.is_none_or(|by| by >= now) {
            continue;
        }
        end_hold(&txn, &mut changes, hold, HoldStatus::Expired, now).await?;
        hand_on(&txn, &mut changes, rules, item, now).await?;
        changes.commit(txn, bus).await?;
        expired += 1;
    }
    Ok(expired)
}
