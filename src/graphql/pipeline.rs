//! The schema's one extension: every hook our GraphQL layer needs, in one place, so that each
//! field resolved passes through a single extension (each extension costs a boxed future per
//! field). In order: error codes for parse and validation failures (cost limits are checked
//! before the engine runs, by [`super::admit`]), the `@requiresRole` check before each field, response completion after execution,
//! and the error codes (and cap) of the finished response.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};

use sea_orm::DatabaseConnection;
use tower_cookies::Cookies;

use super::context::{AuthServices, Identity};
use super::roles::{self, RoleRules};
use super::shape::{self, FieldTypes};
use super::{errors, limits};
use crate::config::GraphqlLimits;
use crate::domain::sessions;
use crate::error::AppError;

/// The extension factory: the rules and types are shared, the document is per request.
pub struct Pipeline {
    pub limits: GraphqlLimits,
    pub rules: Arc<RoleRules>,
    pub types: Arc<FieldTypes>,
}

impl ExtensionFactory for Pipeline {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PipelineExtension {
            limits: self.limits,
            rules: Arc::clone(&self.rules),
            types: Arc::clone(&self.types),
            document: Mutex::new(None),
            root_mutation_fields: AtomicUsize::new(0),
        })
    }
}

struct PipelineExtension {
    limits: GraphqlLimits,
    rules: Arc<RoleRules>,
    types: Arc<FieldTypes>,
    /// This request's document and variables, for completing its response.
    document: Mutex<Option<(ExecutableDocument, Variables)>>,
    /// Root fields of a mutation begun so far: from the second on, who is asking is checked again.
    root_mutation_fields: AtomicUsize,
}

#[async_trait::async_trait]
impl Extension for PipelineExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        errors::finish(&mut response, self.limits.errors);
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| errors::with_code(limits::recode_directives(e), "GRAPHQL_PARSE_FAILED"))?;
        if let Ok(mut slot) = self.document.lock() {
            *slot = Some((document.clone(), variables.clone()));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| errors::with_code(e, "GRAPHQL_VALIDATION_FAILED"))
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        match self.document.lock() {
            Ok(slot) => match slot.as_ref() {
                Some((document, variables)) => {
                    shape::complete(&self.types, document, variables, operation_name, response)
                }
                None => response,
            },
            Err(_) => response,
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none()
            && info.parent_type == "Mutation"
            && self.root_mutation_fields.fetch_add(1, Ordering::Relaxed) > 0
            && let Err(changed) = identity_still_holds(ctx).await
        {
            return Err(roles::field_error(changed, &info));
        }
        if let Some(refused) = roles::refusal(&self.rules, ctx, &info) {
            return Err(refused);
        }
        next.run(ctx, info).await
    }
}

/// Root mutation fields run one after another, and an earlier one may have deleted or demoted the
/// user asking, or ended their session: a later one runs only if the session still names the same
/// user with the same role (`UNAUTHENTICATED` if it is gone, `FORBIDDEN` if it changed).
async fn identity_still_holds(ctx: &ExtensionContext<'_>) -> Result<(), AppError> {
    let Some(Identity::User(viewer)) = ctx.data_opt::<Identity>() else {
        return Ok(());
    };
    let (Some(db), Some(auth), Some(cookies)) = (
        ctx.data_opt::<DatabaseConnection>(),
        ctx.data_opt::<AuthServices>(),
        ctx.data_opt::<Cookies>(),
    ) else {
        return Err(AppError::internal("the request lacks its services"));
    };
    let now = match auth.cookies.token(cookies) {
        Some(token) => sessions::viewer(db, &token, auth.lifetimes).await?,
        None => None,
    };
    match now {
        Some(now) if now.user.id == viewer.user.id && now.user.role == viewer.user.role => Ok(()),
        Some(_) => Err(AppError::Forbidden),
        None => Err(AppError::Unauthenticated),
    }
}
