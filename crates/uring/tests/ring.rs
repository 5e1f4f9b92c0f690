//! Behaviour of the core ring on the real kernel, repeated over every ring flavour.
use uring_testkit as common;
use uring_testkit::test_name;

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::{flavors, for_each_flavor, pattern, reap};
use uring::types::{Fd, Timespec};
use uring::{Cqe, PushError, Ring, SqeFlags, opcode, sys};

const LIMIT: Duration = Duration::from_secs(10);

/// Checks what a submit reported against the `n` SQEs it was given: exactly `n`, except
/// with SQPOLL, whose poll thread may take SQEs before the call looks and which then
/// reports only those it found still pending (as liburing and the io-uring crate do).
fn assert_submitted(sqpoll: bool, got: usize, n: usize, flavor: &str) {
    if sqpoll {
        assert!(got <= n, "[{flavor}] submitted {got} of {n}");
    } else {
        assert_eq!(got, n, "[{flavor}] submitted");
    }
}

fn is_sqpoll(ring: &Ring) -> bool {
    ring.params().flags() & sys::IORING_SETUP_SQPOLL != 0
}

fn push_nops(ring: &mut Ring, ids: impl IntoIterator<Item = u64>) {
    let mut sq = ring.submission();
    for id in ids {
        let nop = opcode::Nop::new().build().user_data(id);
        // SAFETY: a NOP references no memory.
        unsafe { sq.push(&nop) }.expect("SQ has room");
    }
}

#[test]
fn nop_round_trip_carries_user_data() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        for id in [0u64, 1, 0xdead_beef_cafe_f00d, u64::MAX] {
            push_nops(ring, [id]);
            let n = ring.submit_and_wait(1).unwrap();
            assert_submitted(is_sqpoll(ring), n, 1, f.name);
            let cqes = reap(ring, 1, LIMIT);
            assert_eq!(cqes.len(), 1);
            assert_eq!(cqes[0].user_data(), id, "[{}]", f.name);
            assert_eq!(cqes[0].result(), 0, "[{}]", f.name);
            assert!(
                ring.completion().next().is_none(),
                "[{}] no extra CQE",
                f.name
            );
        }
    });
}

#[test]
fn batches_of_every_size_complete_once_each() {
    for_each_flavor(test_name!(), &[], 32, |f, ring| {
        let mut next = 0u64;
        for batch in [1usize, 2, 7, 31, 32, 16] {
            let ids: Vec<u64> = (next..next + batch as u64).collect();
            next += batch as u64;
            push_nops(ring, ids.iter().copied());
            ring.submit_and_wait(batch).unwrap();
            let got: Vec<u64> = reap(ring, batch, LIMIT)
                .iter()
                .map(Cqe::user_data)
                .collect();
            let want: BTreeSet<u64> = ids.iter().copied().collect();
            assert_eq!(
                got.iter().copied().collect::<BTreeSet<_>>(),
                want,
                "[{}]",
                f.name
            );
            assert_eq!(got.len(), batch, "[{}] duplicates", f.name);
        }
    });
}

#[test]
fn more_submissions_than_cq_entries_lose_nothing() {
    // 8 SQ entries, 16 CQ slots; 10 rounds of 8 NOPs without reaping = 80 CQEs, 64 of
    // which must overflow into the kernel's list and come back later (NODROP).
    for f in flavors() {
        let test = test_name!();
        let Some(mut ring) = common::build(test, &f, (f.build)().cq_entries(16), 8) else {
            continue;
        };
        assert!(ring.params().is_feature_nodrop());
        let total = 80u64;
        for round in 0..10u64 {
            // The SQ poll thread consumes asynchronously: wait for room.
            let start = Instant::now();
            while ring.submission().space_left() < 8 {
                assert!(start.elapsed() < LIMIT, "[{}] SQ never drained", f.name);
                std::thread::yield_now();
            }
            push_nops(&mut ring, round * 8..round * 8 + 8);
            ring.submit().unwrap();
        }
        // Let SQPOLL consume everything before looking at the overflow flag.
        let start = Instant::now();
        while !ring.submission().is_empty() && start.elapsed() < LIMIT {
            std::thread::yield_now();
        }
        if !ring.params().is_setup(sys::IORING_SETUP_DEFER_TASKRUN) {
            assert!(
                ring.submission().cq_overflow(),
                "[{}] CQ_OVERFLOW must be set",
                f.name
            );
        }
        let mut seen = BTreeSet::new();
        let start = Instant::now();
        while (seen.len() as u64) < total {
            for cqe in ring.completion() {
                assert_eq!(cqe.result(), 0);
                assert!(
                    seen.insert(cqe.user_data()),
                    "[{}] duplicate {}",
                    f.name,
                    cqe.user_data()
                );
            }
            assert!(
                start.elapsed() < LIMIT,
                "[{}] only {} of {total} CQEs",
                f.name,
                seen.len()
            );
            ring.submitter().get_events().unwrap();
        }
        assert_eq!(seen, (0..total).collect(), "[{}]", f.name);
        assert_eq!(
            ring.completion().overflow(),
            0,
            "[{}] nothing dropped",
            f.name
        );
        assert!(
            !ring.submission().cq_overflow(),
            "[{}] overflow drained",
            f.name
        );
    }
}

