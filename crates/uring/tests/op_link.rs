//! Ordering on the real kernel: links (a failure cancels the rest), hardlinks, drain,
//! `CQE_SKIP_SUCCESS`, and the classic chain of writes linked to an fsync.
use uring_testkit as common;
use uring_testkit::test_name;

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{for_each_flavor, pattern, run};
use uring::types::{Fd, Timespec};
use uring::{Cqe, SqeFlags, opcode, sys};

fn results_by_user_data(mut cqes: Vec<Cqe>) -> Vec<(u64, i32)> {
    cqes.sort_by_key(Cqe::user_data);
    cqes.iter().map(|c| (c.user_data(), c.result())).collect()
}

#[test]
fn link_failure_cancels_the_rest() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Write::CODE, opcode::Nop::CODE],
        8,
        |_backend, ring| {
            let file = tempfile::tempfile().unwrap();
            let data = b"never";
            let sqes = [
                opcode::Write::new(Fd(-1), data.as_ptr(), 5)
                    .build()
                    .flags(SqeFlags::IO_LINK)
                    .user_data(1),
                opcode::Write::new(&file, data.as_ptr(), 5)
                    .build()
                    .flags(SqeFlags::IO_LINK)
                    .user_data(2),
                opcode::Nop::new().build().user_data(3),
                // Not part of the chain: runs regardless.
                opcode::Nop::new().build().user_data(4),
            ];
            // SAFETY: `data` is static.
            let got = results_by_user_data(unsafe { run(ring, &sqes, 4) });
            assert_eq!(
                got,
                [
                    (1, -libc::EBADF),
                    (2, -libc::ECANCELED),
                    (3, -libc::ECANCELED),
                    (4, 0)
                ]
            );
            assert_eq!(
                file.metadata().unwrap().len(),
                0,
                "the cancelled write never ran"
            );
        },
    );
}

#[test]
fn link_short_read_breaks_the_chain() {
    common::for_each_backend(test_name!(), &[opcode::Read::CODE], 8, |_backend, ring| {
        let file = tempfile::tempfile().unwrap();
        file.write_all_at(b"0123456789", 0).unwrap();
        let mut buf = [0u8; 100];
        let sqes = [
            opcode::Read::new(&file, buf.as_mut_ptr(), 100)
                .build()
                .flags(SqeFlags::IO_LINK)
                .user_data(1),
            opcode::Nop::new().build().user_data(2),
        ];
        // SAFETY: `buf` outlives the request.
        let got = results_by_user_data(unsafe { run(ring, &sqes, 2) });
        assert_eq!(
            got,
            [(1, 10), (2, -libc::ECANCELED)],
            "a short read fails the link"
        );
        assert_eq!(&buf[..10], b"0123456789");
    });
}

#[test]
fn hardlink_survives_failure() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Write::CODE, opcode::Nop::CODE],
        8,
        |_backend, ring| {
            let file = tempfile::tempfile().unwrap();
            let data = b"after";
            let sqes = [
                opcode::Nop::new()
                    .inject_result(-libc::EIO)
                    .build()
                    .flags(SqeFlags::IO_HARDLINK)
                    .user_data(1),
                opcode::Write::new(Fd(-1), data.as_ptr(), 5)
                    .build()
                    .flags(SqeFlags::IO_HARDLINK)
                    .user_data(2),
                opcode::Write::new(&file, data.as_ptr(), 5)
                    .build()
                    .user_data(3),
            ];
            // SAFETY: `data` is static.
            let got = results_by_user_data(unsafe { run(ring, &sqes, 3) });
            assert_eq!(got, [(1, -libc::EIO), (2, -libc::EBADF), (3, 5)]);
            let mut back = [0u8; 5];
            file.read_exact_at(&mut back, 0).unwrap();
            assert_eq!(&back, data, "the last link ran despite two failures");
        },
    );
}

/// A chain's CQEs come in chain order even when its members after the head run on
/// another thread (`IOSQE_ASYNC`): the head's CQE is posted before the next member
/// starts. (The engine posts the CQEs of a submission's inline completions together at
/// its end; a worker's CQE for the next member must not overtake the head's.)
#[test]
fn chain_cqes_come_in_order_when_members_run_async() {
    common::for_each_backend(test_name!(), &[opcode::Nop::CODE], 16, |_backend, ring| {
        for round in 0..200u64 {
            let sqes: Vec<_> = (0..4u64)
                .map(|i| {
                    let mut sqe = opcode::Nop::new().build().user_data(round * 4 + i);
                    if i % 2 == 1 {
                        sqe = sqe.flags(SqeFlags::ASYNC);
                    }
                    if i < 3 {
                        sqe = sqe.flags(SqeFlags::IO_LINK);
                    }
                    sqe
                })
                .collect();
            // SAFETY: NOPs reference no memory.
            let cqes = unsafe { run(ring, &sqes, 4) };
            let order: Vec<u64> = cqes.iter().map(Cqe::user_data).collect();
            let want: Vec<u64> = (0..4).map(|i| round * 4 + i).collect();
            assert_eq!(order, want, "round {round}: {cqes:?}");
        }
    });
}

