//! The harness: one body on each backend (the kernel and the engine), from
//! `uring_testkit::rt` (`URING_BACKEND=kernel` or `engine` runs only that half).
#![allow(unused_imports)]

pub use uring_testkit::backends;
pub use uring_testkit::rt::{build_on, each_backend, each_backend_in_dir, runtime_on};