#[test]
fn split_views_publish_only_what_they_say() {
    // The views keep local copies of the indexes: `SubmissionQueue::sync` stores the
    // tail and nothing more, `len()` loads the kernel's head when asked (not a copy
    // taken at the last sync), `CompletionQueue::release` stores the head and nothing
    // more. A fresh view, made after the first ones are forgotten (their drop would
    // publish too), reads what reached the shared ring.
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let sqpoll = is_sqpoll(ring);
        let (submitter, mut sq, mut cq) = ring.split();
        for id in 0..3u64 {
            // SAFETY: a NOP references no memory.
            unsafe {
                sq.push_with(|sqe| {
                    opcode::Nop::new().write(sqe).set_user_data(id);
                })
            }
            .unwrap();
        }
        assert_eq!(sq.len(), 3, "[{}] pushed, not yet published", f.name);
        sq.sync();
        let n = submitter.submit_and_wait(3).unwrap();
        assert_submitted(sqpoll, n, 3, f.name);
        assert_eq!(sq.len(), 0, "[{}] the kernel's head, loaded now", f.name);
        cq.sync();
        let got: BTreeSet<u64> = (&mut cq).map(|c| c.user_data()).collect();
        assert_eq!(got, BTreeSet::from([0, 1, 2]), "[{}]", f.name);
        cq.release();
        std::mem::forget(cq);
        std::mem::forget(sq);
        assert!(
            ring.completion().is_empty(),
            "[{}] the released head reached the ring",
            f.name
        );
    });
}

#[test]
fn full_sq_is_an_error_and_overwrites_nothing() {
    for_each_flavor(test_name!(), &[opcode::Nop::CODE], 4, |f, ring| {
        if ring.params().is_setup(sys::IORING_SETUP_SQPOLL) {
            // The poll thread consumes SQEs as they are published; the SQ only stays
            // full while unpublished, which is what we test below anyway.
        }
        {
            let mut sq = ring.submission();
            for id in 0..4u64 {
                let nop = opcode::Nop::new().build().user_data(id);
                // SAFETY: a NOP references no memory.
                unsafe { sq.push(&nop) }.unwrap();
            }
            assert!(sq.is_full());
            let extra = opcode::Nop::new().build().user_data(99);
            // SAFETY: as above.
            assert_eq!(unsafe { sq.push(&extra) }, Err(PushError), "[{}]", f.name);
            // SAFETY: as above.
            assert_eq!(unsafe { sq.push_multiple(&[extra, extra]) }, Err(PushError));
        }
        ring.submit_and_wait(4).unwrap();
        let mut got: Vec<u64> = reap(ring, 4, LIMIT).iter().map(Cqe::user_data).collect();
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3], "[{}] the 4 SQEs are intact", f.name);
        assert!(
            ring.completion().next().is_none(),
            "[{}] the refused one never ran",
            f.name
        );
    });
}

#[test]
fn taken_back_sqes_are_never_submitted() {
    for_each_flavor(test_name!(), &[opcode::Nop::CODE], 8, |f, ring| {
        let sqpoll = ring.params().is_setup(sys::IORING_SETUP_SQPOLL);
        // Two rounds: the second shows the SQ works on from where the first left it.
        for round in 0..2u64 {
            let first = round * 10;
            push_nops(ring, first..first + 3);
            let mut seen = Vec::new();
            let n = ring
                .submission()
                .take_back(|sqe| seen.push(sqe.get_user_data()));
            if sqpoll {
                // The poll thread may already hold them: nothing is taken back.
                assert_eq!(n, 0, "[{}]", f.name);
                ring.submit_and_wait(3).unwrap();
                assert_eq!(reap(ring, 3, LIMIT).len(), 3, "[{}]", f.name);
                continue;
            }
            assert_eq!(n, 3, "[{}]", f.name);
            assert_eq!(seen, vec![first, first + 1, first + 2], "[{}]", f.name);
            assert!(ring.submission().is_empty(), "[{}]", f.name);
            assert_eq!(ring.submit().unwrap(), 0, "[{}] nothing left", f.name);
            push_nops(ring, [first + 5]);
            ring.submit_and_wait(1).unwrap();
            let got: Vec<u64> = reap(ring, 1, LIMIT).iter().map(Cqe::user_data).collect();
            assert_eq!(got, vec![first + 5], "[{}] only the later SQE ran", f.name);
            assert!(ring.completion().next().is_none(), "[{}]", f.name);
        }
    });
}

#[test]
fn wait_with_timeout_returns_etime_on_time() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let start = Instant::now();
        let err = ring
            .submitter()
            .wait_timeout(1, Duration::from_millis(100))
            .unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.raw_os_error(), Some(libc::ETIME), "[{}] {err}", f.name);
        assert!(
            took >= Duration::from_millis(95),
            "[{}] returned early: {took:?}",
            f.name
        );
        assert!(
            took < Duration::from_secs(2),
            "[{}] returned late: {took:?}",
            f.name
        );
    });
}