/// A drained request that runs on another thread (`IOSQE_ASYNC`) posts its CQE after
/// those of the requests it waited for, though they completed inline in the same
/// submission (whose CQEs the engine posts together at its end).
#[test]
fn drained_async_request_comes_after_what_it_waited_for() {
    common::for_each_backend(test_name!(), &[opcode::Nop::CODE], 16, |_backend, ring| {
        for round in 0..200u64 {
            let sqes = [
                opcode::Nop::new().build().user_data(round * 3),
                opcode::Nop::new().build().user_data(round * 3 + 1),
                opcode::Nop::new()
                    .build()
                    .flags(SqeFlags::IO_DRAIN | SqeFlags::ASYNC)
                    .user_data(round * 3 + 2),
            ];
            // SAFETY: NOPs reference no memory.
            let cqes = unsafe { run(ring, &sqes, 3) };
            let last = cqes.last().map(Cqe::user_data);
            assert_eq!(last, Some(round * 3 + 2), "round {round}: {cqes:?}");
        }
    });
}

/// A drained request waits for the CQEs of what came before it to be posted, not only
/// for those requests to complete: a submission keeps the CQEs of what it completed
/// inline for its end, while the last request before the drain may complete on another
/// thread (`IOSQE_ASYNC`) and start the drained one there. Both shapes: requests
/// completed inline (NOPs), and plain reads the submission completes before it looks
/// at anything else.
#[test]
fn drained_request_comes_after_cqes_kept_by_the_submission() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Nop::CODE, opcode::Read::CODE],
        16,
        |_backend, ring| {
            let file = tempfile::tempfile().unwrap();
            file.write_all_at(&pattern(64, 3), 0).unwrap();
            let mut buf = [0u8; 64];
            for round in 0..400u64 {
                let base = round * 8;
                let first = if round % 2 == 0 {
                    opcode::Nop::new().build()
                } else {
                    opcode::Read::new(&file, buf.as_mut_ptr(), 64).build()
                };
                let mut sqes = vec![first.user_data(base)];
                for i in 1..7 {
                    sqes.push(
                        opcode::Nop::new()
                            .build()
                            .flags(SqeFlags::ASYNC)
                            .user_data(base + i),
                    );
                }
                sqes.push(
                    opcode::Nop::new()
                        .build()
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(base + 7),
                );
                // SAFETY: `buf` outlives the requests (all reaped here); NOPs reference
                // no memory.
                let cqes = unsafe { run(ring, &sqes, sqes.len()) };
                assert_eq!(cqes.len(), sqes.len(), "round {round}: {cqes:?}");
                let last = cqes.last().map(Cqe::user_data);
                assert_eq!(last, Some(base + 7), "round {round}: {cqes:?}");
            }
        },
    );
}

#[test]
fn drain_waits_for_everything_before() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE, opcode::Nop::CODE],
        8,
        |_backend, ring| {
            let ts = Timespec::from(Duration::from_millis(80));
            let sqes = [
                opcode::Timeout::new(&ts).build().user_data(1),
                opcode::Nop::new().build().user_data(2),
                opcode::Nop::new()
                    .build()
                    .flags(SqeFlags::IO_DRAIN)
                    .user_data(3),
                opcode::Nop::new().build().user_data(4),
            ];
            let start = Instant::now();
            // SAFETY: `ts` outlives the requests.
            let cqes = unsafe { run(ring, &sqes, 4) };
            let order: Vec<u64> = cqes.iter().map(Cqe::user_data).collect();
            // The plain NOP completes at once; the drained one waits for the timeout, and the
            // one after the drain waits for the drain.
            assert_eq!(order, [2, 1, 3, 4], "{cqes:?}");
            assert_eq!(cqes[1].result(), -libc::ETIME);
            assert!(start.elapsed() >= Duration::from_millis(75));
        },
    );
}

