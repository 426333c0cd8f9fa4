//! A WebSocket connection's operations: each admitted by the same limits as over HTTP, given what
//! it needs (loaders; a response budget and `REQUEST_TIMEOUT` for a query), and counted against
//! `GRAPHQL_WS_MAX_SUBSCRIPTIONS` while it runs. Mutations are refused: they go by POST.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response};
use futures_util::future;
use futures_util::stream::{BoxStream, StreamExt};

use crate::error::{AppError, Code};
use crate::graphql::budget::ResponseBudget;
use crate::graphql::loaders::Loaders;
use crate::http::AppState;

/// Runs a connection's operations with what each needs (loaders, a response budget for queries)
/// after the same admission as over HTTP, and counts its subscriptions.
#[derive(Clone)]
pub(super) struct Operations {
    pub(super) state: AppState,
    pub(super) running: Arc<AtomicUsize>,
}

impl Executor for Operations {
    async fn execute(&self, request: Request) -> Response {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let state = &self.state;
        if let Err(error) = state.admission.admit(&mut request) {
            return one(Response::from_errors(vec![error]));
        }
        let subscription = match crate::graphql::operation_type(&mut request) {
            Some(OperationType::Mutation) => {
                return refused(
                    Code::MethodNotAllowed,
                    "mutations are sent with POST /graphql, not over WebSocket",
                );
            }
            kind => kind == Some(OperationType::Subscription),
        };
        // Queries in flight count too: a socket cannot run more operations at once than this.
        let max = state.config.live.max_subscriptions;
        let Some(running) = Running::start(&self.running, max) else {
            let error = AppError::TooManySubscriptions { max };
            return refused(error.code(), &error.to_string());
        };
        if !subscription {
            let budget = ResponseBudget::new(state.config.limits.response_bytes);
            request = request.data(Arc::new(budget));
        }
        let request = request.data(Loaders::new(state.db.clone()));
        let max_errors = state.config.limits.errors;
        let stream = state
            .schema
            .execute_stream_with_session_data(request, session.unwrap_or_default())
            .map(move |mut response| {
                // Counted until the stream is dropped (completed by either side).
                let _running = &running;
                crate::graphql::finish(&mut response, max_errors);
                response
            });
        if subscription {
            return stream.boxed();
        }
        // A query has `REQUEST_TIMEOUT`, as over HTTP.
        let limit = state.config.http.request_timeout;
        futures_util::stream::once(async move {
            let mut stream = std::pin::pin!(stream);
            match tokio::time::timeout(limit, stream.next()).await {
                Ok(Some(response)) => response,
                Ok(None) => Response::default(),
                Err(_) => Response::from_errors(vec![crate::graphql::refusal(
                    Code::ServiceUnavailable,
                    format!("the request took longer than {limit:?} (REQUEST_TIMEOUT)"),
                )]),
            }
        })
        .boxed()
    }
}

fn one(response: Response) -> BoxStream<'static, Response> {
    futures_util::stream::once(future::ready(response)).boxed()
}

fn refused(code: Code, message: &str) -> BoxStream<'static, Response> {
    one(Response::from_errors(vec![crate::graphql::refusal(
        code,
        message.to_owned(),
    )]))
}

/// One running subscription of a connection, counted until dropped.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(Arc::clone(count)))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_counted_up_to_the_limit_and_given_back() {
        let count = Arc::new(AtomicUsize::new(0));
        let a = Running::start(&count, 2).unwrap();
        let _b = Running::start(&count, 2).unwrap();
        assert!(Running::start(&count, 2).is_none());
        drop(a);
        assert!(Running::start(&count, 2).is_some());
    }
}