#[test]
fn submit_and_wait_waits_for_what_does_not_complete_inline() {
    // submit_and_wait(n) may submit first and wait only if the CQ is then short
    // (requests that complete inline have posted their CQEs by then): a timeout does
    // not complete inline, so the call must still wait for it, with a NOP beside it
    // that does, alone, and again after NOPs (whatever the ring learned from them).
    for_each_flavor(test_name!(), &[opcode::Timeout::CODE], 8, |f, ring| {
        let ts = Timespec::from(Duration::from_millis(30));
        for round in 0..3u64 {
            if round == 2 {
                for i in 0..4 {
                    push_nops(ring, [100 + i]);
                    ring.submit_and_wait(1).unwrap();
                    assert_eq!(reap(ring, 1, LIMIT)[0].user_data(), 100 + i);
                }
            }
            let t = opcode::Timeout::new(&raw const ts).build().user_data(5);
            // SAFETY: `ts` outlives the request: the wait below ends with its CQE.
            unsafe { ring.submission().push(&t) }.unwrap();
            let want = if round == 0 {
                push_nops(ring, [6]);
                2
            } else {
                1
            };
            let start = Instant::now();
            ring.submit_and_wait(want).unwrap();
            let waited = start.elapsed();
            let got: BTreeSet<u64> = ring.completion().map(|c| c.user_data()).collect();
            assert!(
                got.contains(&5) && got.len() == want,
                "[{}] round {round}: {got:?} in the CQ when submit_and_wait({want}) returned \
                 after {waited:?}",
                f.name
            );
            assert!(
                waited >= Duration::from_millis(20),
                "[{}] returned after {waited:?}",
                f.name
            );
        }
    });
}

#[test]
fn wait_in_one_enter_rings_wait_for_what_does_not_complete_inline() {
    // Builder::wait_in_one_enter: submit_and_wait submits and waits in one call.
    common::for_each_backend_only(test_name!(), |backend| {
        let mut ring = common::builder(backend)
            .wait_in_one_enter()
            .build(8)
            .unwrap();
        let ts = Timespec::from(Duration::from_millis(30));
        let t = opcode::Timeout::new(&raw const ts).build().user_data(5);
        // SAFETY: `ts` outlives the request: the wait below ends with its CQE.
        unsafe { ring.submission().push(&t) }.unwrap();
        push_nops(&mut ring, [6]);
        let start = Instant::now();
        assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(ring.completion().count(), 2);
        nop_through(&mut ring, 7);
    });
}

#[test]
fn wait_with_timeout_returns_early_when_a_cqe_arrives() {
    for_each_flavor(test_name!(), &[opcode::Timeout::CODE], 8, |f, ring| {
        let ts = Timespec::from(Duration::from_millis(30));
        let t = opcode::Timeout::new(&raw const ts).build().user_data(5);
        // SAFETY: `ts` outlives the request: we wait for its completion below.
        unsafe { ring.submission().push(&t) }.unwrap();
        let start = Instant::now();
        ring.submitter()
            .wait_timeout(1, Duration::from_secs(5))
            .unwrap();
        let took = start.elapsed();
        let cqes = reap(ring, 1, LIMIT);
        assert!(took >= Duration::from_millis(25), "[{}] {took:?}", f.name);
        assert!(
            took < Duration::from_secs(2),
            "[{}] did not return early: {took:?}",
            f.name
        );
        assert_eq!(
            (cqes[0].user_data(), cqes[0].result()),
            (5, -libc::ETIME),
            "[{}]",
            f.name
        );
    });
}

#[test]
fn min_wait_returns_with_what_completed() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        if !ring.params().is_feature_min_timeout() {
            common::skip(
                &format!("min_wait [{}]", f.name),
                "no IORING_FEAT_MIN_TIMEOUT",
            );
            return;
        }
        push_nops(ring, [1]);
        // Want 4, only 1 will come: min_wait 20 ms lets the wait end with that one
        // long before the 5 s timeout.
        let start = Instant::now();
        let args = uring::WaitArgs::new()
            .timeout(Duration::from_secs(5))
            .min_wait(Duration::from_millis(20));
        let _ = ring.submitter().submit_with_args(4, &args);
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "[{}] min_wait ignored: {took:?}",
            f.name
        );
        assert_eq!(reap(ring, 1, LIMIT)[0].user_data(), 1);
    });
}

#[test]
fn timeout_count_completes_after_n_cqes() {
    for_each_flavor(test_name!(), &[opcode::Timeout::CODE], 8, |f, ring| {
        let ts = Timespec::from(Duration::from_secs(10));
        let t = opcode::Timeout::new(&raw const ts)
            .count(2)
            .build()
            .user_data(100);
        // SAFETY: `ts` outlives the request (we reap it below).
        unsafe { ring.submission().push(&t) }.unwrap();
        ring.submit().unwrap();
        push_nops(ring, [1, 2]);
        ring.submit().unwrap();
        let cqes = reap(ring, 3, LIMIT);
        let t = cqes
            .iter()
            .find(|c| c.user_data() == 100)
            .expect("timeout CQE");
        assert_eq!(
            t.result(),
            0,
            "[{}] count-satisfied timeout completes with 0",
            f.name
        );
    });
}

#[test]
fn sqpoll_goes_idle_and_is_woken() {
    common::for_each_backend_of(
        test_name!(),
        "sqpoll",
        &[],
        |b| b.sqpoll(Duration::from_millis(10)),
        8,
        |_f, ring| {
            push_nops(ring, [1]);
            ring.submit_and_wait(1).unwrap();
            assert_eq!(reap(ring, 1, LIMIT)[0].user_data(), 1);

            // Idle for 10 ms: the thread must go to sleep and say so.
            let start = Instant::now();
            while !ring.submission().need_wakeup() {
                assert!(start.elapsed() < LIMIT, "SQ poll thread never went idle");
                std::thread::sleep(Duration::from_millis(5));
            }
            // A submit now must wake it, or the NOP would never be consumed.
            push_nops(ring, [2]);
            ring.submit().unwrap();
            let cqes = reap(ring, 1, Duration::from_secs(5));
            assert_eq!(cqes[0].user_data(), 2);
        },
    );
}

