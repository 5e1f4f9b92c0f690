//! Timeouts on the real kernel: relative, absolute (two clocks), count-based, updated,
//! removed, multishot, and linked timeouts (plus their update).
use uring_testkit as common;
use uring_testkit::test_name;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::{reap, run};
use uring::types::{CqeFlags, Timespec};
use uring::{Cqe, Ring, SqeFlags, opcode, sys};

const LIMIT: Duration = Duration::from_secs(10);

fn push(ring: &mut Ring, sqes: &[uring::Sqe]) {
    // SAFETY: every caller keeps what its SQEs point to alive until they are reaped.
    unsafe { ring.submission().push_multiple(sqes) }.unwrap();
    ring.submit().unwrap();
}

fn clock_now(clock: libc::clockid_t) -> Duration {
    // SAFETY: all-zero is a valid timespec, which clock_gettime fills.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid out-pointer.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn timeout_relative_expires_with_etime() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE],
        8,
        |_backend, ring| {
            let ts = Timespec::from(Duration::from_millis(60));
            let start = Instant::now();
            // SAFETY: `ts` outlives the request.
            let c = unsafe { run(ring, &[opcode::Timeout::new(&ts).build().user_data(9)], 1) };
            let took = start.elapsed();
            assert_eq!((c[0].user_data(), c[0].result()), (9, -libc::ETIME));
            assert!(
                took >= Duration::from_millis(55) && took < Duration::from_secs(3),
                "{took:?}"
            );
        },
    );
}

#[test]
fn timeout_absolute_on_monotonic_and_realtime() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE],
        8,
        |_backend, ring| {
            for (clock, flag) in [
                (libc::CLOCK_MONOTONIC, 0),
                (libc::CLOCK_REALTIME, sys::IORING_TIMEOUT_REALTIME),
                (libc::CLOCK_BOOTTIME, sys::IORING_TIMEOUT_BOOTTIME),
            ] {
                let ts = Timespec::from(clock_now(clock) + Duration::from_millis(60));
                let start = Instant::now();
                let t = opcode::Timeout::new(&ts)
                    .flags(sys::IORING_TIMEOUT_ABS | flag)
                    .build()
                    .user_data(1);
                // SAFETY: `ts` outlives the request.
                let c = unsafe { run(ring, &[t], 1) };
                let took = start.elapsed();
                assert_eq!(c[0].result(), -libc::ETIME, "clock {clock}");
                assert!(
                    took >= Duration::from_millis(50) && took < Duration::from_secs(3),
                    "clock {clock}: {took:?}"
                );
            }
            // An absolute time in the past fires at once.
            let ts = Timespec::from(Duration::from_secs(1));
            let t = opcode::Timeout::new(&ts)
                .flags(sys::IORING_TIMEOUT_ABS)
                .build();
            let start = Instant::now();
            // SAFETY: `ts` outlives the request.
            let c = unsafe { run(ring, &[t], 1) };
            assert_eq!(c[0].result(), -libc::ETIME);
            assert!(start.elapsed() < Duration::from_millis(500));
            // Two clocks at once is invalid.
            let t = opcode::Timeout::new(&ts)
                .flags(sys::IORING_TIMEOUT_REALTIME | sys::IORING_TIMEOUT_BOOTTIME)
                .build();
            // SAFETY: as above.
            let c = unsafe { run(ring, &[t], 1) };
            assert_eq!(c[0].result(), -libc::EINVAL);
        },
    );
}

#[test]
fn timeout_count_completes_after_n_others() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE, opcode::Nop::CODE],
        8,
        |_backend, ring| {
            let ts = Timespec::from(Duration::from_secs(30));
            push(
                ring,
                &[opcode::Timeout::new(&ts).count(3).build().user_data(100)],
            );
            let nops: Vec<uring::Sqe> = (0..2)
                .map(|i| opcode::Nop::new().build().user_data(i))
                .collect();
            push(ring, &nops);
            let got = reap(ring, 2, LIMIT);
            assert!(
                got.iter().all(|c| c.user_data() < 2),
                "2 of 3: not yet {got:?}"
            );
            let start = Instant::now();
            push(ring, &[opcode::Nop::new().build().user_data(2)]);
            let mut got = reap(ring, 2, LIMIT);
            got.sort_by_key(Cqe::user_data);
            assert_eq!(
                (got[1].user_data(), got[1].result()),
                (100, 0),
                "count reached: 0"
            );
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "not the 30 s timer"
            );
        },
    );
}

#[test]
fn timeout_update_and_remove() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE, opcode::TimeoutRemove::CODE],
        8,
        |_backend, ring| {
            let long = Timespec::from(Duration::from_secs(30));
            let short = Timespec::from(Duration::from_millis(40));
            push(
                ring,
                &[
                    opcode::Timeout::new(&long).build().user_data(1),
                    opcode::Timeout::new(&long).build().user_data(2),
                ],
            );
            let start = Instant::now();
            // Update 1 to 40 ms; remove 2; remove an unknown one.
            let sqes = [
                opcode::TimeoutRemove::new(1)
                    .update(&short)
                    .build()
                    .user_data(11),
                opcode::TimeoutRemove::new(2).build().user_data(12),
                opcode::TimeoutRemove::new(999).build().user_data(13),
            ];
            // SAFETY: `short` and `long` outlive the requests (all reaped here).
            let mut cqes = unsafe { run(ring, &sqes, 5) };
            cqes.sort_by_key(Cqe::user_data);
            let got: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.result())).collect();
            assert_eq!(
                got,
                [
                    (1, -libc::ETIME),
                    (2, -libc::ECANCELED),
                    (11, 0),
                    (12, 0),
                    (13, -libc::ENOENT)
                ]
            );
            let took = start.elapsed();
            assert!(
                took >= Duration::from_millis(35) && took < Duration::from_secs(5),
                "{took:?}"
            );
        },
    );
}

