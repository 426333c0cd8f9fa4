//! Live updates: each instance hears every committed change (PostgreSQL `LISTEN` on one
//! connection of its own, or the in-process [`Bus`] on SQLite), loads the changed rows once, and
//! hands them to all its subscriptions at once through a bounded broadcast. A subscription picks
//! what it watches out of each [`Update`]; what depends on the viewer (`myHold`, `currentLoan`) is
//! resolved per subscriber, the rest is never loaded again per subscriber.
//!
//! When events may have been missed (the listening connection dropped and came back, or the
//! dispatcher fell behind the bus), every subscription is told to send the current state of what
//! it watches ([`Update::Resync`]), so a gap heals itself.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{broadcast, watch};

use crate::domain::events::{self, Bus, Event};
use crate::domain::{circulation, posts, users};
use crate::entity::{holds, items, loans, posts as post_rows, users as user_rows};

/// The name the listening connection shows in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "tkc-library-listener";

/// How often the listening connection is asked whether it is alive.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// The longest wait between two attempts to reconnect the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// An item as its watchers see it: the row, its active loan and its queue.
#[derive(Debug)]
pub struct ItemState {
    pub item: items::Model,
    pub loan: Option<loans::Model>,
    pub queue: Arc<Vec<holds::Model>>,
}

/// A hold, with its item's state (its position and expected date come from it).
#[derive(Debug)]
pub struct HoldState {
    pub hold: holds::Model,
    pub item: Arc<ItemState>,
}

/// A new post and its author.
#[derive(Debug)]
pub struct PostState {
    pub post: post_rows::Model,
    pub author: Option<Arc<user_rows::Model>>,
}

/// What changed, loaded once for every subscription of this instance.
#[derive(Debug)]
pub enum Update {
    Items(Vec<Arc<ItemState>>),
    Holds(Vec<HoldState>),
    Posts(Vec<PostState>),
    /// Users whose sessions or role changed: their connections check who they are again.
    Accounts(Vec<i64>),
    /// Events may have been missed: send the current state of what you watch.
    Resync,
}

/// This instance's live updates.
#[derive(Clone)]
pub struct Hub {
    db: DatabaseConnection,
    updates: broadcast::Sender<Arc<Update>>,
}

impl Hub {
    /// A hub whose subscriptions may fall `buffer` updates behind before they are ended.
    pub fn new(db: DatabaseConnection, buffer: usize) -> Self {
        Self {
            db,
            updates: broadcast::channel(buffer.max(1)).0,
        }
    }

    /// Every update from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.updates.subscribe()
    }

    fn publish(&self, update: Update) {
        // No subscriber is fine.
        self.updates.send(Arc::new(update)).ok();
    }

    /// Loads what `events` changed (a few statements, whatever the number of subscribers) and
    /// hands it to every subscription.
    pub async fn dispatch(&self, events: &[Event]) {
        match self.load(events).await {
            Ok(updates) => {
                for update in updates {
                    self.publish(update);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not load a change for live subscriptions");
                self.publish(Update::Resync);
            }
        }
    }

    /// The current state of `ids` (the ones that exist), in one go.
    pub async fn items(&self, ids: &[i64]) -> Result<Vec<Arc<ItemState>>, DbErr> {
        let mut states = self.item_states(ids).await?;
        Ok(ids.iter().filter_map(|id| states.remove(id)).collect())
    }

    /// A member's open holds as they are now, and the holds `also` (ended ones the subscriber has
    /// seen open: their end is news to it).
    pub async fn holds_of(&self, member_id: i64, also: &[i64]) -> Result<Vec<HoldState>, DbErr> {
        let mut holds = circulation::open_holds_of_member(&self.db, member_id).await?;
        if !also.is_empty() {
            let seen = circulation::holds_by_ids(&self.db, also).await?;
            holds.extend(
                seen.into_iter()
                    .filter(|h| h.member_id == member_id && !h.status.is_open()),
            );
        }
        self.hold_states(holds).await
    }

    async fn load(&self, events: &[Event]) -> Result<Vec<Update>, DbErr> {
        let mut item_ids = BTreeSet::new();
        let mut hold_ids = BTreeSet::new();
        let mut queues = BTreeSet::new();
        let mut post_ids = BTreeSet::new();
        let mut accounts = Vec::new();
        for event in events {
            match *event {
                Event::Item { id } => {
                    item_ids.insert(id);
                }
                Event::Hold { id } => {
                    hold_ids.insert(id);
                }
                Event::Queue { item } => {
                    queues.insert(item);
                    item_ids.insert(item);
                }
                Event::Post { id } => {
                    post_ids.insert(id);
                }
                Event::Account { user } => accounts.push(user),
            }
        }
        let mut updates = Vec::new();
        if !accounts.is_empty() {
            updates.push(Update::Accounts(accounts));
        }
        let holds = match hold_ids.is_empty() {
            true => Vec::new(),
            false => {
                let ids: Vec<i64> = hold_ids.iter().copied().collect();
                circulation::holds_by_ids(&self.db, &ids).await?
            }
        };
        item_ids.extend(holds.iter().map(|h| h.item_id));
        if !item_ids.is_empty() {
            let ids: Vec<i64> = item_ids.iter().copied().collect();
            let states = self.item_states(&ids).await?;
            // The holds named, and every waiting hold of a queue that moved.
            let mut changed: Vec<HoldState> = Vec::new();
            for hold in holds {
                if let Some(item) = states.get(&hold.item_id) {
                    changed.push(HoldState {
                        hold,
                        item: Arc::clone(item),
                    });
                }
            }
            for item_id in &queues {
                let Some(item) = states.get(item_id) else {
                    continue;
                };
                for hold in item.queue.iter() {
                    if !hold_ids.contains(&hold.id) {
                        changed.push(HoldState {
                            hold: hold.clone(),
                            item: Arc::clone(item),
                        });
                    }
                }
            }
            let items: Vec<Arc<ItemState>> = ids
                .iter()
                .filter_map(|id| states.get(id).cloned())
                .collect();
            if !items.is_empty() {
                updates.push(Update::Items(items));
            }
            if !changed.is_empty() {
                updates.push(Update::Holds(changed));
            }
        }
        if !post_ids.is_empty() {
            let ids: Vec<i64> = post_ids.into_iter().collect();
            let found = posts::by_ids(&self.db, &ids).await?;
            let author_ids: Vec<i64> = found.iter().map(|p| p.author_id).collect();
            let mut authors = users::by_ids(&self.db, &author_ids).await?;
            let mut shared: HashMap<i64, Arc<user_rows::Model>> = HashMap::new();
            let posts = found
                .into_iter()
                .map(|post| {
                    let author = match shared.get(&post.author_id) {
                        Some(author) => Some(Arc::clone(author)),
                        None => authors.remove(&post.author_id).map(|a| {
                            let a = Arc::new(a);
                            shared.insert(post.author_id, Arc::clone(&a));
                            a
                        }),
                    };
                    PostState { post, author }
                })
                .collect::<Vec<_>>();
            if !posts.is_empty() {
                updates.push(Update::Posts(posts));
            }
        }
        Ok(updates)
    }

    async fn item_states(&self, ids: &[i64]) -> Result<HashMap<i64, Arc<ItemState>>, DbErr> {
        let (items, loans, queues) = tokio::try_join!(
            circulation::items_by_ids(&self.db, ids),
            circulation::active_loans(&self.db, ids),
            circulation::queues(&self.db, ids),
        )?;
        let (mut loans, mut queues) = (loans, queues);
        Ok(items
            .into_iter()
            .map(|(id, item)| {
                let state = ItemState {
                    item,
                    loan: loans.remove(&id),
                    queue: Arc::new(queues.remove(&id).unwrap_or_default()),
                };
                (id, Arc::new(state))
            })
            .collect())
    }

    async fn hold_states(&self, holds: Vec<holds::Model>) -> Result<Vec<HoldState>, DbErr> {
        let ids: Vec<i64> = holds.iter().map(|h| h.item_id).collect();
        let states = self.item_states(&ids).await?;
        Ok(holds
            .into_iter()
            .filter_map(|hold| {
                let item = Arc::clone(states.get(&hold.item_id)?);
                Some(HoldState { hold, item })
            })
            .collect())
    }
}