#[test]
fn sqpoll_submit_makes_no_syscall_while_awake() {
    // With the poll thread awake, submit() returns the count handed over without
    // entering; the CQE still arrives.
    common::for_each_backend_of(
        test_name!(),
        "sqpoll",
        &[],
        |b| b.sqpoll(Duration::from_secs(2)),
        8,
        |_f, ring| {
            push_nops(ring, [7, 8]);
            assert_eq!(ring.submit().unwrap(), 2);
            let mut got: Vec<u64> = reap(ring, 2, LIMIT).iter().map(Cqe::user_data).collect();
            got.sort();
            assert_eq!(got, [7, 8]);
        },
    );
}

#[test]
fn sqpoll_sq_wait_returns_when_the_sq_has_room() {
    common::for_each_backend_of(
        test_name!(),
        "sqpoll",
        &[],
        |b| b.sqpoll(Duration::from_millis(100)),
        4,
        |_f, ring| {
            // Fill the SQ, hand it to the poll thread, then wait for room: SQ_WAIT returns
            // once the thread has consumed entries, and the queue has space again.
            push_nops(ring, 0..4);
            ring.submit().unwrap();
            ring.submitter().squeue_wait().unwrap();
            assert!(
                ring.submission().space_left() > 0,
                "SQ_WAIT returned with a full SQ"
            );
            let mut got: Vec<u64> = reap(ring, 4, LIMIT).iter().map(Cqe::user_data).collect();
            got.sort();
            assert_eq!(got, [0, 1, 2, 3]);
        },
    );
}

#[test]
fn rings_are_send_and_work_from_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Ring>();
    common::for_each_backend_only(test_name!(), |backend| {
        let mut ring = common::new_ring(backend, 4);
        let handle = std::thread::spawn(move || {
            push_nops(&mut ring, [11]);
            ring.submit_and_wait(1).unwrap();
            reap(&mut ring, 1, LIMIT)[0].user_data()
        });
        assert_eq!(handle.join().unwrap(), 11);
    });
}

#[test]
fn a_registered_ring_moved_to_another_thread_still_works() {
    // The index registered on this thread means nothing on the other one (or names
    // another ring): the ring must fall back to its plain fd there.
    common::for_each_backend_only(test_name!(), |backend| {
        let mut ring = common::builder(backend)
            .register_ring_fd()
            .build(4)
            .unwrap();
        push_nops(&mut ring, [1]);
        ring.submit_and_wait(1).unwrap();
        assert_eq!(reap(&mut ring, 1, LIMIT)[0].user_data(), 1);
        let handle = std::thread::spawn(move || {
            // A ring of this thread's own takes index 0 here, the index `ring` got on the
            // main thread: entering with that index would drive this ring instead.
            let mut other = common::builder(backend)
                .register_ring_fd()
                .build(4)
                .unwrap();
            push_nops(&mut ring, [2]);
            ring.submit_and_wait(1).unwrap();
            let got = reap(&mut ring, 1, LIMIT)[0].user_data();
            assert!(
                other.completion().next().is_none(),
                "the other ring saw our NOP"
            );
            // Undoing the registration here must not undo `other`'s, which holds the
            // same index in this thread's table.
            ring.unregister_ring_fd().unwrap();
            push_nops(&mut other, [3]);
            other.submit_and_wait(1).unwrap();
            assert_eq!(reap(&mut other, 1, LIMIT)[0].user_data(), 3);
            push_nops(&mut ring, [4]);
            ring.submit_and_wait(1).unwrap();
            assert_eq!(reap(&mut ring, 1, LIMIT)[0].user_data(), 4);
            got
        });
        assert_eq!(handle.join().unwrap(), 2);
    });
}

/// One NOP through `ring` on the calling thread, checked.
fn nop_through(ring: &mut Ring, id: u64) {
    push_nops(ring, [id]);
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(reap(ring, 1, LIMIT)[0].user_data(), id);
}

#[test]
fn rings_register_their_fd_on_the_first_enter_by_default() {
    // The default: a kernel ring registers its fd in the table of the first thread that
    // enters it, and enters through the index there; `plain_ring_fd` opts out. The
    // engine is entered through its handle and registers nothing by default.
    common::for_each_backend_only(test_name!(), |backend| {
        std::thread::spawn(move || {
            let mut ring = common::new_ring(backend, 4);
            assert_eq!(ring.registered_ring_index(), None, "before the first enter");
            nop_through(&mut ring, 1);
            let index = ring.registered_ring_index();
            if backend == uring::Backend::Engine {
                assert_eq!(index, None, "the engine registers nothing by default");
                return;
            }
            // A fresh thread's table is empty: the first free slot.
            assert_eq!(index, Some(0), "registered on the first enter");
            nop_through(&mut ring, 2);
            let mut plain = common::builder(backend).plain_ring_fd().build(4).unwrap();
            nop_through(&mut plain, 3);
            assert_eq!(plain.registered_ring_index(), None, "plain_ring_fd");
            // Unregistered, the ring goes on through its fd and stays so.
            ring.unregister_ring_fd().unwrap();
            nop_through(&mut ring, 4);
            assert_eq!(ring.registered_ring_index(), None, "after unregister");
            // Dropped on its thread, a ring frees its slot: the next ring gets it.
            let mut next = common::new_ring(backend, 4);
            nop_through(&mut next, 5);
            assert_eq!(next.registered_ring_index(), Some(0));
            drop(next);
            let mut again = common::new_ring(backend, 4);
            nop_through(&mut again, 6);
            assert_eq!(
                again.registered_ring_index(),
                Some(0),
                "slot 0 freed by the drop"
            );
        })
        .join()
        .unwrap();
    });
}

