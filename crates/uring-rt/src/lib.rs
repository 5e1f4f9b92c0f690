//! A thread-per-core async runtime on [`uring::Ring`]: owned buffers, cancellation
//! that is sound by construction, files and timers.
//!
//! A [`Runtime`] owns one ring and a local executor on the thread that made it. Tasks
//! ([`spawn`]) are not `Send`; wakers are, and a wake from another thread reaches the
//! runtime through a `MSG_RING` message from another runtime's ring or an eventfd
//! read armed on its own. [`Builder::run`] starts one runtime per core, and a
//! [`Core`] sends tasks and file descriptors from one to another. Each turn of the
//! loop polls the runnable tasks, then enters the ring once (submitting the turn's
//! SQEs, waiting only when nothing is runnable), and dispatches completions by
//! `user_data` into a slab of op slots: no allocation per I/O in steady state.
//!
//! Operations take their buffers by value ([`IoBuf`], [`IoBufMut`]) and give them back
//! with the result ([`BufResult`]). The op's **slot**, not its future, owns everything
//! the kernel may touch until the final completion: dropping a future cancels the op
//! and leaves the slot to finish, closing a descriptor that was opened too late;
//! dropping the runtime drains every op before the ring is unmapped. See [`op`] for the
//! two ways to cancel and what each guarantees.
//!
//! The same program runs on the kernel or, where io_uring is refused (seccomp, sysctl,
//! old kernels), on the user-space engine with the same completion semantics:
//! [`Builder::backend`] with [`Backend::Auto`] (the default), or `URING_BACKEND`.
//!
//! A program is tested on both with `#[uring_rt::test]` ([`test`]), and by
//! simulation with [`sim`]: several runtimes as nodes on one thread, on the engine's
//! deterministic mode, one seed choosing every order, fault, crash and network event,
//! with virtual time and replay by seed (`#[uring_rt::sim_test]`, [`sim_test`]).
//!
//! ```no_run
//! use uring_rt::fs::File;
//!
//! fn main() -> std::io::Result<()> {
//!     uring_rt::block_on(async {
//!         let file = File::open("/etc/hostname").await?;
//!         let (res, buf) = file.read_at(Vec::with_capacity(4096), 0).await;
//!         let n = res?;
//!         println!("{n} bytes: {}", String::from_utf8_lossy(&buf));
//!
//!         // Tasks run concurrently on this thread.
//!         let task = uring_rt::spawn(async {
//!             uring_rt::time::sleep(std::time::Duration::from_millis(10)).await;
//!             42
//!         });
//!         assert_eq!(task.await.unwrap(), 42);
//!         file.close().await
//!     })
//! }
//! ```
#![cfg(target_os = "linux")]
#![warn(missing_docs)]

mod buf;
pub mod compat;
mod cores;
mod driver;
mod fixed;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod net;
pub mod op;
mod runtime;
pub mod sim;
pub mod time;

pub use buf::{BufResult, IoBuf, IoBufMut, Slice};
pub use cores::{Core, RemoteJoinHandle, allowed_cpus, cores, pin_current_thread};
pub use fixed::{FixedBuf, FixedBufPool};
pub use op::Op;
pub use runtime::{Builder, JoinError, JoinHandle, Runtime, block_on, spawn, yield_now};
pub use uring::{Backend, EngineConfig};
pub use uring_rt_macros::{sim_test, test};

/// What the attributes' expansions call; not part of the API.
#[doc(hidden)]
pub mod __private {
    use std::future::Future;
    use std::io::Write;

    use crate::{Backend, Runtime};

    /// What a `#[uring_rt::test]` function may return.
    pub trait TestResult {
        /// Panics on an error.
        fn check(self, test: &str, backend: Backend);
    }

    impl TestResult for () {
        fn check(self, _: &str, _: Backend) {}
    }

    impl<T, E: std::fmt::Debug> TestResult for Result<T, E> {
        fn check(self, test: &str, backend: Backend) {
            if let Err(e) = self {
                panic!("{test} [{}]: {e:?}", backend.name());
            }
        }
    }

    /// Runs `body` on a fresh runtime on each backend `URING_BACKEND` allows (both
    /// by default); a kernel that refuses io_uring is skipped visibly, or fails the
    /// test under `URING_REQUIRE_KERNEL=1`.
    pub fn each_backend<F, Fut>(test: &str, body: F)
    where
        F: Fn() -> Fut,
        Fut: Future,
        Fut::Output: TestResult,
    {
        let backends = match std::env::var("URING_BACKEND").as_deref() {
            Ok("kernel") => vec![Backend::Kernel],
            Ok("engine") => vec![Backend::Engine],
            _ => vec![Backend::Kernel, Backend::Engine],
        };
        for b in backends {
            let rt = match Runtime::builder().backend_exact(b).build() {
                Ok(rt) => rt,
                Err(e) if b == Backend::Kernel => {
                    if std::env::var_os("URING_REQUIRE_KERNEL").is_some_and(|v| v == "1") {
                        panic!(
                            "{test}: the kernel refused io_uring under URING_REQUIRE_KERNEL=1: {e}"
                        );
                    }
                    let _ = writeln!(std::io::stderr(), "SKIP {test} [kernel]: {e}");
                    continue;
                }
                Err(e) => panic!("{test}: engine runtime: {e}"),
            };
            rt.block_on(body()).check(test, b);
        }
    }
}