#[test]
fn cqe_skip_success_posts_only_failures() {
    common::for_each_backend(
        test_name!(),
        &[opcode::Nop::CODE, opcode::Write::CODE, opcode::Fsync::CODE],
        8,
        |_backend, ring| {
            assert!(ring.params().has_feature(sys::IORING_FEAT_CQE_SKIP));
            let file = tempfile::tempfile().unwrap();
            let data = b"skipped";
            let skip = SqeFlags::CQE_SKIP_SUCCESS;
            let sqes = [
                opcode::Nop::new().build().flags(skip).user_data(1),
                opcode::Nop::new()
                    .inject_result(-libc::EIO)
                    .build()
                    .flags(skip)
                    .user_data(2),
                // A skipped head of a chain: the write runs, only the fsync posts.
                opcode::Write::new(&file, data.as_ptr(), 7)
                    .build()
                    .flags(skip | SqeFlags::IO_LINK)
                    .user_data(3),
                opcode::Fsync::new(&file).build().user_data(4),
            ];
            // SAFETY: `data` is static.
            let got = results_by_user_data(unsafe { run(ring, &sqes, 2) });
            assert_eq!(got, [(2, -libc::EIO), (4, 0)]);
            // Nothing else arrives.
            let _ = ring.submitter().wait_timeout(1, Duration::from_millis(50));
            assert!(
                ring.completion().next().is_none(),
                "successes stayed silent"
            );
            let mut back = [0u8; 7];
            file.read_exact_at(&mut back, 0).unwrap();
            assert_eq!(&back, data, "the silent write happened");
        },
    );
}

#[test]
fn writes_linked_to_fsync_every_flavor() {
    let test = test_name!();
    for_each_flavor(
        test,
        &[opcode::Write::CODE, opcode::Fsync::CODE],
        16,
        |f, ring| {
            let file = tempfile::tempfile().unwrap();
            let n = 8usize;
            let chunks: Vec<Vec<u8>> = (0..n).map(|i| pattern(4096, i as u8)).collect();
            let mut sqes: Vec<uring::Sqe> = chunks
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    opcode::Write::new(&file, c.as_ptr(), 4096)
                        .offset((i * 4096) as u64)
                        .build()
                        .flags(SqeFlags::IO_LINK)
                        .user_data(i as u64)
                })
                .collect();
            sqes.push(opcode::Fsync::new(&file).build().user_data(100));
            // SAFETY: `chunks` outlive the requests.
            let cqes = unsafe { run(ring, &sqes, n + 1) };
            // Links run in order: the CQEs arrive in submission order, the fsync last.
            let order: Vec<u64> = cqes.iter().map(Cqe::user_data).collect();
            let want: Vec<u64> = (0..n as u64).chain([100]).collect();
            assert_eq!(order, want, "[{}]", f.name);
            for c in &cqes[..n] {
                assert_eq!(c.result(), 4096, "[{}] {c:?}", f.name);
            }
            assert_eq!(cqes[n].result(), 0, "[{}] fsync", f.name);
            let mut back = vec![0u8; n * 4096];
            file.read_exact_at(&mut back, 0).unwrap();
            assert_eq!(back, chunks.concat(), "[{}]", f.name);
        },
    );
}

#[test]
fn link_through_an_expiring_timeout_needs_etime_success() {
    // A TIMEOUT inside a chain delays what follows it. Its expiry (-ETIME) fails the
    // link, unless IORING_TIMEOUT_ETIME_SUCCESS: then the CQE still says -ETIME, but
    // the chain goes on.
    common::for_each_backend(
        test_name!(),
        &[opcode::Timeout::CODE, opcode::Nop::CODE],
        8,
        |_backend, ring| {
            let ts = Timespec::from(Duration::from_millis(40));
            for (flags, after) in [
                (sys::IORING_TIMEOUT_ETIME_SUCCESS, 0),
                (0, -libc::ECANCELED),
            ] {
                let sqes = [
                    opcode::Nop::new()
                        .build()
                        .flags(SqeFlags::IO_LINK)
                        .user_data(1),
                    opcode::Timeout::new(&ts)
                        .flags(flags)
                        .build()
                        .flags(SqeFlags::IO_LINK)
                        .user_data(2),
                    opcode::Nop::new().build().user_data(3),
                ];
                let start = Instant::now();
                // SAFETY: `ts` outlives the requests.
                let cqes = unsafe { run(ring, &sqes, 3) };
                let got: Vec<(u64, i32)> =
                    cqes.iter().map(|c| (c.user_data(), c.result())).collect();
                assert_eq!(
                    got,
                    [(1, 0), (2, -libc::ETIME), (3, after)],
                    "flags {flags:#x}"
                );
                assert!(start.elapsed() >= Duration::from_millis(35));
            }
        },
    );
}
