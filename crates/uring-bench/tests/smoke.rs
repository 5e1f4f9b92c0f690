//! Correctness, not timing: each implementation runs 10,000 NOPs at batch 8
//! (and with SQPOLL) and must see every completion, once; ours must not
//! allocate in its timed loop.

use std::io;

use uring_bench::alloc::CountingAlloc;
use uring_bench::{NopConfig, Timed, nop_io_uring_crate, nop_liburing, nop_ours};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const OPS: u64 = 10_000;

/// Runs `run` on each configuration; every run must complete exactly
/// `cfg.total` NOPs (the implementations return an error otherwise) in a
/// positive time. `Unsupported` (a kernel without io_uring) is a
/// visible skip, and a failure under `URING_REQUIRE_KERNEL=1`. Returns the
/// runs' measurements.
fn check(name: &str, run: fn(&NopConfig) -> io::Result<Timed>) -> Vec<Timed> {
    let mut out = Vec::new();
    let configs = [
        NopConfig::new(8, OPS),
        NopConfig::new(8, OPS).with_sqpoll(),
        // A total that is not a multiple of the batch ends on a short batch.
        NopConfig::new(8, OPS + 3),
    ];
    for cfg in configs {
        match run(&cfg) {
            Ok(t) => {
                assert!(!t.elapsed.is_zero(), "{name} {cfg:?}: zero duration");
                out.push(t);
            }
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                uring_testkit::skip(&format!("{name} {cfg:?}"), &e.to_string());
                return out;
            }
            Err(e) => panic!("{name} {cfg:?}: {e}"),
        }
    }
    out
}

#[test]
fn liburing_completes_every_nop() {
    check(uring_testkit::test_name!(), nop_liburing);
}

#[test]
fn io_uring_crate_completes_every_nop() {
    check(uring_testkit::test_name!(), nop_io_uring_crate);
}

/// Ours completes every NOP without a heap allocation in the timed loop
/// (10,000 NOPs: one allocation per op, or per batch, would show).
#[test]
fn ours_completes_every_nop_without_allocating() {
    for t in check(uring_testkit::test_name!(), nop_ours) {
        assert_eq!(t.allocations, Some(0), "ours allocated in its timed loop");
    }
}

#[test]
fn batch_larger_than_ring_is_rejected() {
    let cfg = NopConfig {
        entries: 8,
        ..NopConfig::new(16, OPS)
    };
    assert!(nop_liburing(&cfg).is_err());
    assert!(nop_io_uring_crate(&cfg).is_err());
    assert!(nop_ours(&cfg).is_err());
}
