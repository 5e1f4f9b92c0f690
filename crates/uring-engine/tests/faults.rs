//! Fault injection: by index and by rate, per opcode; errors, short transfers (the
//! data on disk matches the short count), interrupted attempts, delays; the same
//! faults for the same seed; in the threaded and in the deterministic mode; and from
//! the environment.
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use uring::{Backend, EngineConfig, Ring, SqeFlags, opcode, sys};
use uring_engine::{Fault, FaultPlan, FaultRule};

fn ring(config: EngineConfig, entries: u32) -> Ring {
    Ring::builder()
        .backend_exact(Backend::Engine)
        .engine_config(config)
        .build(entries)
        .expect("engine ring")
}

/// Both modes: threaded, and deterministic with seed 5.
fn modes(plan: &FaultPlan) -> [(&'static str, EngineConfig); 2] {
    [
        ("threaded", EngineConfig::new().faults(plan.clone())),
        (
            "deterministic",
            EngineConfig::new().deterministic(5).faults(plan.clone()),
        ),
    ]
}

/// Submits `sqes`, waits for `n` CQEs, returns (user_data, res) sorted by user_data.
///
/// # Safety
/// The SQEs' buffers must outlive the call.
unsafe fn run(ring: &mut Ring, sqes: &[uring::Sqe], n: usize) -> Vec<(u64, i32)> {
    // SAFETY: the caller's contract.
    unsafe { ring.submission().push_multiple(sqes) }.unwrap();
    ring.submit_and_wait(n).unwrap();
    let mut v: Vec<(u64, i32)> = ring
        .completion()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    while v.len() < n {
        ring.submitter().wait(1).unwrap();
        v.extend(ring.completion().map(|c| (c.user_data(), c.result())));
    }
    v.sort();
    v
}

#[test]
fn error_at_the_nth_fsync_only() {
    let plan = FaultPlan::parse("ops=FSYNC,at=2:EIO").unwrap();
    for (mode, cfg) in modes(&plan) {
        let mut ring = ring(cfg, 16);
        let file = tempfile::tempfile().unwrap();
        // Interleaved NOPs do not count: the index is among FSYNCs.
        let mut sqes = Vec::new();
        for i in 0..4 {
            sqes.push(opcode::Nop::new().build().user_data(100 + i));
            sqes.push(opcode::Fsync::new(&file).build().user_data(i));
        }
        // SAFETY: no buffers.
        let got = unsafe { run(&mut ring, &sqes, 8) };
        let fsyncs: Vec<i32> = got.iter().filter(|c| c.0 < 100).map(|c| c.1).collect();
        assert_eq!(fsyncs, [0, 0, -libc::EIO, 0], "{mode}");
        assert!(
            got.iter().filter(|c| c.0 >= 100).all(|c| c.1 == 0),
            "{mode}"
        );
    }
    // The shared record: two rings, one injection each.
    assert_eq!(plan.counts().errors, 2);
    let log = plan.injected();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|i| i.opcode == sys::IORING_OP_FSYNC
        && i.user_data == 2
        && i.fault == Fault::Error(libc::EIO)
        && i.op_index == 5));
}

#[test]
fn an_injected_error_means_the_op_never_ran() {
    let plan = FaultPlan::new()
        .rule(FaultRule::on(&[opcode::Write::CODE]).at(0, Fault::Error(libc::ENOSPC)));
    for (mode, cfg) in modes(&plan) {
        let mut ring = ring(cfg, 8);
        let file = tempfile::tempfile().unwrap();
        let data = b"0123456789";
        let sqes = [
            opcode::Write::new(&file, data.as_ptr(), 10)
                .offset(0)
                .build()
                .flags(SqeFlags::IO_LINK)
                .user_data(1),
            opcode::Fsync::new(&file).build().user_data(2),
            opcode::Write::new(&file, data.as_ptr(), 10)
                .offset(100)
                .build()
                .user_data(3),
        ];
        // SAFETY: `data` is static.
        let got = unsafe { run(&mut ring, &sqes, 3) };
        assert_eq!(
            got,
            [(1, -libc::ENOSPC), (2, -libc::ECANCELED), (3, 10)],
            "{mode}"
        );
        let mut buf = [0u8; 10];
        assert_eq!(file.read_at(&mut buf, 0).unwrap(), 10);
        assert_eq!(buf, [0; 10], "{mode}: nothing written at 0");
        assert_eq!(file.metadata().unwrap().len(), 110, "{mode}");
    }
}

