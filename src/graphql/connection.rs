//! Relay connections: `edges { cursor node }`, `pageInfo` and `totalCount`, one type per node.
//! `totalCount` costs a query, so it runs only when asked for.

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, OutputType, Positioned, ServerResult, SimpleObject, Value,
};
use futures_util::future::try_join_all;

use super::context::ContextExt;
use crate::domain::page::{Keyed, Page, PageRequest};
use crate::domain::{items, posts, users};
use crate::error::AppError;

/// Where a page is in its list.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether more nodes follow this page.
    pub has_next_page: bool,
    /// Whether nodes come before this page (true when the page was asked for `after` a cursor).
    pub has_previous_page: bool,
    /// The cursor of the first node of this page.
    pub start_cursor: Option<String>,
    /// The cursor of the last node of this page: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// Which list a connection walks, so that `totalCount` can count it on demand.
#[derive(Debug, Clone)]
pub enum Total {
    Items { search: Option<String> },
    Posts { author_id: Option<i64> },
    AuthorPosts { author_id: i64 },
    Users,
}

impl Total {
    pub async fn count(&self, ctx: &Context<'_>) -> Result<i32, AppError> {
        let n = match self {
            Self::Items { search } => items::count(ctx.db()?, search.as_deref()).await?,
            Self::Posts { author_id } => posts::count(ctx.db()?, *author_id).await?,
            Self::AuthorPosts { author_id } => ctx.loaders()?.post_count(*author_id).await?,
            Self::Users => users::count(ctx.db()?).await?,
        };
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// Turns a page of rows into edges and `pageInfo`.
pub fn edges<M: Keyed, N, E>(
    page: Page<M>,
    request: &PageRequest,
    node: impl Fn(M) -> N,
    edge: impl Fn(String, N) -> E,
) -> (Vec<E>, PageInfo) {
    let start_cursor = page.rows.first().map(|m| m.cursor().encode());
    let end_cursor = page.rows.last().map(|m| m.cursor().encode());
    let info = PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: request.after.is_some(),
        start_cursor,
        end_cursor,
    };
    let edges = page
        .rows
        .into_iter()
        .map(|m| {
            let cursor = m.cursor().encode();
            edge(cursor, node(m))
        })
        .collect();
    (edges, info)
}

/// Declares `$connection` and `$edge` for node type `$node`.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty, $what:literal, $one:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $connection {
            pub(crate) edges: Vec<$edge>,
            pub(crate) page_info: $crate::graphql::connection::PageInfo,
            pub(crate) total: $crate::graphql::connection::Total,
        }

        #[async_graphql::Object]
        impl $connection {
            /// The nodes of this page, each with its cursor.
            async fn edges(&self) -> $crate::graphql::connection::List<'_, $edge> {
                $crate::graphql::connection::List(&self.edges)
            }

            /// Where this page is in the list.
            async fn page_info(&self) -> &$crate::graphql::connection::PageInfo {
                &self.page_info
            }

            /// How many nodes the whole list has, across all pages.
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<i32> {
                Ok(self.total.count(ctx).await?)
            }
        }

        impl $connection {
            pub(crate) fn new<M: $crate::domain::page::Keyed>(
                page: $crate::domain::page::Page<M>,
                request: &$crate::domain::page::PageRequest,
                total: $crate::graphql::connection::Total,
                node: impl Fn(M) -> $node,
            ) -> Self {
                let (edges, page_info) =
                    $crate::graphql::connection::edges(page, request, node, |cursor, node| $edge {
                        cursor,
                        node,
                    });
                Self {
                    edges,
                    page_info,
                    total,
                }
            }
        }

        #[doc = concat!($one, ", with its position in the list.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Pass this as `after` to continue the list after this node.
            pub cursor: String,
            /// The node itself.
            pub node: $node,
        }
    };
}

pub(crate) use connection;

/// The page arguments every list field takes, checked.
pub fn page_request(first: Option<i32>, after: Option<String>) -> Result<PageRequest, AppError> {
    PageRequest::new(first, after.as_deref())
}

/// Whether a connection field asks for its page (`edges` or `pageInfo`); `totalCount` alone
/// needs no page, and so no query for one.
pub fn wants_page(ctx: &Context<'_>) -> bool {
    let selection = ctx.look_ahead();
    selection.field("edges").exists() || selection.field("pageInfo").exists()
}

/// No rows: for a connection asked only for its `totalCount`.
pub fn no_page<T>() -> Page<T> {
    Page {
        rows: Vec::new(),
        has_next_page: false,
    }
}

/// A list whose elements' errors keep their own path. async-graphql's lists (upstream
/// `resolve_list`, to this day) overwrite the path of any error that comes out of an element with
/// the element's, so an error in `users.edges[0].node.posts` would be reported at
/// `users.edges[0]`. This one sets the element's path only on an error that has none.
pub struct List<'a, T>(pub &'a [T]);

impl<T: OutputType + Sync> OutputType for List<'_, T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let elements = self.0.iter().enumerate().map(|(index, element)| {
            let ctx = ctx.with_index(index);
            async move {
                element.resolve(&ctx, field).await.map_err(|error| {
                    if error.path.is_empty() {
                        ctx.set_error_path(error)
                    } else {
                        error
                    }
                })
            }
        });
        Ok(Value::List(try_join_all(elements).await?))
    }
}
