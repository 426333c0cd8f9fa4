//! Batch loaders, created per request (a shared cache would leak across users): however many
//! posts or users a page holds, each relation costs one statement. A list that knows the keys of
//! its page loads the relation at once and feeds the loader's cache (`prefetch_*`); the loaders'
//! batch window (a task and a timer per batch) is left to lookups no list foresaw.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{DatabaseConnection, DbErr};

use crate::domain::page::{Page, PageRequest};
use crate::domain::{posts, users};
use crate::entity::{posts::Model as PostRow, users::Model as UserRow};
use crate::error::AppError;

/// This request's loaders (the operations of one batched request share them).
#[derive(Clone)]
pub struct Loaders {
    db: DatabaseConnection,
    users: Arc<DataLoader<UsersById, HashMapCache>>,
    post_counts: Arc<DataLoader<PostCountByAuthor, HashMapCache>>,
    author_posts: Arc<DataLoader<PostsByAuthor, HashMapCache>>,
    /// Loans and holds: made on first use, so that a request without lending fields pays nothing.
    circulation: Arc<std::sync::OnceLock<super::circulation::Circulation>>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            circulation: Arc::default(),
            db: db.clone(),
            users: Arc::new(DataLoader::with_cache(
                UsersById(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            )),
            post_counts: Arc::new(DataLoader::with_cache(
                PostCountByAuthor(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            )),
            author_posts: Arc::new(DataLoader::with_cache(
                PostsByAuthor(db),
                tokio::spawn,
                HashMapCache::default(),
            )),
        }
    }

    /// The lending loaders of this request.
    pub fn circulation(&self) -> &super::circulation::Circulation {
        self.circulation
            .get_or_init(|| super::circulation::Circulation::new(&self.db))
    }

    /// A user by id (batched with every other lookup of this request), shared: a page of posts by
    /// few authors hands out the same row many times.
    pub async fn user(&self, id: i64) -> Result<Option<Arc<UserRow>>, AppError> {
        Ok(self.users.load_one(id).await?)
    }

    /// Tells the loader about users already at hand, so that they are not fetched again.
    pub async fn prime_users(&self, rows: impl IntoIterator<Item = Arc<UserRow>>) {
        self.users
            .feed_many(rows.into_iter().map(|u| (u.id, u)))
            .await;
    }

    /// Loads many users at once, ahead of the fields that will ask for them one by one: one
    /// statement now, no batch window to wait for.
    pub async fn prefetch_users(&self, ids: &[i64]) -> Result<(), AppError> {
        let rows = users::by_ids(&self.db, ids).await?;
        self.users
            .feed_many(rows.into_iter().map(|(id, u)| (id, Arc::new(u))))
            .await;
        Ok(())
    }

    /// Forgets everything loaded: a live subscription's next event is resolved afresh (its
    /// loaders then hold one event's rows at most).
    pub fn forget(&self) {
        self.users.clear::<i64>();
        self.post_counts.clear::<i64>();
        self.author_posts.clear::<PostsKey>();
        if let Some(circulation) = self.circulation.get() {
            circulation.forget();
        }
    }

    /// Loads many users' post counts at once.
    pub async fn prefetch_post_counts(&self, ids: &[i64]) -> Result<(), AppError> {
        let counts = posts::count_by_author(&self.db, ids).await?;
        self.post_counts.feed_many(counts).await;
        Ok(())
    }

    /// Loads the same page of posts for many users at once.
    pub async fn prefetch_posts_of(
        &self,
        ids: &[i64],
        page: PageRequest,
        with_body: bool,
    ) -> Result<(), AppError> {
        let pages = posts::page_by_author(&self.db, ids, &page, with_body).await?;
        self.author_posts
            .feed_many(
                pages
                    .into_iter()
                    .map(|(author, rows)| ((author, page.clone(), with_body), Arc::new(rows))),
            )
            .await;
        Ok(())
    }

    /// How many posts a user has written.
    pub async fn post_count(&self, author_id: i64) -> Result<u64, AppError> {
        Ok(self
            .post_counts
            .load_one(author_id)
            .await?
            .unwrap_or_default())
    }

    /// One page of a user's posts, newest first (`with_body`: with their bodies).
    pub async fn posts_of(
        &self,
        author_id: i64,
        page: PageRequest,
        with_body: bool,
    ) -> Result<Page<PostRow>, AppError> {
        let page_of = self
            .author_posts
            .load_one((author_id, page, with_body))
            .await?;
        Ok(page_of.map_or_else(Page::empty, |p| Page::clone(&p)))
    }
}

pub struct UsersById(DatabaseConnection);

impl Loader<i64> for UsersById {
    type Value = Arc<UserRow>;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Arc<UserRow>>, Self::Error> {
        let rows = users::by_ids(&self.0, ids).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|(id, u)| (id, Arc::new(u))).collect())
    }
}

pub struct PostCountByAuthor(DatabaseConnection);

impl Loader<i64> for PostCountByAuthor {
    type Value = u64;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, u64>, Self::Error> {
        posts::count_by_author(&self.0, ids).await.map_err(Arc::new)
    }
}

/// Keyed by author, page and whether bodies are read, so that authors asked for the same page
/// share one query.
pub struct PostsByAuthor(DatabaseConnection);

type PostsKey = (i64, PageRequest, bool);

impl Loader<PostsKey> for PostsByAuthor {
    type Value = Arc<Page<PostRow>>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[PostsKey]) -> Result<HashMap<PostsKey, Self::Value>, Self::Error> {
        let mut by_page: HashMap<(PageRequest, bool), Vec<i64>> = HashMap::new();
        for (author, page, with_body) in keys {
            by_page
                .entry((page.clone(), *with_body))
                .or_default()
                .push(*author);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((page, with_body), authors) in by_page {
            let rows = posts::page_by_author(&self.0, &authors, &page, with_body)
                .await
                .map_err(Arc::new)?;
            out.extend(
                rows.into_iter()
                    .map(|(author, rows)| ((author, page.clone(), with_body), Arc::new(rows))),
            );
        }
        Ok(out)
    }
}