#[test]
fn short_write_writes_only_the_short_count_and_breaks_the_link() {
    let plan = FaultPlan::new()
        .rule(FaultRule::on(&[opcode::Write::CODE, opcode::Writev::CODE]).short(1.0));
    for (mode, cfg) in modes(&plan) {
        let mut ring = ring(cfg, 8);
        let file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8 + 1).collect();
        let iov = [
            libc::iovec {
                iov_base: data.as_ptr() as *mut _,
                iov_len: 1000,
            },
            libc::iovec {
                iov_base: data[1000..].as_ptr() as *mut _,
                iov_len: 3096,
            },
        ];
        let sqes = [
            opcode::Write::new(&file, data.as_ptr(), 4096)
                .offset(0)
                .build()
                .flags(SqeFlags::IO_LINK)
                .user_data(1),
            opcode::Fsync::new(&file).build().user_data(2),
            opcode::Writev::new(&file, iov.as_ptr(), 2)
                .offset(8192)
                .build()
                .user_data(3),
        ];
        // SAFETY: `data` and `iov` outlive the requests.
        let got = unsafe { run(&mut ring, &sqes, 3) };
        let (n1, n3) = (got[0].1, got[2].1);
        assert!(0 < n1 && n1 < 4096, "{mode}: {got:?}");
        assert!(0 < n3 && n3 < 4096, "{mode}: {got:?}");
        assert_eq!(
            got[1],
            (2, -libc::ECANCELED),
            "{mode}: a short write fails the link"
        );
        // On disk: exactly the short counts.
        let mut back = vec![0u8; 4096];
        let r = file.read_at(&mut back, 0).unwrap();
        assert!(r >= n1 as usize);
        assert_eq!(&back[..n1 as usize], &data[..n1 as usize]);
        assert!(
            back[n1 as usize..4096].iter().all(|&b| b == 0),
            "{mode}: no byte past the short count"
        );
        assert_eq!(file.metadata().unwrap().len(), 8192 + n3 as u64, "{mode}");
        let mut v = vec![0u8; n3 as usize];
        file.read_exact_at(&mut v, 8192).unwrap();
        assert_eq!(&v[..], &data[..n3 as usize]);
    }
    assert_eq!(plan.counts().shorts, 4);
    assert!(
        plan.injected()
            .iter()
            .all(|i| i.short_len.is_some_and(|l| (1..4096).contains(&l)))
    );
}

#[test]
fn short_read_reads_only_the_short_count() {
    let plan = FaultPlan::parse("ops=READ,at=0:short").unwrap();
    for (mode, cfg) in modes(&plan) {
        let mut ring = ring(cfg, 8);
        let file = tempfile::tempfile().unwrap();
        file.write_all_at(&[7u8; 1000], 0).unwrap();
        let mut buf = [0u8; 1000];
        let sqes = [opcode::Read::new(&file, buf.as_mut_ptr(), 1000)
            .offset(0)
            .build()
            .user_data(1)];
        // SAFETY: `buf` outlives the request.
        let got = unsafe { run(&mut ring, &sqes, 1) };
        let n = got[0].1 as usize;
        assert!(0 < n && n < 1000, "{mode}: {got:?}");
        assert!(buf[..n].iter().all(|&b| b == 7));
        assert!(buf[n..].iter().all(|&b| b == 0), "{mode}");
    }
}

/// The user_data of the requests a plan failed, over 64 NOPs.
fn failed_nops(cfg: EngineConfig) -> Vec<u64> {
    let mut ring = ring(cfg, 64);
    let sqes: Vec<_> = (0..64)
        .map(|i| opcode::Nop::new().build().user_data(i))
        .collect();
    // SAFETY: no buffers.
    let got = unsafe { run(&mut ring, &sqes, 64) };
    got.iter().filter(|c| c.1 != 0).map(|c| c.0).collect()
}

