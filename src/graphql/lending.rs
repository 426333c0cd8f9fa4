//! Lending in GraphQL: `Loan`, `Hold`, the admins' `loans` list, and the lending mutations. Who
//! has or had an item shows only to that member and to admins: every path to a loan or a hold
//! passes through [`lending::may_see_member`].

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use tkc_macros::resolvers;

use super::connection::{self, connection};
use super::context::{ContextExt, parse_id};
use super::item::Item;
use super::user::User;
use crate::domain::circulation::{self, LoanFilter};
use crate::domain::lending;
use crate::domain::page::PageRequest;
use crate::entity::holds::{self, HoldStatus};
use crate::entity::items::ItemStatus;
use crate::entity::loans;
use crate::error::AppError;

/// When a member at `position` in the item's queue can expect it ([`lending::estimate`]).
pub async fn expected_at(
    ctx: &Context<'_>,
    item_id: i64,
    position: usize,
) -> Result<Option<DateTime<Utc>>, AppError> {
    let loan = ctx.loaders()?.circulation().active_loan(item_id).await?;
    let due = loan.map(|l| l.due_at);
    Ok(Some(lending::estimate(
        ctx.lending()?,
        due,
        ctx.now()?,
        position,
    )))
}

/// An item lent to a member.
pub struct Loan(pub loans::Model);

#[Object]
impl Loan {
    /// The loan's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The item lent.
    async fn item(&self, ctx: &Context<'_>) -> async_graphql::Result<Item> {
        item_of(ctx, self.0.item_id).await
    }

    /// The member who borrowed it; null once their account is deleted (the history is kept).
    async fn borrower(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.borrower_id else {
            return Ok(None);
        };
        Ok(ctx.loaders()?.user(id).await?.map(User::shared))
    }

    /// When it was checked out (UTC).
    async fn checked_out_at(&self) -> DateTime<Utc> {
        self.0.checked_out_at
    }

    /// When it is (or was) due back (UTC).
    async fn due_at(&self) -> DateTime<Utc> {
        self.0.due_at
    }

    /// When it was returned; null while the loan is active.
    async fn returned_at(&self) -> Option<DateTime<Utc>> {
        self.0.returned_at
    }

    /// How many times the loan was renewed.
    async fn renewal_count(&self) -> i32 {
        self.0.renewal_count
    }

    /// Active and past its due date.
    async fn overdue(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.0.returned_at.is_none() && self.0.due_at < ctx.now()?)
    }
}

/// A member's place in an item's queue, and what became of it.
pub struct Hold(pub holds::Model);

#[Object]
impl Hold {
    /// The hold's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The item held.
    async fn item(&self, ctx: &Context<'_>) -> async_graphql::Result<Item> {
        item_of(ctx, self.0.item_id).await
    }

    /// The member who placed it.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        Ok(ctx
            .loaders()?
            .user(self.0.member_id)
            .await?
            .map(User::shared)
            .ok_or_else(|| AppError::internal("a hold's member is missing"))?)
    }

    /// Where the hold stands.
    async fn status(&self) -> HoldStatus {
        self.0.status
    }

    /// When it was placed (UTC); the queue is first come, first served.
    async fn placed_at(&self) -> DateTime<Utc> {
        self.0.placed_at
    }

    /// Its place in the queue, 1 being next in line; null unless `WAITING`.
    async fn position(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        Ok(self
            .place(ctx)
            .await?
            .map(|p| i32::try_from(p).unwrap_or(i32::MAX)))
    }

    /// When the member can expect the item (an estimate); null unless `WAITING`.
    async fn expected_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        match self.place(ctx).await? {
            Some(position) => Ok(expected_at(ctx, self.0.item_id, position).await?),
            None => Ok(None),
        }
    }

    /// Until when the item waits on the hold shelf; null unless `READY`.
    async fn pickup_by(&self) -> Option<DateTime<Utc>> {
        self.0
            .pickup_by
            .filter(|_| self.0.status == HoldStatus::Ready)
    }

    /// When it was fulfilled, cancelled or expired; null while open.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
}

