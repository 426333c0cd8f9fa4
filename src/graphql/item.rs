//! The catalogue in GraphQL: `Item`, `item`, `items`.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use tkc_macros::resolvers;

use super::connection::{self, connection, page_request};
use super::context::{ContextExt, nullable, parse_id};
use crate::domain::{self, items};
use crate::entity::items::Model;

/// Something the library lends: a book, a tool, a game.
pub struct Item(pub Model);

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

    /// The catalogue, newest first.
    #[page(items)]
    async fn items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only items whose name contains this text, in any case.")] search: Option<
            String,
        >,
    ) -> async_graphql::Result<ItemConnection> {
        let request = page_request(first, after)?;
        let db = ctx.db()?;
        let search = search.as_deref();
        let loaded = connection::load(
            ctx,
            items::list(db, search, &request),
            items::count(db, search),
        )
        .await?;
        Ok(ItemConnection::new(loaded, &request, Item))
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
        txn.commit().await?;
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
        txn.commit().await?;
        Ok(Item(item))
    }

    /// Removes an item from the catalogue; returns its id.
    #[requires_role(Admin)]
    async fn delete_item(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let item_id = parse_id("id", &id)?;
        let txn = domain::begin_write(ctx.db()?).await?;
        items::delete(&txn, item_id).await?;
        txn.commit().await?;
        Ok(id)
    }
}