#[test]
fn rates_are_reproducible_by_seed() {
    let plan = |seed| FaultPlan::parse(&format!("seed={seed},rate=0.3,errors=EIO|ENOSPC")).unwrap();
    let a = failed_nops(EngineConfig::new().faults(plan(1)));
    let b = failed_nops(EngineConfig::new().faults(plan(1)));
    let c = failed_nops(EngineConfig::new().faults(plan(2)));
    assert_eq!(a, b, "same seed, same faults (threaded)");
    assert_ne!(a, c, "another seed, other faults");
    assert!(a.len() > 5 && a.len() < 40, "about 30% of 64: {}", a.len());
    // Deterministic mode draws its faults the same way, from the same seed.
    let d = failed_nops(EngineConfig::new().deterministic(1).faults(plan(1)));
    assert_eq!(a, d);
    // Both errnos are drawn.
    let p = plan(3);
    let _ = failed_nops(EngineConfig::new().faults(p.clone()));
    let kinds: std::collections::BTreeSet<_> = p.injected().iter().map(|i| i.fault).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
}

#[test]
fn eintr_is_restarted_and_counted() {
    let plan = FaultPlan::parse("ops=READ|NOP,eintr=1").unwrap();
    for (mode, cfg) in modes(&plan) {
        let mut ring = ring(cfg, 8);
        let file = tempfile::tempfile().unwrap();
        file.write_all_at(b"abcdef", 0).unwrap();
        let mut buf = [0u8; 6];
        let sqes = [
            opcode::Read::new(&file, buf.as_mut_ptr(), 6)
                .offset(0)
                .build()
                .user_data(1),
            opcode::Nop::new().build().user_data(2),
        ];
        // SAFETY: `buf` outlives the request.
        let got = unsafe { run(&mut ring, &sqes, 2) };
        assert_eq!(
            got,
            [(1, 6), (2, 0)],
            "{mode}: invisible to the application"
        );
        assert_eq!(&buf, b"abcdef");
    }
    assert_eq!(plan.counts().eintr, 4);
    // To give the application -EINTR itself:
    let plan = FaultPlan::parse("ops=NOP,errors=EINTR").unwrap();
    let mut ring = ring(EngineConfig::new().faults(plan), 8);
    let sqes = [opcode::Nop::new().build().user_data(1)];
    // SAFETY: no buffers.
    assert_eq!(unsafe { run(&mut ring, &sqes, 1) }, [(1, -libc::EINTR)]);
}

#[test]
fn delays_hold_requests_back() {
    let plan = FaultPlan::parse("ops=NOP,at=0:delay=80ms").unwrap();
    // Threaded: real time, and the undelayed NOP completes first.
    let mut r = ring(EngineConfig::new().faults(plan.clone()), 8);
    let sqes = [
        opcode::Nop::new().build().user_data(1),
        opcode::Nop::new().build().user_data(2),
    ];
    let t = Instant::now();
    // SAFETY: no buffers.
    unsafe { r.submission().push_multiple(&sqes) }.unwrap();
    r.submit_and_wait(2).unwrap();
    let mut order: Vec<u64> = r.completion().map(|c| c.user_data()).collect();
    while order.len() < 2 {
        r.submitter().wait(1).unwrap();
        order.extend(r.completion().map(|c| c.user_data()));
    }
    assert!(t.elapsed() >= Duration::from_millis(80));
    assert_eq!(order, [2, 1]);
    // Deterministic: the delay is on the virtual clock; same order, no real wait.
    let mut r = ring(EngineConfig::new().deterministic(9).faults(plan.clone()), 8);
    let t = Instant::now();
    // SAFETY: no buffers.
    unsafe { r.submission().push_multiple(&sqes) }.unwrap();
    r.submit_and_wait(2).unwrap();
    let order: Vec<u64> = r.completion().map(|c| c.user_data()).collect();
    assert_eq!(order, [2, 1]);
    assert!(t.elapsed() < Duration::from_millis(80), "{:?}", t.elapsed());
    assert_eq!(plan.counts().delays, 2);
}

