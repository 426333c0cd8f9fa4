//! What changed, announced to live subscriptions: each mutation collects its [`Changes`] and
//! commits them with its transaction. On PostgreSQL they go out with `pg_notify` inside the
//! transaction, so only committed changes are announced and every instance hears them; on SQLite
//! (one process) through an in-process channel, after the commit. A notification carries ids
//! only: the listeners load the rows (`crate::live`).

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The PostgreSQL channel every instance listens on.
pub const CHANNEL: &str = "tkc_events";

/// A notification's payload stays far under PostgreSQL's 8,000-byte limit.
const MAX_PAYLOAD: usize = 4000;

/// One change, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "lowercase")]
pub enum Event {
    /// An item's details, status, due date or queue length changed.
    Item { id: i64 },
    /// A hold was placed or changed state.
    Hold { id: i64 },
    /// An item's queue moved: every waiting hold on it may have a new position.
    Queue { item: i64 },
    /// A post was written.
    Post { id: i64 },
    /// A user's sessions or role changed (signed out, password changed, role changed, deleted).
    Account { user: i64 },
}

/// The events of one transaction, in the order they were noted, each once.
#[derive(Debug, Default)]
pub struct Changes(Vec<Event>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a change (a repeat is kept once).
    pub fn note(&mut self, event: Event) {
        if !self.0.contains(&event) {
            self.0.push(event);
        }
    }

    /// An item and its queue changed (a hold left it, or became ready).
    pub fn queue(&mut self, item: i64) {
        self.note(Event::Item { id: item });
        self.note(Event::Queue { item });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Commits `txn` with these changes: announced in it on PostgreSQL, after it elsewhere.
    pub async fn commit(self, txn: DatabaseTransaction, bus: &Bus) -> Result<(), DbErr> {
        if self.0.is_empty() {
            return txn.commit().await;
        }
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            for payload in payloads(&self.0) {
                txn.execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                ))
                .await?;
            }
            txn.commit().await
        } else {
            txn.commit().await?;
            bus.send(self.0);
            Ok(())
        }
    }
}

/// The payloads that carry `events`: JSON arrays of at most [`MAX_PAYLOAD`] bytes.
pub fn payloads(events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for event in events {
        let Ok(text) = serde_json::to_string(event) else {
            continue;
        };
        if size + text.len() + 1 > MAX_PAYLOAD && !current.is_empty() {
            out.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += text.len() + 1;
        current.push(text);
    }
    if !current.is_empty() {
        out.push(format!("[{}]", current.join(",")));
    }
    out
}

/// The events of one payload; `None` for a payload that is not ours.
pub fn parse(payload: &str) -> Option<Vec<Event>> {
    serde_json::from_str(payload).ok()
}

/// The in-process channel of a SQLite server (PostgreSQL carries its events itself): bounded, so
/// a listener that falls behind loses events, and knows it (`Lagged`) and catches up.
#[derive(Clone, Debug)]
pub struct Bus(Option<broadcast::Sender<Arc<[Event]>>>);

impl Bus {
    /// A channel holding up to `capacity` transactions' events for its listeners.
    pub fn new(capacity: usize) -> Self {
        Self(Some(broadcast::channel(capacity.max(1)).0))
    }

    /// A bus nobody listens to (a command-line tool's, or seeding's).
    pub fn detached() -> Self {
        Self(None)
    }

    /// Listens to what is sent from now on.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Arc<[Event]>>> {
        self.0.as_ref().map(broadcast::Sender::subscribe)
    }

    fn send(&self, events: Vec<Event>) {
        if let Some(sender) = &self.0 {
            // No receiver is fine: nobody is subscribed.
            sender.send(events.into()).ok();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_small_and_carry_every_event() {
        let events: Vec<Event> = (0..2000).map(|id| Event::Hold { id }).collect();
        let split = payloads(&events);
        assert!(split.len() > 1);
        assert!(split.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let back: Vec<Event> = split.iter().flat_map(|p| parse(p).unwrap()).collect();
        assert_eq!(back, events);
        assert_eq!(
            payloads(&[Event::Item { id: 7 }]),
            vec![r#"[{"k":"item","id":7}]"#.to_owned()]
        );
        assert!(parse("not json").is_none());
    }
}
