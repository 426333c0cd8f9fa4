//! `Subscription`: live updates over WebSocket (`http::ws`), picked out of this instance's
//! [`Hub`]. Each event's rows arrive loaded; a subscription hands them to its own loaders (which
//! forget the previous event first) and the payload is resolved like a query's answer, with the
//! same privacy rules for who is asking.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::context::{ContextExt, parse_id};
use super::item::Item;
use super::lending::Hold;
use super::loaders::Loaders;
use super::post::Post;
use crate::auth::{Asker, Identity};
use crate::error::AppError;
use crate::live::{Hub, ItemState, Update};

/// The most items one `itemChanged` may name.
const MAX_WATCHED: usize = 100;

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// An item changed: its status, due date, queue length or details. Sends the item's current
    /// state; watches the items `ids`, or every item when `ids` is left out.
    async fn item_changed(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Item>> + use<>> {
        if ids.as_ref().is_some_and(|ids| ids.len() > MAX_WATCHED) {
            return Err(AppError::bad_input(
                "ids",
                format!("watch at most {MAX_WATCHED} items (or leave `ids` out for every item)"),
            )
            .into());
        }
        let watched: Option<Vec<i64>> = ids
            .map(|ids| ids.iter().map(|id| parse_id("ids", id)).collect())
            .transpose()?;
        let (hub, loaders) = (ctx.hub()?.clone(), ctx.loaders()?.clone());
        let mut updates = hub.subscribe();
        let wanted: Option<HashSet<i64>> = watched.as_ref().map(|w| w.iter().copied().collect());
        Ok(async_stream::stream! {
            loop {
                let states: Vec<Arc<ItemState>> = match updates.recv().await {
                    Ok(update) => match &*update {
                        Update::Items(states) => states
                            .iter()
                            .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.item.id)))
                            .cloned()
                            .collect(),
                        // Every item would be too much to resend: a catalogue-wide watcher
                        // refetches the list it shows (the README says so).
                        Update::Resync => match &watched {
                            Some(ids) => match hub.items(ids).await {
                                Ok(states) => states,
                                Err(e) => {
                                    yield Err(AppError::from(e).into());
                                    continue;
                                }
                            },
                            None => Vec::new(),
                        },
                        _ => Vec::new(),
                    },
                    Err(RecvError::Lagged(_)) => {
                        yield Err(AppError::SlowSubscriber.into());
                        return;
                    }
                    Err(RecvError::Closed) => return,
                };
                for state in states {
                    loaders.forget();
                    loaders.circulation().feed(&state).await;
                    yield Ok(Item(state.item.clone()));
                }
            }
        })
    }

    /// One of your holds changed: its position in the queue, or it became `READY`, `FULFILLED`,
    /// `EXPIRED` or `CANCELLED`; also a hold you have just placed. Sends the hold's current
    /// state. Signed in only; ends (`UNAUTHENTICATED`) when your session does.
    async fn my_hold_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Hold>> + use<>> {
        let member = ctx.require_user()?.user.id;
        // Holds sent while open: after a gap, their end (if they ended) is sent too.
        let mut open_seen: Vec<i64> = Vec::new();
        let (hub, loaders) = (ctx.hub()?.clone(), ctx.loaders()?.clone());
        let mut who = ctx.data::<Asker>()?.watch();
        let mut updates = hub.subscribe();
        Ok(async_stream::stream! {
            loop {
                let next = tokio::select! {
                    changed = who.changed() => Next::Identity(changed.is_ok()),
                    update = updates.recv() => Next::Update(update),
                };
                let update = match next {
                    Next::Identity(open) => {
                        let still = open && is_member(&who.borrow_and_update(), member);
                        if still {
                            continue;
                        }
                        yield Err(AppError::SessionEnded.into());
                        return;
                    }
                    Next::Update(Ok(update)) => update,
                    Next::Update(Err(RecvError::Lagged(_))) => {
                        yield Err(AppError::SlowSubscriber.into());
                        return;
                    }
                    Next::Update(Err(RecvError::Closed)) => return,
                };
                let holds = match &*update {
                    Update::Holds(holds) => holds
                        .iter()
                        .filter(|h| h.hold.member_id == member)
                        .map(|h| (h.hold.clone(), Arc::clone(&h.item)))
                        .collect(),
                    Update::Resync => match hub.holds_of(member, &open_seen).await {
                        Ok(holds) => holds.into_iter().map(|h| (h.hold, h.item)).collect(),
                        Err(e) => {
                            yield Err(AppError::from(e).into());
                            continue;
                        }
                    },
                    _ => Vec::new(),
                };
                for (hold, item) in holds {
                    open_seen.retain(|id| *id != hold.id);
                    if hold.status.is_open() {
                        open_seen.push(hold.id);
                    }
                    loaders.forget();
                    loaders.circulation().feed(&item).await;
                    yield Ok(Hold(hold));
                }
            }
        })
    }

    /// A new post was published (only `authorId`'s, when given).
    async fn post_added(
        &self,
        ctx: &Context<'_>,
        author_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Post>> + use<>> {
        let author = author_id.map(|id| parse_id("authorId", &id)).transpose()?;
        let loaders: Loaders = ctx.loaders()?.clone();
        let mut updates = ctx.hub()?.subscribe();
        Ok(async_stream::stream! {
            loop {
                let update = match updates.recv().await {
                    Ok(update) => update,
                    Err(RecvError::Lagged(_)) => {
                        yield Err(AppError::SlowSubscriber.into());
                        return;
                    }
                    Err(RecvError::Closed) => return,
                };
                let Update::Posts(posts) = &*update else {
                    continue;
                };
                for state in posts {
                    if author.is_some_and(|a| a != state.post.author_id) {
                        continue;
                    }
                    loaders.forget();
                    loaders.prime_users(state.author.iter().cloned()).await;
                    yield Ok(Post(state.post.clone()));
                }
            }
        })
    }
}

enum Next {
    Identity(bool),
    Update(Result<Arc<Update>, RecvError>),
}

fn is_member(identity: &Identity, member: i64) -> bool {
    identity.viewer().is_some_and(|v| v.user.id == member)
}

/// The hub, as a resolver reads it.
trait HubExt {
    fn hub(&self) -> Result<&Hub, AppError>;
}

impl HubExt for Context<'_> {
    fn hub(&self) -> Result<&Hub, AppError> {
        self.data::<Hub>()
            .map_err(|e| AppError::internal(e.message))
    }
}
