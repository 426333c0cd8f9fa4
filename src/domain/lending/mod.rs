//! Lending: check-out, return, the holds queue, renewals, and taking items out of circulation.
//!
//! Each flow is one transaction that first locks the rows it decides on: the member's row (when
//! the member's limits are checked) and then the item's. The database's own unique indexes are the
//! last word (one active loan per item, one open hold per item and member, one ready hold per
//! item); the locks make sure the checks that span rows (the queue's order, a member's limits) see
//! a settled state, so concurrent requests queue up instead of failing on those indexes. SQLite's
//! write transactions (`BEGIN IMMEDIATE`) already run one at a time; PostgreSQL takes
//! `SELECT … FOR UPDATE`, always members before items.
//!
//! A returned item goes to the next member in the same transaction as the return (and so do a
//! cancelled or expired ready hold's item, and an item back in circulation): no reader ever sees
//! it `AVAILABLE` while someone waits.

use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Now;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter,
};

use crate::auth::Viewer;
pub use crate::config::Lending as Rules;
use crate::domain::events::{Bus, Changes, Event};
use crate::entity::holds::HoldStatus;
use crate::entity::items::{self, ItemStatus};
use crate::entity::loans::{self, Entity as Loans};
use crate::entity::users::Role;
use crate::error::{AppError, Reason};

mod queue;
mod state;

pub use queue::{cancel_hold, place_hold, sweep_expired_holds};
use state::{
    active_loan, end_hold, hand_on, lock_item, lock_member, next_waiting, ready_hold,
    refuse_if_overdue, set_status, visible_loan,
};
pub use state::{release_item, release_member};

