//! The lending relations of an item, batched per request: its active loan, its queue, the
//! signed-in member's hold on it, and items by id (a loan's or a hold's item). However many items
//! a page holds, each relation costs one statement: a page of items loads what its selection asks
//! for at once ([`Circulation::prefetch`]), and the loaders keep the misses too (an item with no
//! loan is not looked up again).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{DatabaseConnection, DbErr};

use crate::domain::circulation;
use crate::entity::{holds, items, loans};
use crate::error::AppError;

/// Which relations a page of items asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted {
    /// The active loans (`dueAt`, `currentLoan`, `expectedAvailableAt`).
    pub loans: bool,
    /// The queues (`holdCount`, `expectedAvailableAt`).
    pub queues: bool,
    /// The signed-in member's holds (`myHold`).
    pub holds: bool,
}

/// This request's lending loaders.
#[derive(Clone)]
pub struct Circulation {
    items: Arc<DataLoader<ItemsById, HashMapCache>>,
    loans: Arc<DataLoader<ActiveLoanByItem, HashMapCache>>,
    queues: Arc<DataLoader<QueueByItem, HashMapCache>>,
    holds: Arc<DataLoader<OpenHoldByMember, HashMapCache>>,
}

fn loader<L>(inner: L) -> Arc<DataLoader<L, HashMapCache>> {
    Arc::new(DataLoader::with_cache(
        inner,
        tokio::spawn,
        HashMapCache::default(),
    ))
}

impl Circulation {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            items: loader(ItemsById(db.clone())),
            loans: loader(ActiveLoanByItem(db.clone())),
            queues: loader(QueueByItem(db.clone())),
            holds: loader(OpenHoldByMember(db.clone())),
        }
    }

    /// Loads the relations `wanted` of a page of items at once, ahead of the fields that will ask
    /// for them one by one (`member`: the signed-in member, whose holds are wanted).
    pub async fn prefetch(
        &self,
        db: &DatabaseConnection,
        item_ids: &[i64],
        wanted: Wanted,
        member: Option<i64>,
    ) -> Result<(), AppError> {
        if item_ids.is_empty() {
            return Ok(());
        }
        let loans = async {
            if wanted.loans {
                let mut found = circulation::active_loans(db, item_ids).await?;
                let all = item_ids.iter().map(|id| (*id, found.remove(id)));
                self.loans.feed_many(all).await;
            }
            Ok::<_, AppError>(())
        };
        let queues = async {
            if wanted.queues {
                let found = circulation::queues(db, item_ids).await?;
                self.queues
                    .feed_many(found.into_iter().map(|(id, q)| (id, Arc::new(q))))
                    .await;
            }
            Ok::<_, AppError>(())
        };
        let holds = async {
            if let Some(member) = member.filter(|_| wanted.holds) {
                let mut found = circulation::open_holds_of(db, member, item_ids).await?;
                let all = item_ids.iter().map(|id| ((member, *id), found.remove(id)));
                self.holds.feed_many(all).await;
            }
            Ok::<_, AppError>(())
        };
        let (loans, queues, holds) = tokio::join!(loans, queues, holds);
        loans.and(queues).and(holds)
    }

    /// Forgets everything loaded: after a lending mutation, the later fields of the request
    /// (its answer, the next root fields) read the new state.
    pub fn forget(&self) {
        self.items.clear::<i64>();
        self.loans.clear::<i64>();
        self.queues.clear::<i64>();
        self.holds.clear::<(i64, i64)>();
    }

    /// Takes an item's state as a live update loaded it, so that its fields are not read again.
    pub async fn feed(&self, state: &crate::live::ItemState) {
        let id = state.item.id;
        self.items.feed_one(id, state.item.clone()).await;
        self.loans.feed_one(id, state.loan.clone()).await;
        self.queues.feed_one(id, Arc::clone(&state.queue)).await;
    }

    /// An item by id.
    pub async fn item(&self, id: i64) -> Result<Option<items::Model>, AppError> {
        Ok(self.items.load_one(id).await?)
    }

    /// The item's active loan, if it is on loan.
    pub async fn active_loan(&self, item_id: i64) -> Result<Option<loans::Model>, AppError> {
        Ok(self.loans.load_one(item_id).await?.flatten())
    }

    /// The item's queue: its waiting holds, first in line first.
    pub async fn queue(&self, item_id: i64) -> Result<Arc<Vec<holds::Model>>, AppError> {
        Ok(self.queues.load_one(item_id).await?.unwrap_or_default())
    }

    /// `member_id`'s open hold on the item, if any.
    pub async fn open_hold(
        &self,
        member_id: i64,
        item_id: i64,
    ) -> Result<Option<holds::Model>, AppError> {
        Ok(self.holds.load_one((member_id, item_id)).await?.flatten())
    }
}

pub struct ItemsById(DatabaseConnection);

impl Loader<i64> for ItemsById {
    type Value = items::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, items::Model>, Self::Error> {
        circulation::items_by_ids(&self.0, ids)
            .await
            .map_err(Arc::new)
    }
}

pub struct ActiveLoanByItem(DatabaseConnection);

impl Loader<i64> for ActiveLoanByItem {
    type Value = Option<loans::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut found = circulation::active_loans(&self.0, ids)
            .await
            .map_err(Arc::new)?;
        Ok(ids.iter().map(|id| (*id, found.remove(id))).collect())
    }
}

pub struct QueueByItem(DatabaseConnection);

impl Loader<i64> for QueueByItem {
    type Value = Arc<Vec<holds::Model>>;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let queues = circulation::queues(&self.0, ids).await.map_err(Arc::new)?;
        Ok(queues
            .into_iter()
            .map(|(id, q)| (id, Arc::new(q)))
            .collect())
    }
}

/// Keyed by (member, item): a request asks for one member's holds (the viewer's), so the batch
/// is grouped by member, one statement each.
pub struct OpenHoldByMember(DatabaseConnection);

impl Loader<(i64, i64)> for OpenHoldByMember {
    type Value = Option<holds::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[(i64, i64)],
    ) -> Result<HashMap<(i64, i64), Self::Value>, Self::Error> {
        let mut by_member: HashMap<i64, Vec<i64>> = HashMap::new();
        for &(member, item) in keys {
            by_member.entry(member).or_default().push(item);
        }
        let mut found = HashMap::new();
        for (member, items) in by_member {
            let mut holds = circulation::open_holds_of(&self.0, member, &items)
                .await
                .map_err(Arc::new)?;
            found.extend(
                items
                    .iter()
                    .map(|item| ((member, *item), holds.remove(item))),
            );
        }
        Ok(found)
    }
}
