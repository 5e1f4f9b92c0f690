//! What the workspace's tests share (a dev-only crate, never published).
//!
//! - Visible skips: [`skip`] prints `SKIP name: why` on the terminal, and fails the test
//!   instead under `URING_REQUIRE_KERNEL=1` (as CI sets it); [`not_applicable`] for
//!   what this machine's hardware lacks, which never fails.
//! - [`test_name!`]: the name of the `#[test]` fn it is written in, so that every
//!   `SKIP`, `ENGINE N/A` or `ENGINE FAIL` line names a usable `cargo test` filter.
//! - The harness of the `uring` crate's behaviour tests ([`harness`], re-exported here):
//!   one body over every ring flavour on both backends, the kernel being the oracle.
//! - Differential runs ([`diff`]): one body on the engine and on the kernel, the two
//!   results compared.
//! - With the feature `rt`, the harness of `uring-rt`'s tests (`rt`): one body on each
//!   backend, each with a runtime of its own.
//! - [`Aligned`] buffers for O_DIRECT, anonymous [`Mapping`]s, [`reap`], and the seccomp filter of Docker's
//!   default profile ([`deny_io_uring_setup`]) under which io_uring is refused.
use std::io::{self, Write};
use std::time::{Duration, Instant};

use uring::{Cqe, Ring};

pub mod aligned;
pub mod diff;
pub mod harness;
pub mod mapping;
#[cfg(feature = "rt")]
pub mod rt;

pub use aligned::Aligned;
pub use harness::*;
pub use mapping::Mapping;

/// The name of the function this is written in (the `#[test]` fn, also from inside the
/// closures it passes to the harness), as a `&'static str`.
///
/// ```
/// fn queue_depth_is_kept() -> &'static str {
///     (|| uring_testkit::test_name!())()
/// }
/// assert_eq!(queue_depth_is_kept(), "queue_depth_is_kept");
/// ```
#[macro_export]
macro_rules! test_name {
    () => {{
        fn here() {}
        $crate::fn_name(::std::any::type_name_of_val(&here))
    }};
}

/// The function's name in the type name of a fn item declared inside it
/// (`krate::module::function::{{closure}}::here`); see [`test_name!`].
#[doc(hidden)]
pub fn fn_name(here: &'static str) -> &'static str {
    let mut path = here.strip_suffix("::here").unwrap_or(here);
    while let Some(outer) = path.strip_suffix("::{{closure}}") {
        path = outer;
    }
    path.rsplit("::").next().unwrap_or(path)
}

/// Whether CI demands that nothing is skipped for want of kernel support
/// (`URING_REQUIRE_KERNEL=1`).
pub fn require_kernel() -> bool {
    std::env::var("URING_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

/// Reports a skip on the terminal (not captured by the test harness), and fails the
/// test instead when `URING_REQUIRE_KERNEL=1`.
pub fn skip(test: &str, why: &str) {
    if require_kernel() {
        panic!("{test}: would skip, but URING_REQUIRE_KERNEL=1: {why}");
    }
    let _ = writeln!(io::stderr(), "SKIP {test}: {why}");
}

/// Reports a case that does not apply on this machine's hardware (not the kernel), so
/// it never fails, but is always visible.
pub fn not_applicable(test: &str, why: &str) {
    let _ = writeln!(io::stderr(), "N/A  {test}: {why}");
}

/// Reaps exactly `n` CQEs, in arrival order, waiting as needed (at most `limit`
/// overall; a panic naming what arrived after that).
pub fn reap(ring: &mut Ring, n: usize, limit: Duration) -> Vec<Cqe> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(ring.completion());
        if out.len() >= n {
            break;
        }
        let left = limit
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("timed out with {} of {n} completions: {out:?}", out.len()));
        match ring.submitter().wait_timeout(1, left) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
            Err(e) => panic!("wait failed: {e}"),
        }
    }
    out
}

/// Installs, in the calling thread, the seccomp filter of Docker's default profile as
/// it concerns io_uring: `io_uring_setup(2)` fails with `EPERM`, every other call is
/// allowed. It cannot be removed: use it in a child process (`pre_exec`, or a test
/// re-run as a child). Only two `prctl` calls, no allocation: safe between `fork` and
/// `exec`.
///
/// # Errors
/// The errno of `prctl` (`PR_SET_NO_NEW_PRIVS` or `PR_SET_SECCOMP`).
pub fn deny_io_uring_setup() -> io::Result<()> {
    /// `struct sock_filter`: code, jt, jf, k.
    #[repr(C)]
    struct SockFilter(u16, u8, u8, u32);
    /// `struct sock_fprog`.
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const SockFilter,
    }
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let prog = [
        SockFilter(0x20, 0, 0, 0), // ld [0] (seccomp_data.nr)
        SockFilter(0x15, 0, 1, libc::SYS_io_uring_setup as u32), // jeq io_uring_setup, 0, 1
        SockFilter(0x06, 0, 0, RET_ERRNO | libc::EPERM as u32), // ret ERRNO(EPERM)
        SockFilter(0x06, 0, 0, RET_ALLOW), // ret ALLOW
    ];
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: plain prctl calls with integer arguments, and for PR_SET_SECCOMP a
    // pointer to a sock_fprog whose program outlives the call, which copies it.
    let ok = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &raw const fprog,
            ) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_name_is_the_fn_name() {
        assert_eq!(test_name!(), "test_name_is_the_fn_name");
        let from_a_closure = || test_name!();
        assert_eq!(from_a_closure(), "test_name_is_the_fn_name");
    }
}
