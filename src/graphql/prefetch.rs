//! Deterministic batching. A DataLoader gathers keys for a short delay and then runs its batch;
//! keys that arrive later (a slow resolver, a busy machine) make a second batch. So list fields
//! look ahead at what their nodes will ask for and load it for the whole page at once; the
//! loaders' caches then answer each node, and the cost of a page does not depend on timing.

use async_graphql::{Context, Lookahead, Value};
use futures_util::future::try_join_all;

use super::context::ContextExt;
use crate::domain::page::PageRequest;
use crate::error::AppError;

/// For a page of posts: their authors, and what is asked of the authors.
pub async fn for_posts(ctx: &Context<'_>, author_ids: &[i64]) -> Result<(), AppError> {
    let author = ctx
        .look_ahead()
        .field("edges")
        .field("node")
        .field("author");
    if !author.exists() || author_ids.is_empty() {
        return Ok(());
    }
    let mut ids = author_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let loaders = ctx.loaders()?;
    let (users, fields) = tokio::join!(loaders.prefetch_users(&ids), for_users(ctx, &author, &ids));
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
    let pages: Vec<PageRequest> = posts
        .selection_fields()
        .into_iter()
        .filter(|field| {
            let selection = Lookahead::from(*field);
            selection.field("edges").exists() || selection.field("pageInfo").exists()
        })
        .filter_map(|field| page_of(&field.arguments().ok()?))
        .collect();

    let counts = async {
        if counts {
            loaders.prefetch_post_counts(ids).await
        } else {
            Ok(())
        }
    };
    let pages = try_join_all(pages.into_iter().map(|p| loaders.prefetch_posts_of(ids, p)));
    let (counts, pages) = tokio::join!(counts, pages);
    counts.and(pages.map(|_| ()))
}

/// The page a `posts(first:, after:)` selection asks for; `None` if its arguments are invalid
/// (its resolver will say so).
fn page_of(arguments: &[(async_graphql::Name, Value)]) -> Option<PageRequest> {
    let mut first = None;
    let mut after = None;
    for (name, value) in arguments {
        match (name.as_str(), value) {
            ("first", Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("first", Value::Null) => {}
            ("after", Value::String(s)) => after = Some(s.as_str()),
            ("after", Value::Null) => {}
            _ => return None,
        }
    }
    PageRequest::new(first, after).ok()
}