impl Hold {
    /// Its place in the queue (1 = next), if `WAITING`.
    async fn place(&self, ctx: &Context<'_>) -> Result<Option<usize>, AppError> {
        if self.0.status != HoldStatus::Waiting {
            return Ok(None);
        }
        let queue = ctx.loaders()?.circulation().queue(self.0.item_id).await?;
        Ok(queue.iter().position(|h| h.id == self.0.id).map(|i| i + 1))
    }
}

/// After a lending mutation: the rest of the request reads the new state, not what its loaders
/// had cached.
fn changed(ctx: &Context<'_>) -> Result<(), AppError> {
    ctx.loaders()?.circulation().forget();
    Ok(())
}

async fn item_of(ctx: &Context<'_>, id: i64) -> async_graphql::Result<Item> {
    Ok(ctx
        .loaders()?
        .circulation()
        .item(id)
        .await?
        .map(Item)
        .ok_or_else(|| AppError::internal("a loan's or a hold's item is missing"))?)
}

connection!(LoanConnection, LoanEdge, Loan, "loans", "A loan");
connection!(HoldConnection, HoldEdge, Hold, "holds", "A hold");

/// A page of loans as a list field answers it.
pub async fn loan_page(
    ctx: &Context<'_>,
    filter: LoanFilter,
    request: PageRequest,
) -> async_graphql::Result<LoanConnection> {
    request.check(&circulation::LOANS)?;
    let (db, now) = (ctx.db()?, ctx.now()?);
    let loaded = connection::load(
        ctx,
        circulation::loans(db, filter, now, &request),
        circulation::count_loans(db, filter, now),
    )
    .await?;
    Ok(LoanConnection::new(loaded, Loan))
}

/// A page of a member's holds as a list field answers it.
pub async fn hold_page(
    ctx: &Context<'_>,
    member_id: i64,
    active: Option<bool>,
    request: PageRequest,
) -> async_graphql::Result<HoldConnection> {
    request.check(&circulation::HOLDS)?;
    let db = ctx.db()?;
    let loaded = connection::load(
        ctx,
        circulation::holds_of(db, member_id, active, &request),
        circulation::count_holds_of(db, member_id, active),
    )
    .await?;
    Ok(HoldConnection::new(loaded, Hold))
}

#[derive(Default)]
pub struct LendingQuery;

#[resolvers]
#[Object]
impl LendingQuery {
    /// Every loan, newest first: `active` only those not returned (or only the returned),
    /// `overdue` only those past due (or only the others).
    #[requires_role(Admin)]
    #[page(loans)]
    async fn loans(
        &self,
        ctx: &Context<'_>,
        overdue: Option<bool>,
        active: Option<bool>,
    ) -> async_graphql::Result<LoanConnection> {
        let filter = LoanFilter {
            active,
            overdue,
            ..LoanFilter::default()
        };
        loan_page(ctx, filter, page).await
    }
}

#[derive(Default)]
pub struct LendingMutation;

#[resolvers]
#[Object]
impl LendingMutation {
    /// Joins the item's queue. On an item on the shelf with nobody waiting, the hold is `READY`
    /// at once (the item waits at the desk until `pickupBy`); otherwise it is `WAITING`.
    async fn place_hold(&self, ctx: &Context<'_>, item_id: ID) -> async_graphql::Result<Hold> {
        let viewer = ctx.require_user()?;
        let item_id = parse_id("itemId", &item_id)?;
        let (db, bus, rules, clock) = (ctx.db()?, ctx.bus()?, ctx.lending()?, ctx.clock()?);
        let hold = lending::place_hold(db, bus, rules, viewer.user.id, item_id, clock).await?;
        changed(ctx)?;
        Ok(Hold(hold))
    }

