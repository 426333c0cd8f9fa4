//! Posts in GraphQL: `Post`, `post`, `posts`.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use tkc_macros::resolvers;

use super::connection::{self, connection};
use super::context::{ContextExt, nullable, parse_id};
use super::user::User;
use crate::domain::events::{Changes, Event};
use crate::domain::posts::{PostFilter, PostOrder};
use crate::domain::{self, posts};
use crate::entity::posts::Model;
use crate::entity::users::Model as UserRow;
use crate::error::AppError;

/// Something a user wrote for the community.
pub struct Post(pub Model);

#[Object]
impl Post {
    /// The post's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The headline.
    async fn title(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        Ok(ctx.text(&self.0.title)?)
    }

    /// The text.
    async fn body(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        Ok(ctx.text(&self.0.body)?)
    }

    /// When the post was written (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the post was last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let author = ctx.loaders()?.user(self.0.author_id).await?;
        // The foreign key makes a missing author impossible; if it happens, it is a bug.
        let author = author.ok_or_else(|| {
            AppError::internal(format!(
                "post {} has no author {}",
                self.0.id, self.0.author_id
            ))
        })?;
        Ok(User::shared(author))
    }
}

impl Post {
    /// What a page of posts loads ahead, before its nodes resolve (see [`super::loaders`]):
    /// their authors, and what is asked of the authors ([`User::prefetch`]). `author` is the one
    /// author of every post when the page is a user's own (nothing to fetch then).
    pub async fn prefetch(
        ctx: &Context<'_>,
        rows: &[Model],
        author: Option<&Arc<UserRow>>,
    ) -> Result<(), AppError> {
        let selection = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("author");
        if !selection.exists() || rows.is_empty() {
            return Ok(());
        }
        let loaders = ctx.loaders()?;
        if let Some(author) = author {
            loaders.prime_users([Arc::clone(author)]).await;
            return User::prefetch(ctx, &selection, &[author.id]).await;
        }
        let mut ids: Vec<i64> = rows.iter().map(|p| p.author_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let (users, fields) = tokio::join!(
            loaders.prefetch_users(&ids),
            User::prefetch(ctx, &selection, &ids)
        );
        users.and(fields)
    }
}

connection!(PostConnection, PostEdge, Post, "posts", "A post");

#[derive(Default)]
pub struct PostQuery;

#[resolvers]
#[Object]
impl PostQuery {
    /// One post by id; null when there is none.
    async fn post(&self, ctx: &Context<'_>, id: ID) -> Option<async_graphql::Result<Post>> {
        nullable(async { Ok(posts::get(ctx.db()?, parse_id("id", &id)?).await?.map(Post)) }.await)
    }

    /// Every post, newest first unless `orderBy` says otherwise.
    #[page(posts)]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How the posts are sorted.",
            default_with = "Some(PostOrder::Newest)"
        )]
        order_by: Option<PostOrder>,
        #[graphql(desc = "Which posts to list.")] filter: Option<PostFilterInput>,
        #[graphql(desc = "Shorthand for `filter: { authorId: … }`.")] author_id: Option<ID>,
    ) -> async_graphql::Result<PostConnection> {
        let filter = filter.unwrap_or_default();
        let mut author = filter
            .author_id
            .map(|id| parse_id("authorId", &id))
            .transpose()?;
        let shorthand = author_id.map(|id| parse_id("authorId", &id)).transpose()?;
        connection::shorthand("authorId", shorthand, &mut author)?;
        let filter = PostFilter {
            author_id: author,
            search: filter.search,
            created_after: filter.created_after,
            created_before: filter.created_before,
        };
        let order = order_by.unwrap_or_default();
        page.check(order.sort())?;
        let db = ctx.db()?;
        let with_body = wants_body(ctx);
        let loaded = connection::load(
            ctx,
            posts::list(db, &filter, order, &page, with_body),
            posts::count(db, &filter),
        )
        .await?;
        Post::prefetch(ctx, &loaded.0.rows, None).await?;
        Ok(PostConnection::new(loaded, Post))
    }
}

/// Which posts a list shows; every part optional.
#[derive(InputObject, Default)]
#[graphql(name = "PostFilter")]
pub struct PostFilterInput {
    /// Only the posts of this user.
    pub author_id: Option<ID>,
    /// Only posts whose title or body contains this text, in any case (`%`, `_` and `\` are
    /// matched as themselves).
    pub search: Option<String>,
    /// Only posts written after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Only posts written before this instant.
    pub created_before: Option<DateTime<Utc>>,
}

/// Whether a page of posts shows their bodies (a title list does not read them).
pub fn wants_body(ctx: &Context<'_>) -> bool {
    ctx.look_ahead()
        .field("edges")
        .field("node")
        .field("body")
        .exists()
}

/// A new post.
#[derive(InputObject)]
pub struct CreatePostInput {
    /// 1 to 100 characters.
    pub title: String,
    /// 1 to 20,000 characters.
    pub body: String,
}

/// Changes to a post: leave a field out to keep it.
#[derive(InputObject)]
pub struct UpdatePostInput {
    /// 1 to 100 characters.
    pub title: Option<String>,
    /// 1 to 20,000 characters.
    pub body: Option<String>,
}

#[derive(Default)]
pub struct PostMutation;

#[Object]
impl PostMutation {
    /// Publishes a post by the signed-in user.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> async_graphql::Result<Post> {
        let viewer = ctx.require_user()?;
        let txn = domain::begin_write(ctx.db()?).await?;
        let post = posts::create(&txn, &viewer, &input.title, &input.body).await?;
        let mut changes = Changes::new();
        changes.note(Event::Post { id: post.id });
        changes.commit(txn, ctx.bus()?).await?;
        Ok(Post(post))
    }

    /// Changes a post: its author or an admin only.
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePostInput,
    ) -> async_graphql::Result<Post> {
        let viewer = ctx.require_user()?;
        let id = parse_id("id", &id)?;
        let txn = domain::begin_write(ctx.db()?).await?;
        let post = posts::update(
            &txn,
            &viewer,
            id,
            input.title.as_deref(),
            input.body.as_deref(),
        )
        .await?;
        txn.commit().await?;
        Ok(Post(post))
    }

    /// Deletes a post: its author or an admin only; returns its id.
    async fn delete_post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.require_user()?;
        let post_id = parse_id("id", &id)?;
        let txn = domain::begin_write(ctx.db()?).await?;
        posts::delete(&txn, &viewer, post_id).await?;
        txn.commit().await?;
        Ok(id)
    }
}
