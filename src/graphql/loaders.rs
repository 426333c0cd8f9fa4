//! Batch loaders, created per request (a shared cache would leak across users): however many
//! posts or users a page holds, each relation costs one statement.

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
    users: Arc<DataLoader<UsersById, HashMapCache>>,
    post_counts: Arc<DataLoader<PostCountByAuthor, HashMapCache>>,
    author_posts: Arc<DataLoader<PostsByAuthor, HashMapCache>>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
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

    /// A user by id (batched with every other lookup of this request).
    pub async fn user(&self, id: i64) -> Result<Option<UserRow>, AppError> {
        Ok(self.users.load_one(id).await?)
    }

    /// Tells the loader about users already at hand, so that they are not fetched again.
    pub async fn prime_users(&self, rows: impl IntoIterator<Item = UserRow>) {
        self.users
            .feed_many(rows.into_iter().map(|u| (u.id, u)))
            .await;
    }

    /// Loads many users in one batch, ahead of the fields that will ask for them one by one.
    pub async fn prefetch_users(&self, ids: &[i64]) -> Result<(), AppError> {
        self.users.load_many(ids.iter().copied()).await?;
        Ok(())
    }

    /// Loads many users' post counts in one batch.
    pub async fn prefetch_post_counts(&self, ids: &[i64]) -> Result<(), AppError> {
        self.post_counts.load_many(ids.iter().copied()).await?;
        Ok(())
    }

    /// Loads the same page of posts for many users in one batch.
    pub async fn prefetch_posts_of(&self, ids: &[i64], page: PageRequest) -> Result<(), AppError> {
        self.author_posts
            .load_many(ids.iter().map(|&id| (id, page)))
            .await?;
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

    /// One page of a user's posts, newest first.
    pub async fn posts_of(
        &self,
        author_id: i64,
        page: PageRequest,
    ) -> Result<Page<PostRow>, AppError> {
        let page_of = self
            .author_posts
            .load_one((author_id, page))
            .await?
            .unwrap_or_else(|| Arc::new(Vec::new()));
        Ok(Page::from_overfetch(page_of.to_vec(), page.first))
    }
}

pub struct UsersById(DatabaseConnection);

impl Loader<i64> for UsersById {
    type Value = UserRow;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, UserRow>, Self::Error> {
        users::by_ids(&self.0, ids).await.map_err(Arc::new)
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

/// Keyed by author and page, so that authors asked for the same page share one query.
pub struct PostsByAuthor(DatabaseConnection);

impl Loader<(i64, PageRequest)> for PostsByAuthor {
    /// The page's rows plus one (the over-fetched row tells whether more follow).
    type Value = Arc<Vec<PostRow>>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[(i64, PageRequest)],
    ) -> Result<HashMap<(i64, PageRequest), Self::Value>, Self::Error> {
        let mut by_page: HashMap<PageRequest, Vec<i64>> = HashMap::new();
        for (author, page) in keys {
            by_page.entry(*page).or_default().push(*author);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (page, authors) in by_page {
            let rows = posts::page_by_author(&self.0, &authors, &page)
                .await
                .map_err(Arc::new)?;
            out.extend(
                rows.into_iter()
                    .map(|(author, rows)| ((author, page), Arc::new(rows))),
            );
        }
        Ok(out)
    }
}