#[test]
fn a_delayed_request_can_be_cancelled() {
    let plan = FaultPlan::parse("ops=READ,at=0:delay=10s").unwrap();
    for (mode, cfg) in modes(&plan) {
        let mut ring = ring(cfg, 8);
        let file = tempfile::tempfile().unwrap();
        let mut buf = [0u8; 4];
        let sqes = [opcode::Read::new(&file, buf.as_mut_ptr(), 4)
            .build()
            .user_data(1)];
        // SAFETY: `buf` outlives the request (waited for below).
        unsafe { ring.submission().push_multiple(&sqes) }.unwrap();
        ring.submit().unwrap();
        let t = Instant::now();
        let cancel = [opcode::AsyncCancel::new(1).build().user_data(2)];
        // SAFETY: no buffers.
        let got = unsafe { run(&mut ring, &cancel, 2) };
        // The read ends cancelled, long before its delay. The cancel's own result
        // depends on where the read was when it looked, as io-wq's: still queued for
        // a worker (0), or taken by one and sleeping its delay there (-EALREADY, the
        // worker interrupted). Which one is a race with the worker's start.
        assert_eq!(got[0], (1, -libc::ECANCELED), "{mode}: {got:?}");
        assert_eq!(got[1].0, 2, "{mode}: {got:?}");
        assert!(
            got[1].1 == 0 || got[1].1 == -libc::EALREADY,
            "{mode}: {got:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{mode}");
    }
}

#[test]
fn plan_from_the_environment() {
    // A child process of this test binary, with the variables set.
    if std::env::var_os("FAULTS_CHILD").is_some() {
        let mut ring = Ring::builder()
            .backend_exact(Backend::Engine)
            .build(8)
            .unwrap();
        let sqes: Vec<_> = (0..3)
            .map(|i| opcode::Nop::new().build().user_data(i))
            .collect();
        // SAFETY: no buffers.
        let got = unsafe { run(&mut ring, &sqes, 3) };
        assert_eq!(got, [(0, 0), (1, -libc::ENOSPC), (2, 0)]);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "plan_from_the_environment", "--nocapture"])
        .env("FAULTS_CHILD", "1")
        .env("URING_ENGINE_FAULTS", "ops=NOP,at=1:ENOSPC")
        .env("URING_ENGINE_SEED", "77")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    // A malformed plan is an error, not silently no faults.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "plan_from_the_environment"])
        .env("FAULTS_CHILD", "1")
        .env("URING_ENGINE_FAULTS", "ops=NOPE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("URING_ENGINE_FAULTS"));
}

/// A read of an empty `O_NONBLOCK` pipe given an interrupted attempt is issued on a
/// worker, whose attempt (`EAGAIN`) sends it to wait for readiness; its
/// `LINK_TIMEOUT` (1 µs to 200 µs) started when it was handed to the worker, and may
/// fire while the worker moves it to the wait. The timeout must find it wherever it
/// is: every read ends `-ECANCELED`; none is lost. (A timeout that looked before the
/// read was parked and interrupted the worker after it had let go of it said
/// `-EALREADY` and left the read waiting for good, in most runs of 700 rounds.)
#[test]
fn link_timeout_finds_a_read_a_worker_moves_to_its_wait() {
    const READS: u64 = 4;
    let plan = FaultPlan::parse("ops=READ,eintr=1").unwrap();
    let mut ring = ring(EngineConfig::new().faults(plan), 32);
    let (r, _w) = uring_testkit::pipe_with(libc::O_NONBLOCK);
    let mut bufs = [[0u8; 16]; READS as usize];
    let mut outcomes = std::collections::BTreeSet::new();
    let mut base = 0;
    for us in [1, 5, 10, 20, 50, 100, 200] {
        let ts = uring::types::Timespec::from(Duration::from_micros(us));
        for round in 0..100 {
            // The same user_data every other round: a worker slow to let go of a read
            // it parked last round still shows that read's user_data as running, and a
            // timeout looking for its read by user_data would interrupt that worker
            // instead (it looks by its own id).
            if round % 2 == 0 {
                base += 2 * READS;
            }
            let sqes = uring_testkit::reads_each_followed_by(
                r.as_raw_fd(),
                &mut bufs,
                base,
                SqeFlags::IO_LINK,
                |_| opcode::LinkTimeout::new(&ts).build(),
            );
            // SAFETY: the buffers and the timespec outlive the reap below.
            unsafe { ring.submission().push_multiple(&sqes) }.expect("SQ has room");
            ring.submit().expect("submit");
            let got = uring_testkit::reap(&mut ring, 2 * READS as usize, Duration::from_secs(5));
            for c in got {
                // A timeout that found its read running says -EALREADY, as the kernel's
                // for io-wq work it interrupts; the read then cancels itself.
                let ok = if c.user_data() % 2 == 1 {
                    [-libc::ECANCELED].as_slice()
                } else {
                    &[-libc::ETIME, -libc::EALREADY]
                };
                outcomes.insert((c.user_data() % 2 == 1, ok.contains(&c.result()), c.result()));
            }
        }
    }
    assert!(
        outcomes.iter().all(|&(_, ok, _)| ok),
        "(read?, expected?, result): {outcomes:?}"
    );
}

