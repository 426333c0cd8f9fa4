//! The catalogue in GraphQL: `Item`, `item`, `items`.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use tkc_macros::resolvers;

use super::circulation::Wanted;
use super::connection::{self, connection};
use super::context::{ContextExt, nullable, parse_id};
use super::lending::{self, Hold, Loan, LoanConnection, item_fields};
use crate::domain::circulation::LoanFilter;
use crate::domain::events::{Changes, Event};
use crate::domain::items::{ItemFilter, ItemOrder};
use crate::domain::{self, items, lending as circulation_rules};
use crate::entity::items::{ItemStatus, Model};
use crate::error::AppError;

/// Something the library lends: a book, a tool, a game.
pub struct Item(pub Model);

#[resolvers]
#[Object]
impl Item {
    /// The item's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What the item is called.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        Ok(ctx.text(&self.0.name)?)
    }

    /// Details: author, edition, condition, what comes with it.
    async fn description(&self, ctx: &Context<'_>) -> Option<async_graphql::Result<&str>> {
        nullable(
            self.0
                .description
                .as_deref()
                .map(|d| ctx.text(d))
                .transpose(),
        )
    }

    /// When the item joined the catalogue (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Where the item is in circulation.
    async fn status(&self) -> ItemStatus {
        self.0.status
    }

    /// When the current loan is due back; null unless `ON_LOAN`. Public: members plan with it.
    async fn due_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        Ok(item_fields::due_at(ctx, &self.0).await?)
    }

    /// How many members wait for the item (`WAITING` holds).
    async fn hold_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let queue = ctx.loaders()?.circulation().queue(self.0.id).await?;
        Ok(i32::try_from(queue.len()).unwrap_or(i32::MAX))
    }

    /// When a hold placed now could expect the item (an estimate); null when `AVAILABLE`.
    async fn expected_available_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        if self.0.status == ItemStatus::Available {
            return Ok(None);
        }
        let waiting = ctx.loaders()?.circulation().queue(self.0.id).await?.len();
        Ok(lending::expected_at(ctx, self.0.id, waiting + 1).await?)
    }

    /// The signed-in member's open hold on the item; null for anonymous callers or none.
    async fn my_hold(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Hold>> {
        Ok(item_fields::my_hold(ctx, self.0.id).await?)
    }

    /// The item's current loan: shown to its borrower and to admins, null for everyone else.
    async fn current_loan(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Loan>> {
        Ok(item_fields::current_loan(ctx, self.0.id).await?)
    }

    /// The item's loans, newest first.
    #[requires_role(Admin)]
    #[page(loans)]
    async fn loans(&self, ctx: &Context<'_>) -> async_graphql::Result<LoanConnection> {
        let filter = LoanFilter {
            item_id: Some(self.0.id),
            ..LoanFilter::default()
        };
        lending::loan_page(ctx, filter, page).await
    }
}

impl Item {
    /// What a page of items loads ahead, as its `edges.node` selection asks: the active loans,
    /// the queues and the signed-in member's holds, one statement each.
    async fn prefetch(ctx: &Context<'_>, rows: &[Model]) -> Result<(), AppError> {
        let node = ctx.look_ahead().field("edges").field("node");
        let has = |field: &str| node.field(field).exists();
        let wanted = Wanted {
            loans: has("dueAt") || has("currentLoan") || has("expectedAvailableAt"),
            queues: has("holdCount") || has("expectedAvailableAt"),
            holds: has("myHold"),
        };
        if !(wanted.loans || wanted.queues || wanted.holds) {
            return Ok(());
        }
        let member = ctx.identity().viewer().map(|v| v.user.id);
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let loaders = ctx.loaders()?;
        loaders
            .circulation()
            .prefetch(ctx.db()?, &ids, wanted, member)
            .await
    }
}

connection!(ItemConnection, ItemEdge, Item, "items", "An item");

#[derive(Default)]
pub struct ItemQuery;

#[resolvers]
#[Object]
impl ItemQuery {
    /// One item by id; null when there is none.
    async fn item(&self, ctx: &Context<'_>, id: ID) -> Option<async_graphql::Result<Item>> {
        nullable(async { Ok(items::get(ctx.db()?, parse_id("id", &id)?).await?.map(Item)) }.await)
    }

    /// The catalogue, newest first unless `orderBy` says otherwise.
    #[page(items)]
    async fn items(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How the items are sorted.",
            default_with = "Some(ItemOrder::Newest)"
        )]
        order_by: Option<ItemOrder>,
        #[graphql(desc = "Which items to list.")] filter: Option<ItemFilter>,
        #[graphql(desc = "Shorthand for `filter: { search: … }`.")] search: Option<String>,
    ) -> async_graphql::Result<ItemConnection> {
        let mut filter = filter.unwrap_or_default();
        connection::shorthand("search", search, &mut filter.search)?;
        let order = order_by.unwrap_or_default();
        page.check(order.sort())?;
        let db = ctx.db()?;
        let loaded = connection::load(
            ctx,
            items::list(db, &filter, order, &page),
            items::count(db, &filter),
        )
        .await?;
        Item::prefetch(ctx, &loaded.0.rows).await?;
        Ok(ItemConnection::new(loaded, Item))
    }
}

/// A new item.
#[derive(InputObject)]
pub struct CreateItemInput {
    /// 1 to 200 characters.
    pub name: String,
    /// Up to 10,000 characters; blank means none.
    pub description: Option<String>,
}

/// Changes to an item: leave a field out to keep it.
#[derive(InputObject)]
pub struct UpdateItemInput {
    /// 1 to 200 characters.
    pub name: Option<String>,
    /// Up to 10,000 characters; null or blank removes it.
    pub description: MaybeUndefined<String>,
}

#[derive(Default)]
pub struct ItemMutation;

#[resolvers]
#[Object]
impl ItemMutation {
    /// Adds an item to the catalogue.
    #[requires_role(Admin)]
    async fn create_item(
        &self,
        ctx: &Context<'_>,
        input: CreateItemInput,
    ) -> async_graphql::Result<Item> {
        let txn = domain::begin_write(ctx.db()?).await?;
        let item = items::create(&txn, &input.name, input.description.as_deref()).await?;
        item_changed(item.id).commit(txn, ctx.bus()?).await?;
        Ok(Item(item))
    }

    /// Changes an item.
    #[requires_role(Admin)]
    async fn update_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateItemInput,
    ) -> async_graphql::Result<Item> {
        let id = parse_id("id", &id)?;
        let description = match &input.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(d) => Some(Some(d.as_str())),
        };
        let txn = domain::begin_write(ctx.db()?).await?;
        let item = items::update(&txn, id, input.name.as_deref(), description).await?;
        item_changed(item.id).commit(txn, ctx.bus()?).await?;
        Ok(Item(item))
    }

    /// Removes an item from the catalogue with its loan history; returns its id. Refused while
    /// the item is on loan (`ITEM_ON_LOAN`); its holds go with it.
    #[requires_role(Admin)]
    async fn delete_item(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let item_id = parse_id("id", &id)?;
        let txn = domain::begin_write(ctx.db()?).await?;
        circulation_rules::release_item(&txn, item_id).await?;
        items::delete(&txn, item_id).await?;
        txn.commit().await?;
        Ok(id)
    }
}

/// An item's details changed: its watchers hear of it.
fn item_changed(id: i64) -> Changes {
    let mut changes = Changes::new();
    changes.note(Event::Item { id });
    changes
}
