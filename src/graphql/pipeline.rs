//! The schema's one extension: every hook our GraphQL layer needs, in one place, so that each
//! field resolved passes through a single extension (each extension costs a boxed future per
//! field). In order: cost limits on the parsed document, error codes for parse and validation
//! failures, the `@requiresRole` check before each field, response completion after execution,
//! and the error codes (and cap) of the finished response.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};

use super::roles::{self, RoleRules};
use super::shape::{self, FieldTypes};
use super::{errors, limits, strings};
use crate::config::GraphqlLimits;

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
        })
    }
}

struct PipelineExtension {
    limits: GraphqlLimits,
    rules: Arc<RoleRules>,
    types: Arc<FieldTypes>,
    /// This request's document and variables, for completing its response.
    document: Mutex<Option<(ExecutableDocument, Variables)>>,
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
        limits::check(&document, variables, &self.limits)?;
        strings::check(&document, variables)?;
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
        if let Some(refused) = roles::refusal(&self.rules, ctx, &info) {
            return Err(refused);
        }
        next.run(ctx, info).await
    }
}