    /// Cancels a hold (yours, or any for an admin); a `READY` one hands the item to the next
    /// member in line.
    async fn cancel_hold(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Hold> {
        let viewer = ctx.require_user()?;
        let id = parse_id("id", &id)?;
        let (db, bus, rules, clock) = (ctx.db()?, ctx.bus()?, ctx.lending()?, ctx.clock()?);
        let done = lending::cancel_hold(db, bus, rules, &viewer, id, clock).await?;
        changed(ctx)?;
        Ok(Hold(done))
    }

    /// Lends an item to a member: it is `AVAILABLE`, or `ON_HOLD_SHELF` for this member (whose
    /// hold is then `FULFILLED`). Due `LOAN_PERIOD` from now.
    #[requires_role(Admin)]
    async fn check_out(
        &self,
        ctx: &Context<'_>,
        item_id: ID,
        member_id: ID,
    ) -> async_graphql::Result<Loan> {
        let item_id = parse_id("itemId", &item_id)?;
        let member_id = parse_id("memberId", &member_id)?;
        let (db, bus, rules, clock) = (ctx.db()?, ctx.bus()?, ctx.lending()?, ctx.clock()?);
        let done = lending::check_out(db, bus, rules, item_id, member_id, clock).await?;
        changed(ctx)?;
        Ok(Loan(done))
    }

    /// Ends the item's loan. If members wait, the first one's hold becomes `READY` (in the same
    /// transaction); otherwise the item is `AVAILABLE`.
    #[requires_role(Admin)]
    async fn return_item(&self, ctx: &Context<'_>, item_id: ID) -> async_graphql::Result<Loan> {
        let item_id = parse_id("itemId", &item_id)?;
        let (db, bus, rules, clock) = (ctx.db()?, ctx.bus()?, ctx.lending()?, ctx.clock()?);
        let done = lending::return_item(db, bus, rules, item_id, clock).await?;
        changed(ctx)?;
        Ok(Loan(done))
    }

    /// Renews a loan (yours, or any for an admin): due `LOAN_PERIOD` from now, never earlier than
    /// before. Refused while members wait for the item, and after `MAX_RENEWALS`.
    async fn renew_loan(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Loan> {
        let viewer = ctx.require_user()?;
        let id = parse_id("id", &id)?;
        let (db, bus, rules, clock) = (ctx.db()?, ctx.bus()?, ctx.lending()?, ctx.clock()?);
        let done = lending::renew_loan(db, bus, rules, &viewer, id, clock).await?;
        changed(ctx)?;
        Ok(Loan(done))
    }

    /// Takes an item on the shelf out of circulation (`available: false`; waiting holds keep
    /// their places), or puts it back (`true`), handing it to the first member waiting.
    #[requires_role(Admin)]
    async fn set_item_available(
        &self,
        ctx: &Context<'_>,
        item_id: ID,
        available: bool,
    ) -> async_graphql::Result<Item> {
        let item_id = parse_id("itemId", &item_id)?;
        let (db, bus, rules, clock) = (ctx.db()?, ctx.bus()?, ctx.lending()?, ctx.clock()?);
        let done = lending::set_available(db, bus, rules, item_id, available, clock).await?;
        changed(ctx)?;
        Ok(Item(done))
    }
}

/// The item fields lending adds, resolved for [`Item`].
pub mod item_fields {
    use super::*;

    /// The due date of the item's current loan, if it is on loan.
    pub async fn due_at(
        ctx: &Context<'_>,
        item: &crate::entity::items::Model,
    ) -> Result<Option<DateTime<Utc>>, AppError> {
        if item.status != ItemStatus::OnLoan {
            return Ok(None);
        }
        let loan = ctx.loaders()?.circulation().active_loan(item.id).await?;
        Ok(loan.map(|l| l.due_at))
    }

    /// The item's current loan, for its borrower and admins.
    pub async fn current_loan(ctx: &Context<'_>, item_id: i64) -> Result<Option<Loan>, AppError> {
        let identity = ctx.identity();
        let Some(viewer) = identity.viewer() else {
            return Ok(None);
        };
        let loan = ctx.loaders()?.circulation().active_loan(item_id).await?;
        Ok(loan
            .filter(|l| lending::may_see_member(Some(viewer), l.borrower_id))
            .map(Loan))
    }

    /// The signed-in member's open hold on the item.
    pub async fn my_hold(ctx: &Context<'_>, item_id: i64) -> Result<Option<Hold>, AppError> {
        let identity = ctx.identity();
        let Some(viewer) = identity.viewer() else {
            return Ok(None);
        };
        let hold = ctx
            .loaders()?
            .circulation()
            .open_hold(viewer.user.id, item_id)
            .await?;
        Ok(hold.map(Hold))
    }
}
