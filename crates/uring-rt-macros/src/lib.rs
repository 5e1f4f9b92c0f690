//! The test attributes of `uring-rt`, re-exported there as `#[uring_rt::test]` and
//! `#[uring_rt::sim_test]`; see their docs in `uring_rt`.
use proc_macro::TokenStream;
use proc_macro2::{Ident, Span};
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Signature, Token};

fn error(span: Span, msg: &str) -> TokenStream {
    syn::Error::new(span, msg).to_compile_error().into()
}

/// Marks an `async fn` as a test that runs once on each backend: the kernel's
/// io_uring and the user-space engine, each on a fresh runtime (the kernel is the
/// oracle; where the two differ, the engine is wrong).
///
/// `URING_BACKEND=kernel` or `engine` runs only that one. A kernel that refuses
/// io_uring skips its half visibly (a line on stderr), and fails it under
/// `URING_REQUIRE_KERNEL=1`. The function may return `()` or a `Result` whose error
/// fails the test.
///
/// ```ignore
/// #[uring_rt::test]
/// async fn reads_what_it_wrote() -> std::io::Result<()> {
///     let f = uring_rt::fs::File::create("/tmp/x").await?;
///     f.write_all_at(b"hi".to_vec(), 0).await.0?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return error(Span::call_site(), "#[uring_rt::test] takes no arguments");
    }
    let misfit = |sig: &Signature| {
        if sig.asyncness.is_none() {
            Some((sig.fn_token.span, "#[uring_rt::test] goes on an `async fn`"))
        } else if !sig.inputs.is_empty() {
            Some((
                sig.ident.span(),
                "#[uring_rt::test] functions take no arguments",
            ))
        } else {
            None
        }
    };
    wrap_test(
        item,
        misfit,
        quote!(::uring_rt::__private::each_backend),
        quote!(),
    )
}

/// Marks a `fn(&mut uring_rt::sim::Sim)` as a simulation test: for each of `seeds`
/// seeds (default 100), a fresh `Sim` is made with the seed, given to the function to
/// add nodes, faults and crashes, and run; the first failure fails the test with its
/// seed, the run's story and the last events (`uring_rt::sim::check`). The first
/// seed runs twice and its trace hashes must agree.
///
/// `URING_SIM_SEED=N` runs seed `N` alone (the replay of a failure),
/// `URING_SIM_SEEDS=N` changes the count, `URING_SIM_SEED_BASE=N` (or `random`) the
/// first seed.
///
/// ```ignore
/// #[uring_rt::sim_test(seeds = 300)]
/// fn survives_crashes(sim: &mut uring_rt::sim::Sim) {
///     sim.crashes(uring_rt::sim::Crashes::new());
///     sim.node("server", |node| async move { /* ... */ });
///     sim.client("client", |node| async move { /* ... */ });
/// }
/// ```
#[proc_macro_attribute]
pub fn sim_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse(args) {
        Ok(m) => m,
        Err(e) => return e.to_compile_error().into(),
    };
    let mut seeds: u64 = 100;
    for m in metas {
        match m {
            Meta::NameValue(nv) if nv.path.is_ident("seeds") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }) => match n.base10_parse::<u64>() {
                    Ok(n) if n > 0 => seeds = n,
                    _ => return error(n.span(), "seeds: a positive integer"),
                },
                other => {
                    return error(
                        syn::spanned::Spanned::span(other),
                        "seeds: a positive integer",
                    );
                }
            },
            other => {
                return error(syn::spanned::Spanned::span(&other), "expected `seeds = N`");
            }
        }
    }
    let misfit = |sig: &Signature| {
        (sig.asyncness.is_some() || sig.inputs.len() != 1).then_some((
            sig.ident.span(),
            "#[uring_rt::sim_test] goes on a `fn(&mut uring_rt::sim::Sim)` that adds the nodes",
        ))
    };
    wrap_test(
        item,
        misfit,
        quote!(::uring_rt::sim::check),
        quote!(#seeds,),
    )
}

/// The expansion both attributes share: `item` must be a function whose signature
/// `misfit` passes (else its span and message are the error). The function becomes
/// `body`, inside a `#[test] fn` with its name, attributes and visibility that passes
/// `runner` the test's full name, then `args` (each followed by a comma), then `body`.
fn wrap_test(
    item: TokenStream,
    misfit: impl FnOnce(&Signature) -> Option<(Span, &'static str)>,
    runner: proc_macro2::TokenStream,
    args: proc_macro2::TokenStream,
) -> TokenStream {
    let f = match syn::parse::<ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    if let Some((span, msg)) = misfit(&f.sig) {
        return error(span, msg);
    }
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = f;
    let name = std::mem::replace(&mut sig.ident, Ident::new("body", Span::call_site()));
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            #sig #block
            #runner(
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                #args
                body,
            );
        }
    }
    .into()
}
