//! Relay connections: `edges { cursor node }`, `pageInfo` and `totalCount`, one type per node.
//! A list field is declared in one place, its resolver: the page arguments (with their default,
//! which the cost limits read from the schema), and the page and count queries given to [`load`],
//! which runs each only when selected.

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Lookahead, Object, OutputType, Positioned, SelectionField,
    ServerResult, Value,
};
use futures_util::future::try_join_all;

use crate::domain::page::{Cursor, Page, PageRequest};
use crate::error::AppError;

/// Where a page is in its list (its cursors are encoded only when asked for).
pub struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start: Option<Cursor>,
    end: Option<Cursor>,
}

/// Where a page is in its list.
#[Object]
impl PageInfo {
    /// Whether more nodes follow this page.
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }

    /// Whether nodes come before this page.
    async fn has_previous_page(&self) -> bool {
        self.has_previous_page
    }

    /// The cursor of the first node of this page: pass it as `before` for the page before.
    async fn start_cursor(&self) -> Option<String> {
        self.start.as_ref().map(Cursor::encode)
    }

    /// The cursor of the last node of this page: pass it as `after` for the next page.
    async fn end_cursor(&self) -> Option<String> {
        self.end.as_ref().map(Cursor::encode)
    }
}

/// A list field's page and count, loaded as its selection asks: the rows only when `edges` or
/// `pageInfo` is selected, the count only when `totalCount` is, and both at once. This is the one
/// path of every list field: its resolver checks its arguments and names the two queries.
pub async fn load<M, E, F>(
    ctx: &Context<'_>,
    rows: impl Future<Output = Result<Page<M>, E>>,
    count: impl Future<Output = Result<u64, F>>,
) -> Result<(Page<M>, Option<i32>), AppError>
where
    AppError: From<E> + From<F>,
{
    let selection = ctx.look_ahead();
    let wants_rows = selection.field("edges").exists() || selection.field("pageInfo").exists();
    let wants_count = selection.field("totalCount").exists();
    let rows = async {
        match wants_rows {
            true => rows.await.map_err(AppError::from),
            false => Ok(Page::empty()),
        }
    };
    let count = async {
        match wants_count {
            true => count
                .await
                .map(|n| Some(i32::try_from(n).unwrap_or(i32::MAX)))
                .map_err(AppError::from),
            false => Ok(None),
        }
    };
    let (rows, count) = tokio::join!(rows, count);
    Ok((rows?, count?))
}

/// Turns a page of rows into edges and `pageInfo`.
pub fn edges<M, N, E>(
    page: Page<M>,
    node: impl Fn(M) -> N,
    edge: impl Fn(Cursor, N) -> E,
) -> (Vec<E>, PageInfo) {
    let info = PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        start: page.cursors.first().cloned(),
        end: page.cursors.last().cloned(),
    };
    let edges = page
        .rows
        .into_iter()
        .zip(page.cursors)
        .map(|(m, cursor)| edge(cursor, node(m)))
        .collect();
    (edges, info)
}

/// Declares `$connection` and `$edge` for node type `$node`.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty, $what:literal, $one:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $connection {
            edges: Vec<$edge>,
            page_info: $crate::graphql::connection::PageInfo,
            /// Counted only when `totalCount` is selected.
            total: Option<i32>,
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
            async fn total_count(&self) -> async_graphql::Result<i32> {
                Ok(self.total.ok_or_else(|| {
                    $crate::error::AppError::internal("totalCount was selected but not counted")
                })?)
            }
        }

        impl $connection {
            pub(crate) fn new<M>(
                (page, total): ($crate::domain::page::Page<M>, Option<i32>),
                node: impl Fn(M) -> $node,
            ) -> Self {
                let (edges, page_info) =
                    $crate::graphql::connection::edges(page, node, |cursor, node| $edge {
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
        pub struct $edge {
            cursor: $crate::domain::page::Cursor,
            node: $node,
        }

        #[doc = concat!($one, ", with its position in the list.")]
        #[async_graphql::Object]
        impl $edge {
            /// Pass this as `after` to continue the list after this node, or as `before` for the
            /// nodes before it.
            async fn cursor(&self) -> String {
                self.cursor.encode()
            }

            /// The node itself.
            async fn node(&self) -> &$node {
                &self.node
            }
        }
    };
}

pub(crate) use connection;

/// The page arguments every list field takes, checked (`#[page]` calls this first thing in the
/// resolver). Whether the page must find out exactly if rows lie beyond its starting cursor is
/// read from the selection.
pub fn page_request(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<PageRequest, AppError> {
    let mut request = PageRequest::new(first, after.as_deref(), last, before.as_deref())?;
    request.exact = wants_exact(&ctx.look_ahead(), request.backward);
    Ok(request)
}

/// Whether `hasPreviousPage` (forwards) or `hasNextPage` (backwards) is selected.
fn wants_exact(selection: &Lookahead<'_>, backward: bool) -> bool {
    let flag = match backward {
        false => "hasPreviousPage",
        true => "hasNextPage",
    };
    selection.field("pageInfo").field(flag).exists()
}

/// The page a list field's selection asks for (looked ahead at by its parent list, to load it for
/// the whole page of parents); `None` if its arguments are invalid (its resolver will say so).
pub fn page_of(field: &SelectionField<'_>) -> Option<PageRequest> {
    let (mut first, mut after, mut last, mut before) = (None, None, None, None);
    for (name, value) in field.arguments().ok()? {
        match (name.as_str(), value) {
            ("first", Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("last", Value::Number(n)) => last = Some(i32::try_from(n.as_i64()?).ok()?),
            ("after", Value::String(s)) => after = Some(s),
            ("before", Value::String(s)) => before = Some(s),
            (_, Value::Null) => {}
            _ => return None,
        }
    }
    let mut request = PageRequest::new(first, after.as_deref(), last, before.as_deref()).ok()?;
    request.exact = wants_exact(&Lookahead::from(*field), request.backward);
    Some(request)
}

/// Folds a list's shorthand argument (`search`, `authorId`) into its `filter`: given in both
/// places with different values, it is `BAD_USER_INPUT` on `name`.
pub fn shorthand<T: PartialEq>(
    name: &str,
    argument: Option<T>,
    in_filter: &mut Option<T>,
) -> Result<(), AppError> {
    match (argument, in_filter.as_ref()) {
        (Some(a), Some(f)) if a != *f => Err(AppError::bad_input(
            name,
            format!(
                "is given both as an argument and in `filter`, differently: give `{name}` once"
            ),
        )),
        (Some(a), None) => {
            *in_filter = Some(a);
            Ok(())
        }
        _ => Ok(()),
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