/// Where this instance hears of changes.
pub enum Source {
    /// PostgreSQL: `LISTEN` on a connection of its own, to this database.
    Postgres(Box<PgConnectOptions>),
    /// SQLite: the in-process bus.
    Local(Bus),
}

/// Hands every change `source` announces to `hub`'s subscriptions until `stopped`.
pub async fn run(hub: Hub, source: Source, stopped: watch::Receiver<bool>) {
    match source {
        Source::Postgres(options) => listen(hub, *options, stopped).await,
        Source::Local(bus) => relay(hub, bus, stopped).await,
    }
}

async fn relay(hub: Hub, bus: Bus, mut stopped: watch::Receiver<bool>) {
    let Some(mut events) = bus.subscribe() else {
        return;
    };
    loop {
        let received = tokio::select! {
            received = events.recv() => received,
            _ = stopped.wait_for(|s| *s) => return,
        };
        match received {
            Ok(events) => hub.dispatch(&events).await,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live updates fell behind; resending current state");
                hub.publish(Update::Resync);
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One listening connection: connected, `LISTEN`ing, and on any failure reconnected with backoff
/// (100 ms doubling to 5 s); after each reconnection every subscription resends current state.
async fn listen(hub: Hub, options: PgConnectOptions, mut stopped: watch::Receiver<bool>) {
    let options = options.application_name(LISTENER_NAME);
    let mut backoff = Duration::from_millis(100);
    let mut connected_before = false;
    loop {
        match connect(&options).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                if connected_before {
                    tracing::info!("live updates: listening again; resending current state");
                }
                // Also after the first connection: changes made before it are sent as they are.
                hub.publish(Update::Resync);
                connected_before = true;
                let mut heartbeat =
                    tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
                loop {
                    let received = tokio::select! {
                        received = listener.try_recv() => Some(received),
                        _ = heartbeat.tick() => None,
                        _ = stopped.wait_for(|s| *s) => return,
                    };
                    let Some(received) = received else {
                        // A connection dropped without a word (a NAT, a cable) is found here.
                        let alive = tokio::time::timeout(
                            Duration::from_secs(5),
                            sea_orm::sqlx::query("SELECT 1").execute(&mut listener),
                        )
                        .await;
                        if matches!(alive, Ok(Ok(_))) {
                            continue;
                        }
                        tracing::warn!("live updates: the listening connection stopped answering");
                        break;
                    };
                    match received {
                        Ok(Some(notification)) => match events::parse(notification.payload()) {
                            Some(events) => hub.dispatch(&events).await,
                            None => tracing::warn!("ignored a malformed live notification"),
                        },
                        Ok(None) => {
                            tracing::warn!("live updates: the listening connection was lost");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "live updates: the listening connection failed");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, ?backoff, "live updates: cannot listen; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect(options: &PgConnectOptions) -> Result<PgListener, sea_orm::sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // Only this listener holds the connection; a lost one is replaced by `listen`, which then
    // has every subscription resend current state.
    listener.ignore_pool_close_event(true);
    listener.eager_reconnect(false);
    listener.listen(events::CHANNEL).await?;
    Ok(listener)
}
