//! Deterministic batching without waiting. A list knows the keys of its page before its nodes
//! resolve, so it looks ahead at what the nodes will ask for and loads it for the whole page at
//! once, feeding the loaders' caches; each node then finds its answer there. No batch window, no
//! task per batch, and the cost of a page does not depend on timing.

use std::sync::Arc;

use async_graphql::{Context, Lookahead, SelectionField, Value};
use futures_util::future::try_join_all;

use super::context::ContextExt;
use crate::domain::page::PageRequest;
use crate::entity::{posts::Model as PostRow, users::Model as UserRow};
use crate::error::AppError;

/// For a page of posts: their authors, and what is asked of the authors. `author` is the one
/// author of every post when the page is a user's own (nothing to fetch then).
pub async fn for_posts(
    ctx: &Context<'_>,
    rows: &[PostRow],
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
        return for_users(ctx, &selection, &[author.id]).await;
    }
    let mut ids: Vec<i64> = rows.iter().map(|p| p.author_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let (users, fields) = tokio::join!(
        loaders.prefetch_users(&ids),
        for_users(ctx, &selection, &ids)
    );
    users.and(fields)
}

/// For a page of users (`user` looks at a `User` selection): their post counts and post pages.
pub async fn for_users(
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
            let wanted = selection.field("edges").exists() || selection.field("pageInfo").exists();
            let with_body = selection
                .field("edges")
                .field("node")
                .field("body")
                .exists();
            Some((page_of(&field)?, with_body)).filter(|_| wanted)
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

/// The page a list selection asks for, read from its page arguments; `None` if they are invalid
/// (its resolver will say so).
fn page_of(field: &SelectionField<'_>) -> Option<PageRequest> {
    let mut first = None;
    let mut after = None;
    for (name, value) in field.arguments().ok()? {
        match (name.as_str(), value) {
            ("first", Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("after", Value::String(s)) => after = Some(s),
            (_, Value::Null) => {}
            _ => return None,
        }
    }
    PageRequest::new(first, after.as_deref()).ok()
}
