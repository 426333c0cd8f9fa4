//! Users in GraphQL: `User`, `Role`, `user`, `userByUsername`, `users`. A `User` is built from a
//! row but shows only what is public: the password hash has no field to leak through.

use async_graphql::{Context, ID, Lookahead, Object};
use futures_util::future::try_join_all;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tkc_macros::resolvers;

use super::connection::{self, connection};
use super::context::{ContextExt, nullable, parse_id};
use super::lending::{HoldConnection, LoanConnection, hold_page, loan_page};
use super::post::{self, Post, PostConnection};
use crate::auth::Identity;
use crate::domain::circulation::LoanFilter;
use crate::domain::page::PageRequest;
use crate::domain::users::{UserFilter, UserOrder};
use crate::domain::{lending, signin, users};
use crate::entity::users::Model;
use crate::error::AppError;

/// What a user may do: the entity's own enum (declared once, in `entity::users`).
pub use crate::entity::users::Role;

/// A member of the library.
pub struct User {
    row: Arc<Model>,
}

impl User {
    pub fn new(row: Model) -> Self {
        Self { row: Arc::new(row) }
    }

    /// A user whose row is shared (by the request's loader).
    pub fn shared(row: Arc<Model>) -> Self {
        Self { row }
    }

    /// What a page of users loads ahead, before its nodes resolve (see [`super::loaders`]), as
    /// `user` (a `User` selection) asks: each `posts` page (one statement per distinct page
    /// asked for) and the post counts.
    pub async fn prefetch(
        ctx: &Context<'_>,
        user: &Lookahead<'_>,
        ids: &[i64],
    ) -> Result<(), AppError> {
        if ids.is_empty() {
            return Ok(());
        }
        let loaders = ctx.loaders()?;
        let posts = user.field("posts");
        let counts = user.field("postCount").exists() || posts.field("totalCount").exists();
        let pages: Vec<(PageRequest, bool)> = posts
            .selection_fields()
            .into_iter()
            .filter_map(|field| {
                let selection = Lookahead::from(field);
                let wanted =
                    selection.field("edges").exists() || selection.field("pageInfo").exists();
                let with_body = selection
                    .field("edges")
                    .field("node")
                    .field("body")
                    .exists();
                let page = connection::page_of(&field)?;
                // A page with another list's cursors is refused by its resolver.
                crate::domain::posts::check_author_page(&page).ok()?;
                Some((page, with_body)).filter(|_| wanted)
            })
            .collect();
        let counts = async {
            if counts {
                loaders.prefetch_post_counts(ids).await
            } else {
                Ok(())
            }
        };
        let pages = try_join_all(
            pages
                .into_iter()
                .map(|(page, with_body)| loaders.prefetch_posts_of(ids, page, with_body)),
        );
        let (counts, pages) = tokio::join!(counts, pages);
        counts.and(pages.map(|_| ()))
    }
}

#[resolvers]
#[Object]
impl User {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// The unique name the user signs in with.
    async fn username(&self) -> &str {
        &self.row.username
    }

    /// The user's email address: shown to the user and to admins, null for anyone else.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        let visible = ctx
            .identity()
            .viewer()
            .is_some_and(|v| v.user.id == self.row.id || v.is_admin());
        visible.then_some(self.row.email.as_str())
    }

    /// What the user may do.
    async fn role(&self) -> Role {
        self.row.role
    }

    /// The file name of the user's picture.
    async fn image_file(&self) -> &str {
        &self.row.image_file
    }

    /// When the user joined (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// The user's posts, newest first.
    #[page(posts)]
    async fn posts(&self, ctx: &Context<'_>) -> async_graphql::Result<PostConnection> {
        crate::domain::posts::check_author_page(&page)?;
        let loaders = ctx.loaders()?;
        let loaded = connection::load(
            ctx,
            loaders.posts_of(self.row.id, page, post::wants_body(ctx)),
            loaders.post_count(self.row.id),
        )
        .await?;
        Post::prefetch(ctx, &loaded.0.rows, Some(&self.row)).await?;
        Ok(PostConnection::new(loaded, Post))
    }

    /// How many posts the user has written.
    async fn post_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let n = ctx.loaders()?.post_count(self.row.id).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// The user's loans, newest first (`active`: only those not returned, or only the returned);
    /// null unless the viewer is this user or an admin.
    #[page(loans)]
    async fn loans(
        &self,
        ctx: &Context<'_>,
        active: Option<bool>,
    ) -> async_graphql::Result<Option<LoanConnection>> {
        if !lending::may_see_member(ctx.identity().viewer(), Some(self.row.id)) {
            return Ok(None);
        }
        let filter = LoanFilter {
            borrower_id: Some(self.row.id),
            active,
            ..LoanFilter::default()
        };
        Ok(Some(loan_page(ctx, filter, page).await?))
    }

    /// The user's holds, newest first (`active`: only the open ones, or only the ended); null
    /// unless the viewer is this user or an admin.
    #[page(holds)]
    async fn holds(
        &self,
        ctx: &Context<'_>,
        active: Option<bool>,
    ) -> async_graphql::Result<Option<HoldConnection>> {
        if !lending::may_see_member(ctx.identity().viewer(), Some(self.row.id)) {
            return Ok(None);
        }
        Ok(Some(hold_page(ctx, self.row.id, active, page).await?))
    }
}