/// Reads of an empty `O_NONBLOCK` pipe given an interrupted attempt go to workers,
/// whose attempt (`EAGAIN`) sends them to wait for readiness; each is followed at once
/// by an `ASYNC_CANCEL` of its `user_data` (no `_ALL`), and the same `user_data` come
/// back every round. The cancel must find each read wherever it is — queued, running,
/// being moved to its wait by its worker, waiting — so every read ends `-ECANCELED`
/// and every cancel says 0 or `-EALREADY`, two CQEs per pair, none lost. (A cancel
/// that found the read running and then took no second look at the waiting requests,
/// or that flagged a worker still showing last round's read with the same `user_data`
/// instead of the one running this round's, left the read waiting for good and said
/// `-EALREADY`: in every run of 700 rounds.)
#[test]
fn cancel_finds_a_read_a_worker_moves_to_its_wait() {
    const READS: u64 = 4;
    let plan = FaultPlan::parse("ops=READ,eintr=1").unwrap();
    let mut ring = ring(EngineConfig::new().faults(plan), 32);
    let (r, _w) = uring_testkit::pipe_with(libc::O_NONBLOCK);
    let mut bufs = [[0u8; 16]; READS as usize];
    let mut outcomes = std::collections::BTreeSet::new();
    for round in 0..3000 {
        // Odd user_data: the reads; even: their cancels.
        let sqes = uring_testkit::reads_each_followed_by(
            r.as_raw_fd(),
            &mut bufs,
            0,
            SqeFlags::empty(),
            |read| opcode::AsyncCancel::new(read).build(),
        );
        // Each read followed by its cancel, or (odd rounds) all the reads first, then
        // all the cancels in a second submission, which finds the workers busy with
        // the reads.
        let (reads, cancels): (Vec<uring::Sqe>, Vec<uring::Sqe>) = if round % 2 == 0 {
            (sqes, Vec::new())
        } else {
            sqes.chunks(2).map(|p| (p[0], p[1])).unzip()
        };
        for batch in [reads, cancels] {
            // SAFETY: the buffers outlive the reap below.
            unsafe { ring.submission().push_multiple(&batch) }.expect("SQ has room");
            ring.submit().expect("submit");
        }
        let got = uring_testkit::reap(&mut ring, 2 * READS as usize, Duration::from_secs(10));
        let mut seen = [0u32; 2 * READS as usize];
        for c in got {
            let read = c.user_data() % 2 == 1;
            let ok = if read {
                c.result() == -libc::ECANCELED
            } else {
                c.result() == 0 || c.result() == -libc::EALREADY
            };
            seen[c.user_data() as usize - 1] += 1;
            outcomes.insert((read, ok, c.result()));
        }
        assert_eq!(
            seen,
            [1; 2 * READS as usize],
            "round {round}: CQEs per user_data"
        );
    }
    assert!(
        outcomes.iter().all(|&(_, ok, _)| ok),
        "(read?, expected?, result): {outcomes:?}"
    );
}