#[test]
fn a_ring_registered_by_default_works_on_a_second_thread_and_drops_anywhere() {
    // Registered on this thread by its first enter, the ring is moved to another
    // thread, which has a ring of its own at the same index of its own table: ours
    // must enter through its fd there (the index would drive the other ring), and its
    // drop there hands the slot back to this thread, which frees it at its next build.
    common::for_each_backend_only(test_name!(), |backend| {
        std::thread::spawn(move || {
            let mut ring = common::new_ring(backend, 4);
            nop_through(&mut ring, 1);
            let index = ring.registered_ring_index();
            let handle = std::thread::spawn(move || {
                let mut other = common::new_ring(backend, 4);
                nop_through(&mut other, 2);
                assert_eq!(other.registered_ring_index(), index, "the same index here");
                assert_eq!(ring.registered_ring_index(), None, "not registered here");
                nop_through(&mut ring, 3);
                assert!(
                    other.completion().next().is_none(),
                    "the other ring saw our NOP"
                );
                nop_through(&mut other, 4);
                drop(ring);
                nop_through(&mut other, 5);
            });
            handle.join().unwrap();
            // The slot the moved ring held here is free again once this thread calls
            // into the crate: the first enter of a new ring takes it.
            let mut next = common::new_ring(backend, 4);
            nop_through(&mut next, 6);
            assert_eq!(next.registered_ring_index(), index, "the slot came back");
        })
        .join()
        .unwrap();
    });
}