/// `now + period`, saturating (a period is a setting, and may be huge).
pub fn after(now: DateTime<Utc>, period: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(period)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When a member at `position` in an item's queue (1 = next) can expect it: from the current
/// loan's due date (`due`; now when the item is not on loan, or the loan is overdue), one loan
/// period per member ahead of them. An estimate: returns come early or late.
pub fn estimate(
    rules: &Rules,
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    position: usize,
) -> DateTime<Utc> {
    let from = due.map_or(now, |due| due.max(now));
    let ahead = u32::try_from(position.saturating_sub(1)).unwrap_or(u32::MAX);
    after(from, rules.loan_period.saturating_mul(ahead))
}

/// Lends an item to `member_id`: it is on the shelf, or on the hold shelf for this member (whose
/// ready hold is then fulfilled).
pub async fn check_out(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &Rules,
    item_id: i64,
    member_id: i64,
    clock: &impl Now,
) -> Result<loans::Model, AppError> {
    let txn = crate::domain::begin_write(db).await?;
    let mut changes = Changes::new();
    lock_member(&txn, member_id).await?;
    let item = lock_item(&txn, item_id).await?;
    let now = clock.now();
    let ready_hold = match item.status {
        ItemStatus::Available => None,
        ItemStatus::OnHoldShelf => match ready_hold(&txn, item_id).await? {
            Some(hold) if hold.member_id == member_id => Some(hold),
            _ => return Err(not_available("it is on the hold shelf for another member")),
        },
        ItemStatus::OnLoan => return Err(not_available("it is on loan")),
        ItemStatus::Unavailable => return Err(not_available("it is out of circulation")),
    };
    refuse_if_overdue(&txn, member_id, now).await?;
    let active = Loans::find()
        .filter(loans::Column::BorrowerId.eq(member_id))
        .filter(loans::Column::ReturnedAt.is_null())
        .count(&txn)
        .await?;
    if active >= u64::from(rules.max_loans_per_member) {
        return Err(AppError::refused(
            Reason::LoanLimit,
            format!(
                "the member has {active} items on loan; at most {} are allowed (MAX_LOANS_PER_MEMBER)",
                rules.max_loans_per_member
            ),
        ));
    }
    if let Some(hold) = ready_hold {
        end_hold(&txn, &mut changes, hold, HoldStatus::Fulfilled, now).await?;
    }
    let loan = loans::ActiveModel {
        item_id: Set(item_id),
        borrower_id: Set(Some(member_id)),
        checked_out_at: Set(now),
        due_at: Set(after(now, rules.loan_period)),
        returned_at: Set(None),
        renewal_count: Set(0),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    set_status(&txn, &mut changes, item, ItemStatus::OnLoan).await?;
    changes.commit(txn, bus).await?;
    Ok(loan)
}

/// Ends the item's active loan and hands the item to the first member waiting, if any.
pub async fn return_item(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &Rules,
    item_id: i64,
    clock: &impl Now,
) -> Result<loans::Model, AppError> {
    let txn = crate::domain::begin_write(db).await?;
    let mut changes = Changes::new();
    let item = lock_item(&txn, item_id).await?;
    let now = clock.now();
    let loan = active_loan(&txn, item_id)
        .await?
        .ok_or_else(|| AppError::refused(Reason::NotOnLoan, "the item is not on loan"))?;
    let mut row = loan.into_active_model();
    row.returned_at = Set(Some(now));
    let loan = row.update(&txn).await?;
    hand_on(&txn, &mut changes, rules, item, now).await?;
    changes.commit(txn, bus).await?;
    Ok(loan)
}

/// Renews a loan of `viewer`'s (or any, for an admin): due `LOAN_PERIOD` from now, never earlier
/// than it was; refused while anyone waits for the item, and after `MAX_RENEWALS`.
pub async fn renew_loan(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &Rules,
    viewer: &Viewer,
    loan_id: i64,
    clock: &impl Now,
) -> Result<loans::Model, AppError> {
    let txn = crate::domain::begin_write(db).await?;
    let mut changes = Changes::new();
    let seen = visible_loan(&txn, viewer, loan_id).await?;
    lock_item(&txn, seen.item_id).await?;
    let now = clock.now();
    let loan = visible_loan(&txn, viewer, loan_id).await?;
    if loan.returned_at.is_some() {
        return Err(AppError::refused(
            Reason::NotOnLoan,
            "the loan has ended: the item was returned",
        ));
    }
    if next_waiting(&txn, loan.item_id).await?.is_some() {
        return Err(AppError::refused(
            Reason::HoldsWaiting,
            "members are waiting for this item, so it cannot be renewed",
        ));
    }
    if loan.renewal_count >= i32::try_from(rules.max_renewals).unwrap_or(i32::MAX) {
        return Err(AppError::refused(
            Reason::RenewalLimit,
            format!(
                "the loan has been renewed {} times; at most {} are allowed (MAX_RENEWALS)",
                loan.renewal_count, rules.max_renewals
            ),
        ));
    }
    let due_at = after(now, rules.loan_period).max(loan.due_at);
    let renewals = loan.renewal_count + 1;
    let mut row = loan.into_active_model();
    row.due_at = Set(due_at);
    row.renewal_count = Set(renewals);
    let loan = row.update(&txn).await?;
    changes.note(Event::Item { id: loan.item_id });
    changes.commit(txn, bus).await?;
    Ok(loan)
}

/// Takes an item on the shelf out of circulation (`available: false`; waiting holds keep their
/// places), or puts it back (`true`), handing it to the first member waiting. Asking for the state
/// an item is already in changes nothing.
pub async fn set_available(
    db: &DatabaseConnection,
    bus: &Bus,
    rules: &Rules,
    item_id: i64,
    available: bool,
    clock: &impl Now,
) -> Result<items::Model, AppError> {
    let txn = crate::domain::begin_write(db).await?;
    let mut changes = Changes::new();
    let item = lock_item(&txn, item_id).await?;
    let now = clock.now();
    let item = match (available, item.status) {
        (false, ItemStatus::Available) => {
            set_status(&txn, &mut changes, item, ItemStatus::Unavailable).await?
        }
        (false, ItemStatus::OnLoan) => {
            return Err(AppError::refused(
                Reason::ItemOnLoan,
                "the item is on loan: return it first",
            ));
        }
        (false, ItemStatus::OnHoldShelf) => {
            return Err(not_available(
                "it is on the hold shelf for a member: cancel that hold first",
            ));
        }
        (true, ItemStatus::Unavailable) => hand_on(&txn, &mut changes, rules, item, now).await?,
        _ => item,
    };
    changes.commit(txn, bus).await?;
    Ok(item)
}

/// Whether `viewer` may see who borrows or holds what for `member_id`: themselves, or an admin.
pub fn may_see_member(viewer: Option<&Viewer>, member_id: Option<i64>) -> bool {
    viewer.is_some_and(|v| v.user.role == Role::Admin || Some(v.user.id) == member_id)
}

fn not_available(why: &str) -> AppError {
    AppError::refused(
        Reason::ItemNotAvailable,
        format!("the item cannot be lent now: {why}"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn estimates_count_loan_periods_from_the_due_date_never_from_the_past() {
        let rules = crate::config::Config::from_lookup(|_| None)
            .unwrap()
            .lending;
        let now = DateTime::from_timestamp(1_760_000_000, 0).unwrap();
        let period = TimeDelta::from_std(rules.loan_period).unwrap();
        let due = now + TimeDelta::days(3);
        assert_eq!(estimate(&rules, Some(due), now, 1), due);
        assert_eq!(estimate(&rules, Some(due), now, 3), due + period * 2);
        assert_eq!(estimate(&rules, None, now, 2), now + period);
        // An overdue loan: from now, not from the past due date.
        let overdue = now - TimeDelta::days(2);
        assert_eq!(estimate(&rules, Some(overdue), now, 1), now);
    }
}
