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
pub use cores::{Core, RemoteJoinHandle, cores};
pub use fixed::{FixedBuf, FixedBufPool};
pub use op::Op;
pub use runtime::{Builder, JoinError, JoinHandle, Runtime, block_on, spawn, yield_now};
pub use uring::{Backend, EngineConfig};