#[test]
fn rings_used_from_two_threads_at_once_register_once() {
    // `submit` takes `&self`: two threads may make a ring's first enter at once. One of
    // them registers it; both get their NOPs through (the CQ is read by one at the end).
    common::for_each_backend_only(test_name!(), |backend| {
        let mut ring = common::new_ring(backend, 64);
        push_nops(&mut ring, 0..32);
        let ring_ref = &ring;
        let submitted: usize = std::thread::scope(|s| {
            let a = s.spawn(|| ring_ref.submit().unwrap());
            let b = s.spawn(|| ring_ref.submit().unwrap());
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(submitted, 32);
        assert_eq!(reap(&mut ring, 32, LIMIT).len(), 32);
        nop_through(&mut ring, 99);
    });
}

#[test]
fn the_default_registration_leaves_half_the_thread_table_free() {
    // The kernel's table has 16 slots per thread; rings register by default only while
    // this crate holds fewer than 8 of them there, so explicit registrations (here
    // `register_ring_fd` and REGISTERED_FD_ONLY rings) still find room.
    common::for_each_backend_only(test_name!(), |backend| {
        if backend == uring::Backend::Engine {
            return common::not_applicable(test_name!(), "the engine registers nothing by default");
        }
        std::thread::spawn(move || {
            let mut rings: Vec<Ring> = (0..12).map(|_| common::new_ring(backend, 4)).collect();
            for (i, ring) in rings.iter_mut().enumerate() {
                nop_through(ring, i as u64);
            }
            let registered = rings.iter().filter(|r| r.registered_ring_index().is_some());
            assert_eq!(
                registered.count(),
                8,
                "8 registered by default, the rest plain"
            );
            for ring in &mut rings[8..] {
                ring.register_ring_fd()
                    .expect("an explicit registration finds a slot");
                nop_through(ring, 100);
            }
            let mut only = common::builder(backend)
                .registered_fd_only()
                .build(4)
                .unwrap();
            nop_through(&mut only, 200);
            // 13 slots taken; dropping 8 rings frees their slots for the default again.
            rings.truncate(4);
            let mut more: Vec<Ring> = (0..3).map(|_| common::new_ring(backend, 4)).collect();
            for ring in &mut more {
                nop_through(ring, 300);
                assert!(ring.registered_ring_index().is_some());
            }
        })
        .join()
        .unwrap();
    });
}

#[test]
fn a_forked_child_enters_an_inherited_registered_ring_through_its_fd() {
    // A child of fork() has none of its parent's registered rings (the kernel gives it
    // no io_uring context): a ring it inherited registered must enter through its fd
    // there. With the parent's index it would fail (EINVAL), or drive another ring.
    common::for_each_backend_only(test_name!(), |backend| {
        if backend == uring::Backend::Engine {
            return common::not_applicable(
                test_name!(),
                "an engine ring's threads do not survive fork()",
            );
        }
        let mut ring = common::new_ring(backend, 4);
        nop_through(&mut ring, 1);
        assert!(ring.registered_ring_index().is_some());
        // The child only touches the ring (no allocation, no lock another thread of the
        // test process may have held at the fork) and leaves with _exit.
        // SAFETY: fork(2); the child runs no destructor and calls only what is above.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = {
                let mut sq = ring.submission();
                let nop = opcode::Nop::new().build().user_data(7);
                // SAFETY: a NOP references no memory.
                match unsafe { sq.push(&nop) } {
                    Ok(()) => {
                        drop(sq);
                        match ring.submit_and_wait(1) {
                            Ok(1) => match ring.completion().next() {
                                Some(c) if c.user_data() == 7 => 0,
                                _ => 3,
                            },
                            Ok(_) => 4,
                            Err(e) => 10 + e.raw_os_error().unwrap_or(0).min(200),
                        }
                    }
                    Err(_) => 2,
                }
            };
            // SAFETY: leaves the child at once, running nothing of the parent's.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        let code = libc::WEXITSTATUS(status);
        assert_eq!(
            code, 0,
            "child: 2 push, 3 CQE, 4 count, 10+ errno of the enter"
        );
        // The parent's registration is untouched.
        nop_through(&mut ring, 8);
    });
}

#[test]
fn registered_rings_free_their_slot_when_dropped_on_any_thread() {
    // The kernel keeps a thread's registered rings in a table of 16 slots
    // (IO_RINGFD_REG_MAX), and a registration holds the ring alive: a ring dropped
    // without undoing it keeps its slot and its memory until the registering thread
    // exits. Eighty rings made on one thread, half dropped there and half on another,
    // fill the table unless each drop frees its slot.
    common::for_each_backend_only("registered_rings_free_their_slot", |backend| {
        std::thread::spawn(move || {
            for i in 0..80 {
                let builder = common::builder(backend);
                let builder = if i % 2 == 0 {
                    builder.registered_fd_only()
                } else {
                    builder.register_ring_fd()
                };
                let mut ring = builder.build(4).unwrap_or_else(|e| panic!("ring {i}: {e}"));
                push_nops(&mut ring, [i]);
                ring.submit_and_wait(1).unwrap();
                assert_eq!(reap(&mut ring, 1, LIMIT)[0].user_data(), i);
                if i % 4 < 2 {
                    drop(ring);
                } else {
                    std::thread::spawn(move || drop(ring)).join().unwrap();
                }
            }
        })
        .join()
        .unwrap();
    });
}

#[test]
fn large_rings_with_provided_memory_work_at_every_size() {
    // NO_MMAP sizes the memory the kernel's rings_size() will want: check it holds at
    // the largest sizes and entry widths, where a miscount would be refused or fault.
    common::for_each_backend_only(test_name!(), |backend| {
        let cases = [
            (common::builder(backend).no_mmap(), 4096),
            (common::builder(backend).no_mmap().cqe32().sqe128(), 4096),
            (common::builder(backend).no_mmap().no_sqarray(), 32768),
            (common::builder(backend).no_mmap().cq_entries(65536), 8),
        ];
        for (builder, entries) in cases {
            let mut ring = builder.build(entries).unwrap();
            let n = ring.params().sq_entries() as u64;
            push_nops(&mut ring, 0..n);
            ring.submit_and_wait(n as usize).unwrap();
            let got: BTreeSet<u64> = reap(&mut ring, n as usize, LIMIT)
                .iter()
                .map(Cqe::user_data)
                .collect();
            assert_eq!(got.len() as u64, n);
        }
    });
}

#[test]
fn random_batches_across_many_wraps_lose_and_duplicate_nothing() {
    // A small xorshift drives batch sizes and how much is reaped per step, so head and
    // tail wrap the 8-entry SQ and 16-slot CQ hundreds of times at every phase.
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let (mut next, mut outstanding) = (0u64, BTreeSet::new());
        for _ in 0..300 {
            // The SQ poll thread consumes asynchronously: only what is free now.
            let room = ring.submission().space_left().min(16 - outstanding.len());
            let batch = rand(room as u64 + 1) as usize;
            push_nops(ring, next..next + batch as u64);
            outstanding.extend(next..next + batch as u64);
            next += batch as u64;
            ring.submit().unwrap();
            let take = rand(outstanding.len() as u64 + 1) as usize;
            for c in reap(ring, take, LIMIT) {
                assert!(
                    outstanding.remove(&c.user_data()),
                    "[{}] unexpected {c:?}",
                    f.name
                );
            }
        }
        for c in reap(ring, outstanding.len(), LIMIT) {
            assert!(
                outstanding.remove(&c.user_data()),
                "[{}] unexpected {c:?}",
                f.name
            );
        }
        assert!(outstanding.is_empty());
        assert!(ring.completion().next().is_none(), "[{}] stray CQE", f.name);
    });
}

#[test]
fn write_then_fsync_then_read_back() {
    for_each_flavor(
        test_name!(),
        &[opcode::Write::CODE, opcode::Fsync::CODE, opcode::Read::CODE],
        8,
        |f, ring| {
            let file = tempfile::tempfile().unwrap();
            let data = pattern(8192, 3);
            let mut back = vec![0u8; 8192];
            let fd = Fd(file.as_raw_fd());
            let w = opcode::Write::new(fd, data.as_ptr(), 8192)
                .offset(4096)
                .build()
                .user_data(1);
            let s = opcode::Fsync::new(fd).build().user_data(2);
            let r = opcode::Read::new(fd, back.as_mut_ptr(), 8192)
                .offset(4096)
                .build()
                .user_data(3);
            {
                let mut sq = ring.submission();
                // SAFETY: `data` and `back` outlive the requests (reaped below); the chain
                // is linked so the read starts after the fsync.
                unsafe {
                    sq.push(&w.flags(SqeFlags::IO_LINK)).unwrap();
                    sq.push(&s.flags(SqeFlags::IO_LINK)).unwrap();
                    sq.push(&r).unwrap();
                }
            }
            ring.submit_and_wait(3).unwrap();
            let mut cqes = reap(ring, 3, LIMIT);
            cqes.sort_by_key(Cqe::user_data);
            let res: Vec<i32> = cqes.iter().map(Cqe::result).collect();
            assert_eq!(
                res,
                [8192, 0, 8192],
                "[{}] write, fsync, read results",
                f.name
            );
            assert_eq!(back, data, "[{}] read back what was written", f.name);
            assert_eq!(file.metadata().unwrap().len(), 4096 + 8192);
        },
    );
}

