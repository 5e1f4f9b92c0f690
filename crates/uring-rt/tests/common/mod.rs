//! The harness: one body on each backend (the kernel and the engine).
//!
//! `URING_BACKEND=kernel` or `engine` runs only that half; unset (or `auto`) runs both.
//! A kernel that refuses io_uring skips the kernel half visibly, and fails it under
//! `URING_REQUIRE_KERNEL=1`.
#![allow(dead_code)]

use std::io::Write;

use uring_rt::{Backend, Builder, EngineConfig, Runtime};

/// The backends to run, as `URING_BACKEND` says.
pub fn backends() -> Vec<Backend> {
    match std::env::var("URING_BACKEND").as_deref() {
        Ok("kernel") => vec![Backend::Kernel],
        Ok("engine") => vec![Backend::Engine],
        _ => vec![Backend::Kernel, Backend::Engine],
    }
}

/// A runtime on `backend`, or `None` (a visible skip) when the kernel refuses io_uring.
pub fn runtime_on(test: &str, backend: Backend, engine: Option<EngineConfig>) -> Option<Runtime> {
    build_on(test, backend, |b| match engine {
        Some(c) => b.engine_config(c),
        None => b,
    })
}

/// A runtime on `backend` from the builder `f` makes, or `None` as [`runtime_on`].
pub fn build_on(
    test: &str,
    backend: Backend,
    f: impl FnOnce(Builder) -> Builder,
) -> Option<Runtime> {
    match f(Runtime::builder().backend_exact(backend)).build() {
        Ok(rt) => {
            assert_eq!(rt.backend(), backend);
            Some(rt)
        }
        Err(e) if backend == Backend::Kernel => {
            if std::env::var_os("URING_REQUIRE_KERNEL").is_some_and(|v| v == "1") {
                panic!("{test}: the kernel refused io_uring under URING_REQUIRE_KERNEL=1: {e}");
            }
            let _ = writeln!(std::io::stderr(), "SKIP {test} [kernel]: {e}");
            None
        }
        Err(e) => panic!("{test}: engine runtime: {e}"),
    }
}

/// Runs `body` once per backend, each with a fresh runtime.
pub fn each_backend(test: &str, body: impl Fn(&Runtime, Backend)) {
    for b in backends() {
        if let Some(rt) = runtime_on(test, b, None) {
            body(&rt, b);
            assert!(
                rt.shutdown(std::time::Duration::from_secs(10)),
                "{test} [{}]: drain",
                b.name()
            );
        }
    }
}
