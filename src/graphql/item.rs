//! The catalogue in GraphQL: `Item`, `item`, `items`.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::connection::{Total, connection, page_request};
use super::context::{ContextExt, parse_id};
use crate::domain::items;
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
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Details: author, edition, condition, what comes with it.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// When the item joined the catalogue (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

connection!(ItemConnection, ItemEdge, Item, "items", "An item");

#[derive(Default)]
pub struct ItemQuery;

#[Object]
impl ItemQuery {
    /// One item by id; null when there is none.
    async fn item(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Item>> {
        let id = parse_id("id", &id)?;
        Ok(items::get(ctx.db()?, id).await?.map(Item))
    }

    /// The catalogue, newest first.
    async fn items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many items to return (0 to 100).", default = 20)] first: i32,
        #[graphql(desc = "Return the items after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Only items whose name contains this text, in any case.")] search: Option<
            String,
        >,
    ) -> async_graphql::Result<ItemConnection> {
        let request = page_request(Some(first), after)?;
        let page = items::list(ctx.db()?, search.as_deref(), &request).await?;
        Ok(ItemConnection::new(
            page,
            &request,
            Total::Items { search },
            Item,
        ))
    }
}