connection!(UserConnection, UserEdge, User, "users", "A user");

#[derive(Default)]
pub struct UserQuery;

#[resolvers]
#[Object]
impl UserQuery {
    /// One user by id; null when there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Option<async_graphql::Result<User>> {
        nullable(
            async {
                Ok(users::get(ctx.db()?, parse_id("id", &id)?)
                    .await?
                    .map(User::new))
            }
            .await,
        )
    }

    /// One user by username, in any case; null when there is none.
    async fn user_by_username(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> Option<async_graphql::Result<User>> {
        nullable(
            async {
                Ok(users::by_username(ctx.db()?, &username)
                    .await?
                    .map(User::new))
            }
            .await,
        )
    }

    /// Every member, oldest first unless `orderBy` says otherwise.
    #[page(users)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How the users are sorted.",
            default_with = "Some(UserOrder::Oldest)"
        )]
        order_by: Option<UserOrder>,
        #[graphql(desc = "Which users to list.")] filter: Option<UserFilter>,
    ) -> async_graphql::Result<UserConnection> {
        let filter = filter.unwrap_or_default();
        let order = order_by.unwrap_or_default();
        page.check(order.sort())?;
        let db = ctx.db()?;
        let (page, total) = connection::load(
            ctx,
            users::list(db, &filter, order, &page),
            users::count(db, &filter),
        )
        .await?;
        // Their posts' `author` fields will ask for these very users: hand them over now.
        let page = page.map(Arc::new);
        ctx.loaders()?.prime_users(page.rows.iter().cloned()).await;
        let ids: Vec<i64> = page.rows.iter().map(|u| u.id).collect();
        let node = ctx.look_ahead().field("edges").field("node");
        User::prefetch(ctx, &node, &ids).await?;
        Ok(UserConnection::new((page, total), User::shared))
    }
}

#[derive(Default)]
pub struct UserMutation;

#[resolvers]
#[Object]
impl UserMutation {
    /// Gives a user another role; it applies at once, to the later fields of this mutation too.
    /// The last admin cannot be demoted (`CONFLICT`).
    #[requires_role(Admin)]
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
    ) -> async_graphql::Result<User> {
        let user_id = parse_id("userId", &user_id)?;
        let user = signin::set_role(ctx.db()?, ctx.bus()?, user_id, role).await?;
        if let Some(me) = ctx.identity().viewer().filter(|v| v.user.id == user.id) {
            // Demoted or promoted themselves: the later fields of this mutation see it.
            let mut me = me.clone();
            me.user.role = user.role;
            ctx.set_identity(Identity::User(Box::new(me)));
        }
        Ok(User::new(user))
    }

    /// Deletes a user with their posts and sessions. The last admin cannot be deleted (`CONFLICT`).
    #[requires_role(Admin)]
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let user_id = parse_id("id", &id)?;
        signin::delete_user(ctx.db()?, ctx.bus()?, ctx.lending()?, user_id, ctx.clock()?).await?;
        ctx.loaders()?.circulation().forget();
        if ctx
            .identity()
            .viewer()
            .is_some_and(|v| v.user.id == user_id)
        {
            // Deleted themselves: signed out with it.
            ctx.set_identity(Identity::Anonymous);
        }
        Ok(id)
    }
}