#[test]
fn iopoll_on_o_direct_file() {
    use std::os::unix::fs::OpenOptionsExt;
    let test = test_name!();
    // On both backends: the engine follows the kernel's IOPOLL rules (completions
    // reaped by enter, EOPNOTSUPP where the device cannot poll).
    for backend in common::backends() {
        let f = common::Flavor {
            name: if backend == uring::Backend::Engine {
                "engine/iopoll"
            } else {
                "iopoll"
            },
            build: || Ring::builder().iopoll(),
            register_ring_fd: false,
            backend,
        };
        let Some(mut ring) = common::ring(test, &f, 8) else {
            continue;
        };
        let dir = tempfile::tempdir_in(std::env::var("CARGO_TARGET_TMPDIR").unwrap_or(".".into()))
            .unwrap();
        let path = dir.path().join("direct");
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) => {
                return common::not_applicable(test, &format!("filesystem refuses O_DIRECT: {e}"));
            }
        };
        // O_DIRECT wants aligned memory: a 4 KiB-aligned buffer.
        let layout = std::alloc::Layout::from_size_align(4096, 4096).unwrap();
        // SAFETY: the layout has non-zero size.
        let buf = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!buf.is_null());
        // SAFETY: buf is 4096 writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(pattern(4096, 9).as_ptr(), buf, 4096) };
        let w = opcode::Write::new(Fd(file.as_raw_fd()), buf, 4096)
            .build()
            .user_data(1);
        // SAFETY: buf outlives the request (reaped below).
        unsafe { ring.submission().push(&w) }.unwrap();
        ring.submit_and_wait(1).unwrap();
        let cqe = reap(&mut ring, 1, LIMIT)[0];
        if cqe.result() == -libc::EOPNOTSUPP {
            // SAFETY: allocated above with this layout.
            unsafe { std::alloc::dealloc(buf, layout) };
            common::not_applicable(
                &format!("{test} [{}]", f.name),
                "the file system does not poll (IOPOLL needs ext4, XFS, btrfs or a block \
                 device)",
            );
            continue;
        }
        assert_eq!(cqe.result(), 4096, "[{}] IOPOLL O_DIRECT write", f.name);
        // SAFETY: buf is 4096 writable bytes.
        unsafe { buf.write_bytes(0, 4096) };
        let r = opcode::Read::new(Fd(file.as_raw_fd()), buf, 4096)
            .build()
            .user_data(2);
        // SAFETY: buf outlives the request.
        unsafe { ring.submission().push(&r) }.unwrap();
        ring.submit_and_wait(1).unwrap();
        let res = reap(&mut ring, 1, LIMIT)[0].result();
        if res == -libc::EOPNOTSUPP {
            // SAFETY: allocated above with this layout.
            unsafe { std::alloc::dealloc(buf, layout) };
            common::not_applicable(
                &format!("{test} [{}]", f.name),
                "the block device has no poll queues (queue/io_poll is 0), so a polled \
                 read is EOPNOTSUPP; IOPOLL needs e.g. NVMe with poll_queues",
            );
            continue;
        }
        assert_eq!(res, 4096, "[{}]", f.name);
        // SAFETY: buf holds 4096 initialised bytes, not written while this slice lives.
        let read_back = unsafe { std::slice::from_raw_parts(buf, 4096) };
        assert_eq!(read_back, &pattern(4096, 9)[..], "[{}]", f.name);
        // SAFETY: allocated above with this layout.
        unsafe { std::alloc::dealloc(buf, layout) };
    }
}

#[test]
fn cqe_mixed_handles_big_cqes_and_wrap() {
    common::for_each_backend_of(
        test_name!(),
        "cqe_mixed",
        &[opcode::Nop::CODE],
        |b| b.cqe_mixed(),
        4,
        |_f, ring| {
            // 8 slots; alternate big (2 slots) and small (1 slot) so big ones hit the wrap
            // point and the kernel must pad with a skip entry.
            let mut next = 0u64;
            for _ in 0..20 {
                {
                    let mut sq = ring.submission();
                    for i in 0..3u64 {
                        let id = next + i;
                        let flags = if id % 2 == 0 {
                            sys::IORING_NOP_CQE32
                        } else {
                            0
                        };
                        let nop = opcode::Nop::new().nop_flags(flags).build().user_data(id);
                        // SAFETY: a NOP references no memory.
                        unsafe { sq.push(&nop) }.unwrap();
                    }
                }
                ring.submit_and_wait(3).unwrap();
                let cqes = reap(ring, 3, LIMIT);
                for (i, c) in cqes.iter().enumerate() {
                    let id = next + i as u64;
                    assert_eq!(c.user_data(), id, "in order, no skip entry surfaced");
                    assert_eq!(c.result(), 0);
                    assert_eq!(c.flags() & sys::IORING_CQE_F_32 != 0, id % 2 == 0, "{c:?}");
                }
                next += 3;
            }
        },
    );
}

#[test]
fn disabled_ring_runs_nothing_until_enabled() {
    common::for_each_backend_of(
        test_name!(),
        "default",
        &[],
        |b| b.disabled(),
        4,
        |_f, ring| {
            push_nops(ring, [1]);
            let err = ring.submit().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EBADFD), "{err}");
            ring.submitter().enable_rings().unwrap();
            ring.submit_and_wait(1).unwrap();
            assert_eq!(reap(ring, 1, LIMIT)[0].user_data(), 1);
        },
    );
}

