//! `#[resolvers]`, placed above `#[Object]` on a resolver `impl`, expands two attributes of its
//! methods, each a rule written once:
//!
//! - `#[requires_role(Admin)]` becomes both halves of the role rule:
//!
//!   ```ignore
//!   #[graphql(
//!       directive = crate::graphql::roles::requiresRole::apply(crate::graphql::user::Role::Admin),
//!       guard = crate::graphql::roles::RoleGuard(crate::graphql::user::Role::Admin)
//!   )]
//!   ```
//!
//!   The directive is what the SDL shows; the guard is what async-graphql runs before the
//!   resolver. Written once, they cannot disagree.
//! - `#[page(items)]` gives a list field the page arguments every list has, right after its
//!   `ctx`: `first: Option<i32>`, `after: Option<String>`, `last: Option<i32>` and
//!   `before: Option<String>` (the Relay cursor connection arguments), described with the noun
//!   given, and starts its body with `let page = page_request(ctx, first, after, last, before)?;`
//!   (bounds, cursors, not both `first` and `last`: `crate::graphql::connection::page_request`).
//!   `first` has no default in the schema, so that `last` alone is not `first` and `last`: a page
//!   is 20 rows unless one of them says otherwise.
//!
//! A macro of our own, because async-graphql's `#[Object]` reads its field attributes and
//! arguments before any macro inside the `impl` could expand, and has no shared argument sets.

use proc_macro::TokenStream;
use quote::quote;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, Pat, parse_macro_input};

#[proc_macro_attribute]
pub fn resolvers(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[resolvers] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let mut block = parse_macro_input!(item as ItemImpl);
    // A resolver's arguments are its field's in the schema (a list has four for the page alone).
    block
        .attrs
        .push(syn::parse_quote!(#[allow(clippy::too_many_arguments)]));
    for item in &mut block.items {
        if let ImplItem::Fn(method) = item
            && let Err(e) = expand(method)
        {
            return e.to_compile_error().into();
        }
    }
    quote!(#block).into()
}

/// Rewrites one method's `#[requires_role]` and `#[page]` attributes.
fn expand(method: &mut ImplItemFn) -> syn::Result<()> {
    let mut kept = Vec::with_capacity(method.attrs.len());
    for attribute in std::mem::take(&mut method.attrs) {
        if attribute.path().is_ident("requires_role") {
            let role: Ident = attribute.parse_args()?;
            kept.push(syn::parse_quote! {
                #[graphql(
                    directive = crate::graphql::roles::requiresRole::apply(
                        crate::graphql::user::Role::#role
                    ),
                    guard = crate::graphql::roles::RoleGuard(crate::graphql::user::Role::#role)
                )]
            });
        } else if attribute.path().is_ident("page") {
            let noun: Ident = attribute.parse_args()?;
            add_page_arguments(method, &noun.to_string())?;
        } else {
            kept.push(attribute);
        }
    }
    method.attrs = kept;
    Ok(())
}

/// Inserts `first`, `after`, `last` and `before` right after the method's `ctx` argument, and
/// reads them into `page` first thing in the body.
fn add_page_arguments(method: &mut ImplItemFn, noun: &str) -> syn::Result<()> {
    let inputs = &method.sig.inputs;
    let ctx = inputs
        .iter()
        .position(|input| {
            matches!(input, FnArg::Typed(typed)
                if matches!(&*typed.pat, Pat::Ident(p) if p.ident == "ctx"))
        })
        .ok_or_else(|| syn::Error::new_spanned(&method.sig, "#[page] needs a `ctx` argument"))?;
    let first_desc = format!("How many {noun} to return from the start (0 to 100; 20 by default).");
    let after_desc = format!("Return the {noun} after this cursor (an `endCursor`).");
    let last_desc =
        format!("How many {noun} to return from the end (0 to 100), instead of `first`.");
    let before_desc = format!("Return the {noun} before this cursor (a `startCursor`).");
    let arguments: [FnArg; 4] = [
        syn::parse_quote! { #[graphql(desc = #first_desc)] first: Option<i32> },
        syn::parse_quote! { #[graphql(desc = #after_desc)] after: Option<String> },
        syn::parse_quote! { #[graphql(desc = #last_desc)] last: Option<i32> },
        syn::parse_quote! { #[graphql(desc = #before_desc)] before: Option<String> },
    ];
    let mut rebuilt: Vec<FnArg> = method.sig.inputs.iter().cloned().collect();
    rebuilt.splice(ctx + 1..ctx + 1, arguments);
    method.sig.inputs = rebuilt.into_iter().collect();
    method.block.stmts.insert(
        0,
        syn::parse_quote! {
            let page = crate::graphql::connection::page_request(ctx, first, after, last, before)?;
        },
    );
    Ok(())
}
