//! The harness of `uring-rt`'s tests (feature `rt`): one body on each backend, each
//! with a runtime of its own, as [`crate::harness`] does for rings.
//!
//! The backends are [`crate::backends`]: both, or the one `URING_BACKEND` names. A
//! kernel that refuses io_uring skips the kernel half visibly ([`crate::skip`]), which
//! fails under `URING_REQUIRE_KERNEL=1`.
use std::path::Path;
use std::time::Duration;

use uring_rt::{Backend, Builder, EngineConfig, Runtime};

/// A runtime on `backend`, or `None` (a visible skip) when the kernel refuses io_uring.
pub fn runtime_on(test: &str, backend: Backend, engine: Option<EngineConfig>) -> Option<Runtime> {
    build_on(test, backend, |b| match engine {
        Some(c) => b.engine_config(c),
        None => b,
    })
}

/// A runtime on `backend` from the builder `f` makes, or `None` as [`runtime_on`].
///
/// # Panics
/// When the engine's runtime cannot be built, or the kernel's under
/// `URING_REQUIRE_KERNEL=1`.
pub fn build_on(
    test: &str,
    backend: Backend,
    f: impl FnOnce(Builder) -> Builder,
) -> Option<Runtime> {
    match f(Runtime::builder().backend_exact(backend)).build() {
        Ok(rt) => {
            assert_eq!(rt.backend(), backend, "{test}");
            Some(rt)
        }
        Err(e) if backend == Backend::Kernel => {
            crate::skip(&format!("{test} [kernel]"), &e.to_string());
            None
        }
        Err(e) => panic!("{test}: engine runtime: {e}"),
    }
}

/// Runs `body` once per backend, each with a fresh runtime, which must then drain.
///
/// # Panics
/// As [`build_on`], and when a runtime does not drain within 10 seconds.
pub fn each_backend(test: &str, body: impl Fn(&Runtime, Backend)) {
    for b in crate::backends() {
        if let Some(rt) = runtime_on(test, b, None) {
            body(&rt, b);
            assert!(
                rt.shutdown(Duration::from_secs(10)),
                "{test} [{}]: drain",
                b.name()
            );
        }
    }
}

/// [`each_backend`] with a new temporary directory for each run, removed after it.
///
/// # Panics
/// As [`each_backend`], and when the directory cannot be made.
pub fn each_backend_in_dir(test: &str, body: impl Fn(&Runtime, Backend, &Path)) {
    each_backend(test, |rt, b| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{test}: temporary dir: {e}"));
        body(rt, b, dir.path());
    });
}
