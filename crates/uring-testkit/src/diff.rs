//! Differential runs: the same body on the engine and on the kernel, through the `uring`
//! crate, and the two results must be equal (the kernel is the oracle).
//!
//! Where the kernel refuses io_uring (or lacks an opcode), the body still runs on the
//! engine alone, and the kernel half is reported as skipped (a failure under
//! `URING_REQUIRE_KERNEL=1`).
use std::fmt::Debug;

use uring::{Backend, Ring, SetupError};

use crate::skip;

/// Whether `ring` offers every opcode of `ops`.
pub fn offers(ring: &Ring, ops: &[u8]) -> bool {
    let p = ring.submitter().probe().expect("probe");
    ops.iter().all(|&op| p.is_supported(op))
}

/// A ring of `entries` on `backend` exactly, whatever `URING_BACKEND` says.
///
/// # Errors
/// Why the backend refused the ring.
pub fn ring_on(backend: Backend, entries: u32) -> Result<Ring, SetupError> {
    Ring::builder().backend_exact(backend).build(entries)
}

/// Runs `body` on an engine ring, then on a kernel ring (when the kernel allows
/// io_uring and offers every opcode of `ops`), each of `entries`, and asserts that both
/// return the same. The engine must offer `ops`.
pub fn both<T: PartialEq + Debug>(
    test: &str,
    ops: &[u8],
    entries: u32,
    mut body: impl FnMut(&mut Ring) -> T,
) {
    let mut engine = ring_on(Backend::Engine, entries).expect("engine ring");
    assert!(
        offers(&engine, ops),
        "{test}: the engine lacks one of {ops:?}"
    );
    let on_engine = body(&mut engine);
    drop(engine);
    match ring_on(Backend::Kernel, entries) {
        Ok(mut kernel) if offers(&kernel, ops) => {
            let on_kernel = body(&mut kernel);
            assert_eq!(
                on_engine, on_kernel,
                "{test}: engine (left) and kernel (right)"
            );
        }
        Ok(_) => skip(&format!("{test} [kernel]"), "the kernel lacks an opcode"),
        Err(e) => refused(test, e),
    }
}

/// Runs `body` on the engine, then on the kernel if it allows io_uring, and asserts that
/// both return the same; the body makes its own rings on the backend it is given.
pub fn both_backends<T: PartialEq + Debug>(test: &str, body: impl Fn(Backend) -> T) {
    let on_engine = body(Backend::Engine);
    match ring_on(Backend::Kernel, 4) {
        Ok(_) => {
            let on_kernel = body(Backend::Kernel);
            assert_eq!(
                on_engine, on_kernel,
                "{test}: engine (left) and kernel (right)"
            );
        }
        Err(e) => refused(test, e),
    }
}

/// The kernel refused a ring: a visible skip when io_uring is disabled or the setup is
/// invalid there, a failure otherwise.
fn refused(test: &str, e: SetupError) {
    match e {
        SetupError::Disabled { .. } | SetupError::Invalid { .. } => {
            skip(&format!("{test} [kernel]"), &e.to_string());
        }
        e => panic!("{test}: kernel setup: {e}"),
    }
}