#[test]
fn timeout_multishot_fires_count_times() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE, opcode::TimeoutRemove::CODE],
        8,
        |_backend, ring| {
            let ts = Timespec::from(Duration::from_millis(15));
            let start = Instant::now();
            let t = opcode::Timeout::new(&ts)
                .count(3)
                .flags(sys::IORING_TIMEOUT_MULTISHOT)
                .build()
                .user_data(5);
            // SAFETY: `ts` outlives the request (all 3 shots reaped here).
            let cqes = unsafe { run(ring, &[t], 3) };
            for (i, c) in cqes.iter().enumerate() {
                assert_eq!((c.user_data(), c.result()), (5, -libc::ETIME), "shot {i}");
                assert_eq!(c.has_more(), i < 2, "F_MORE on all but the last: {c:?}");
            }
            assert!(start.elapsed() >= Duration::from_millis(40));

            // Count 0: fires until removed; the removal ends it with -ECANCELED, no F_MORE.
            let t = opcode::Timeout::new(&ts)
                .flags(sys::IORING_TIMEOUT_MULTISHOT)
                .build()
                .user_data(6);
            // SAFETY: as above, `ts` lives until the removal is reaped.
            let cqes = unsafe { run(ring, &[t], 2) };
            assert!(
                cqes.iter()
                    .all(|c| c.result() == -libc::ETIME && c.has_more())
            );
            let rm = opcode::TimeoutRemove::new(6).build().user_data(7);
            // SAFETY: no memory referenced.
            let mut cqes = unsafe { run(ring, &[rm], 2) };
            // A shot may have fired between: drain until the removal and the final CQE.
            while !cqes.iter().any(|c| c.user_data() == 6 && !c.has_more()) {
                cqes.extend(reap(ring, 1, LIMIT));
            }
            let last = cqes
                .iter()
                .find(|c| c.user_data() == 6 && !c.has_more())
                .unwrap();
            assert_eq!(last.result(), -libc::ECANCELED);
            let rm = cqes.iter().find(|c| c.user_data() == 7).unwrap();
            assert_eq!(rm.result(), 0);
        },
    );
}

#[test]
fn link_timeout_cancels_a_slow_request() {
    common::for_each_backend(
        test_name!(),
        &[opcode::LinkTimeout::CODE, opcode::Read::CODE],
        8,
        |_backend, ring| {
            let (r, _w) = common::pipe();
            let mut buf = [0u8; 8];
            let ts = Timespec::from(Duration::from_millis(40));
            let sqes = [
                opcode::Read::new(r.as_raw_fd(), buf.as_mut_ptr(), 8)
                    .build()
                    .flags(SqeFlags::IO_LINK)
                    .user_data(1),
                opcode::LinkTimeout::new(&ts).build().user_data(2),
            ];
            let start = Instant::now();
            // SAFETY: `buf` and `ts` outlive the requests.
            let mut cqes = unsafe { run(ring, &sqes, 2) };
            cqes.sort_by_key(Cqe::user_data);
            assert_eq!(cqes[0].result(), -libc::ECANCELED, "the read was cut short");
            assert_eq!(cqes[1].result(), -libc::ETIME);
            assert!(start.elapsed() >= Duration::from_millis(35));
        },
    );
}

#[test]
fn link_timeout_disarmed_by_a_fast_request() {
    common::for_each_backend(
        test_name!(),
        &[opcode::LinkTimeout::CODE, opcode::Nop::CODE],
        8,
        |_backend, ring| {
            let ts = Timespec::from(Duration::from_secs(20));
            let sqes = [
                opcode::Nop::new()
                    .build()
                    .flags(SqeFlags::IO_LINK)
                    .user_data(1),
                opcode::LinkTimeout::new(&ts).build().user_data(2),
            ];
            let start = Instant::now();
            // SAFETY: `ts` outlives the requests.
            let mut cqes = unsafe { run(ring, &sqes, 2) };
            cqes.sort_by_key(Cqe::user_data);
            assert_eq!((cqes[0].result(), cqes[1].result()), (0, -libc::ECANCELED));
            assert!(start.elapsed() < Duration::from_secs(5));
        },
    );
}

#[test]
fn link_timeout_update_shortens_it() {
    common::for_each_backend(
        test_name!(),
        &[
            opcode::LinkTimeout::CODE,
            opcode::TimeoutRemove::CODE,
            opcode::Read::CODE,
        ],
        8,
        |_backend, ring| {
            let (r, _w) = common::pipe();
            let mut buf = [0u8; 8];
            let long = Timespec::from(Duration::from_secs(30));
            let short = Timespec::from(Duration::from_millis(30));
            push(
                ring,
                &[
                    opcode::Read::new(r.as_raw_fd(), buf.as_mut_ptr(), 8)
                        .build()
                        .flags(SqeFlags::IO_LINK)
                        .user_data(1),
                    opcode::LinkTimeout::new(&long).build().user_data(2),
                ],
            );
            let start = Instant::now();
            let upd = opcode::TimeoutRemove::new(2)
                .update(&short)
                .link(true)
                .build()
                .user_data(3);
            // SAFETY: `buf`, `long` and `short` outlive the requests (all reaped here).
            let mut cqes = unsafe { run(ring, &[upd], 3) };
            cqes.sort_by_key(Cqe::user_data);
            let got: Vec<i32> = cqes.iter().map(Cqe::result).collect();
            assert_eq!(got, [-libc::ECANCELED, -libc::ETIME, 0]);
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the 30 s timer was replaced"
            );
        },
    );
}
