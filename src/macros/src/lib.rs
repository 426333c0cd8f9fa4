//! `#[role_guarded]`, placed above `#[Object]` on a resolver `impl`, turns each
//! `#[requires_role(Admin)]` on its methods into both halves of one rule:
//!
//! ```ignore
//! #[graphql(
//!     directive = crate::graphql::roles::requiresRole::apply(crate::graphql::user::Role::Admin),
//!     guard = crate::graphql::roles::RoleGuard(crate::graphql::user::Role::Admin)
//! )]
//! ```
//!
//! The directive is what the SDL shows; the guard is what async-graphql runs before the resolver.
//! Written once, they cannot disagree. (A macro of our own, because async-graphql's `#[Object]`
//! reads its field attributes before any macro inside the `impl` could expand.)

use proc_macro::TokenStream;
use quote::quote;
use syn::{Ident, ImplItem, ItemImpl, parse_macro_input};

#[proc_macro_attribute]
pub fn role_guarded(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[role_guarded] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let mut block = parse_macro_input!(item as ItemImpl);
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else {
            continue;
        };
        let mut rewritten = Vec::with_capacity(method.attrs.len());
        for attribute in method.attrs.drain(..) {
            if !attribute.path().is_ident("requires_role") {
                rewritten.push(attribute);
                continue;
            }
            let role: Ident = match attribute.parse_args() {
                Ok(role) => role,
                Err(e) => return e.to_compile_error().into(),
            };
            rewritten.push(syn::parse_quote! {
                #[graphql(
                    directive = crate::graphql::roles::requiresRole::apply(
                        crate::graphql::user::Role::#role
                    ),
                    guard = crate::graphql::roles::RoleGuard(crate::graphql::user::Role::#role)
                )]
            });
        }
        method.attrs = rewritten;
    }
    quote!(#block).into()
}
