//! The test harness: one body, repeated over every ring flavour; skips are visible,
//! and with `URING_REQUIRE_KERNEL=1` a skip for want of kernel support fails.
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use uring::{Builder, Ring, SetupError};

/// A ring configuration to repeat tests over.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    pub name: &'static str,
    pub build: fn() -> Builder,
    /// Register the ring fd after setup.
    pub register_ring_fd: bool,
}

pub fn flavors() -> Vec<Flavor> {
    vec![
        Flavor {
            name: "default",
            build: Builder::default,
            register_ring_fd: false,
        },
        Flavor {
            name: "sqpoll",
            build: || Ring::builder().sqpoll(Duration::from_millis(50)),
            register_ring_fd: false,
        },
        Flavor {
            name: "sqe128+cqe32",
            build: || Ring::builder().sqe128().cqe32(),
            register_ring_fd: false,
        },
        Flavor {
            name: "no_sqarray",
            build: || Ring::builder().no_sqarray(),
            register_ring_fd: false,
        },
        Flavor {
            name: "single_issuer+defer_taskrun",
            build: || Ring::builder().defer_taskrun().taskrun_flag(),
            register_ring_fd: false,
        },
        Flavor {
            name: "coop_taskrun+submit_all",
            build: || Ring::builder().coop_taskrun().taskrun_flag().submit_all(),
            register_ring_fd: false,
        },
        Flavor {
            name: "no_mmap",
            build: || Ring::builder().no_mmap(),
            register_ring_fd: false,
        },
        Flavor {
            name: "registered_fd_only",
            build: || Ring::builder().registered_fd_only(),
            register_ring_fd: false,
        },
        Flavor {
            name: "registered_ring_fd",
            build: Builder::default,
            register_ring_fd: true,
        },
        Flavor {
            name: "cqe_mixed",
            build: || Ring::builder().cqe_mixed(),
            register_ring_fd: false,
        },
    ]
}

/// Whether CI demands that nothing is skipped for want of kernel support.
pub fn require_kernel() -> bool {
    std::env::var("URING_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

/// Reports a skip on the terminal (not captured by the test harness), and fails the
/// test instead when `URING_REQUIRE_KERNEL=1`.
pub fn skip(test: &str, why: &str) {
    if require_kernel() {
        panic!("{test}: would skip, but URING_REQUIRE_KERNEL=1: {why}");
    }
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// Reports a case that does not apply on this machine's hardware (not the kernel), so
/// it never fails, but is always visible.
pub fn not_applicable(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "N/A  {test}: {why}");
}

/// Builds the flavour's ring, or reports the skip and returns None.
pub fn ring(test: &str, f: &Flavor, entries: u32) -> Option<Ring> {
    build(test, f, (f.build)(), entries)
}

/// Builds `builder` (a flavour's builder, adjusted) or reports the skip.
pub fn build(test: &str, f: &Flavor, builder: Builder, entries: u32) -> Option<Ring> {
    match builder.build(entries) {
        Ok(mut ring) => {
            if f.register_ring_fd {
                ring.register_ring_fd().expect("register ring fd");
            }
            Some(ring)
        }
        Err(e @ (SetupError::Invalid { .. } | SetupError::Disabled { .. })) => {
            skip(&format!("{test} [{}]", f.name), &e.to_string());
            None
        }
        Err(e) => panic!("{test} [{}]: setup failed: {e}", f.name),
    }
}

/// Runs `body` once per flavour.
pub fn for_each_flavor(test: &str, entries: u32, mut body: impl FnMut(&Flavor, &mut Ring)) {
    for f in flavors() {
        if let Some(mut ring) = ring(test, &f, entries) {
            body(&f, &mut ring);
        }
    }
}

/// Reaps exactly `n` CQEs, waiting as needed (at most `limit` overall).
pub fn reap(ring: &mut Ring, n: usize, limit: Duration) -> Vec<uring::Cqe> {
    let start = std::time::Instant::now();
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
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => panic!("wait failed: {e}"),
        }
    }
    out
}