/// A `LINK_TIMEOUT` fires while its read blocks in a worker (an injected interrupted
/// attempt sends every read there; the pipe is empty and blocking), and another read
/// with the same `user_data` blocks in a worker that took it later. The timeout must
/// interrupt its own read, which ends `-EINTR` (or `-ECANCELED` if still queued),
/// and leave the other waiting for its byte. (A timeout that looked for running work
/// by `user_data`, as `fire_link` did before it matched the timeout's id, interrupted
/// the later worker: the other read ended `-EINTR` and its own waited on.) The kernel
/// looks by `user_data` too (`io_req_task_link_timeout`), and with two requests of
/// one `user_data` in io-wq it may take either: a deliberate difference (lib.rs).
#[test]
fn link_timeout_interrupts_its_own_read_not_another_of_its_user_data() {
    let plan = FaultPlan::parse("ops=READ,eintr=1").unwrap();
    let mut ring = ring(EngineConfig::new().faults(plan), 16);
    for (round, ms) in [100u64, 400].into_iter().enumerate() {
        let ud = 10 * (round as u64 + 1);
        let (own_r, own_w) = uring_testkit::pipe_with(0);
        let (other_r, other_w) = uring_testkit::pipe_with(0);
        let (own_w, other_w) = (std::fs::File::from(own_w), std::fs::File::from(other_w));
        let ts = uring::types::Timespec::from(Duration::from_millis(ms));
        let (mut own, mut other) = ([0u8; 1], [0u8; 1]);
        let sqes = [
            opcode::Read::new(&own_r, own.as_mut_ptr(), 1)
                .offset(u64::MAX)
                .build()
                .flags(SqeFlags::IO_LINK)
                .user_data(ud),
            opcode::LinkTimeout::new(&ts).build().user_data(ud + 1),
            opcode::Read::new(&other_r, other.as_mut_ptr(), 1)
                .offset(u64::MAX)
                .build()
                .user_data(ud),
        ];
        // SAFETY: the buffers and the timespec outlive the reaps below (the ring is
        // dropped, its workers joined, before the pipes and buffers go).
        unsafe { ring.submission().push_multiple(&sqes) }.expect("SQ has room");
        ring.submit().expect("submit");
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !got.iter().any(|&(u, _)| u == ud + 1) {
            assert!(
                Instant::now() < deadline,
                "round {round}: no timeout: {got:?}"
            );
            got.extend(
                uring_testkit::reap(&mut ring, 1, Duration::from_secs(10))
                    .iter()
                    .map(|c| (c.user_data(), c.result())),
            );
        }
        // The other read gets its byte now; its own read needs none to end.
        (&other_w).write_all(b"o").unwrap();
        while got.len() < 3 && Instant::now() < deadline {
            got.extend(ring.completion().map(|c| (c.user_data(), c.result())));
            let _ = ring.submitter().wait_timeout(1, Duration::from_millis(100));
        }
        let waits_on = got.len() < 3;
        if waits_on {
            // A read waits on: give it a byte so that it ends before its buffer goes.
            (&own_w).write_all(b"x").unwrap();
            got.extend(
                uring_testkit::reap(&mut ring, 3 - got.len(), Duration::from_secs(10))
                    .iter()
                    .map(|c| (c.user_data(), c.result())),
            );
        }
        got.sort();
        assert!(
            !waits_on,
            "round {round}: a read waited on after its timeout: {got:?}"
        );
        let timeout = got.iter().find(|c| c.0 == ud + 1).map(|c| c.1);
        let mut reads: Vec<i32> = got.iter().filter(|c| c.0 == ud).map(|c| c.1).collect();
        reads.sort();
        assert!(
            matches!(timeout, Some(t) if t == -libc::EALREADY || t == -libc::ETIME),
            "round {round}: {got:?}"
        );
        assert!(
            reads == [-libc::EINTR, 1] || reads == [-libc::ECANCELED, 1],
            "round {round}: the reads (own, other, in any order) {reads:?}; all: {got:?}"
        );
    }
}