/// Forks, runs `child` in the child (which must only make system calls: the parent may
/// have other threads) and returns its exit status as waitpid(2) reports it.
fn fork_and_wait(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs only `child` (system calls, no allocation, no lock) and
    // leaves with _exit, running no destructor of the parent's state.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = child();
        // SAFETY: ends the child at once, as after fork(2) in a threaded process.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child, writing its status into `status`.
    let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(ret, pid, "waitpid: {}", std::io::Error::last_os_error());
    status
}

/// In the child: 0 if every region is mapped (`want_mapped`) or every one unmapped
/// (`!want_mapped`), else 1. msync(2) fails with ENOMEM on an unmapped range.
fn regions_mapped(regions: &[(*mut u8, usize)], want_mapped: bool) -> i32 {
    for &(ptr, len) in regions {
        // SAFETY: msync with MS_ASYNC only checks the range (and schedules nothing
        // for anonymous memory); it touches no byte of it.
        let mapped = unsafe { libc::msync(ptr.cast(), len, libc::MS_ASYNC) } == 0;
        if mapped != want_mapped {
            return 1;
        }
    }
    0
}

#[test]
fn dontfork_keeps_the_rings_out_of_a_forked_child() {
    for_each_flavor(test_name!(), &[], 8, |f, ring| {
        let regions = ring.memory_regions();
        assert!(regions.len() >= 2, "[{}] {regions:?}", f.name);

        // Without dontfork the child inherits every mapping of the ring.
        let status = fork_and_wait(|| regions_mapped(&regions, true));
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "[{}] a child before dontfork sees the rings: status {status:#x}",
            f.name
        );

        ring.dontfork().unwrap();
        // After it, none of them: the child has nothing there to read or corrupt.
        let status = fork_and_wait(|| regions_mapped(&regions, false));
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "[{}] a child after dontfork still maps the rings: status {status:#x}",
            f.name
        );
        // A write there kills the child (SIGSEGV) instead of reaching the ring.
        let (sq_ring, _) = regions[0];
        let status = fork_and_wait(|| {
            // SAFETY: no core dump for the expected fault (a system call).
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) };
            // SAFETY: deliberately writes where the parent's SQ ring is: in this
            // child the address is unmapped, so the write faults.
            unsafe { sq_ring.write_volatile(0xff) };
            0
        });
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
            "[{}] a child writing to the SQ ring after dontfork: status {status:#x}",
            f.name
        );

        // The parent's ring works on, with its own completions only.
        push_nops(ring, [7, 8]);
        ring.submit_and_wait(2).unwrap();
        let mut got: Vec<u64> = reap(ring, 2, LIMIT).iter().map(Cqe::user_data).collect();
        got.sort();
        assert_eq!(got, [7, 8], "[{}]", f.name);
        assert!(
            ring.completion().next().is_none(),
            "[{}] no extra CQE",
            f.name
        );
    });
}

/// `push_with` hands out the slot zeroed, whatever the SQE that last used it held, and
/// what a builder writes there in place is what `push` of the built SQE would send.
#[test]
fn push_with_writes_a_zeroed_slot_in_place() {
    for_each_flavor(test_name!(), &[opcode::Nop::CODE], 4, |f, ring| {
        // Fill every slot with NOPs that fail with an injected -EIO.
        {
            let mut sq = ring.submission();
            for id in 0..4u64 {
                let nop = opcode::Nop::new()
                    .inject_result(-libc::EIO)
                    .build()
                    .user_data(id);
                // SAFETY: a NOP references no memory.
                unsafe { sq.push(&nop) }.unwrap();
            }
        }
        ring.submit_and_wait(4).unwrap();
        for cqe in reap(ring, 4, LIMIT) {
            assert_eq!(cqe.result(), -libc::EIO, "[{}] {cqe:?}", f.name);
        }
        // With SQPOLL the poll thread posts a batch's CQEs before it moves the SQ head
        // past the batch: wait for the slots to be free.
        let start = Instant::now();
        while !ring.submission().is_empty() {
            assert!(
                start.elapsed() < LIMIT,
                "[{}] the SQ head never moved",
                f.name
            );
            std::thread::yield_now();
        }
        // The same slots again, with only user_data set: a plain NOP, result 0.
        // Then a builder written in place, with flags and an injected result.
        {
            let mut sq = ring.submission();
            for id in 10..13u64 {
                // SAFETY: a NOP references no memory.
                unsafe {
                    sq.push_with(|sqe| {
                        sqe.set_user_data(id);
                    })
                }
                .unwrap();
            }
            // SAFETY: as above.
            unsafe {
                sq.push_with(|sqe| {
                    opcode::Nop::new()
                        .inject_result(5)
                        .write(sqe)
                        .set_user_data(13)
                        .insert_flags(SqeFlags::IO_DRAIN);
                })
            }
            .unwrap();
            // SAFETY: nothing is written: the SQ is full.
            let full = unsafe { sq.push_with(|_| panic!("called on a full SQ")) };
            assert_eq!(full, Err(PushError), "[{}]", f.name);
        }
        ring.submit_and_wait(4).unwrap();
        let mut got: Vec<(u64, i32)> = reap(ring, 4, LIMIT)
            .iter()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        got.sort();
        assert_eq!(got, [(10, 0), (11, 0), (12, 0), (13, 5)], "[{}]", f.name);
    });
}
