//! The observer sees every request's submission, issue and completion in order, and a
//! deterministic ring's clock can be driven from outside (`observe.rs`).
//!
//! Engine only: the observer and the clock control are the engine's.
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uring::types::Timespec;
use uring::{Backend, EngineConfig, Ring, opcode, sys};
use uring_engine::{DetControl, Fault, FaultPlan, FaultRule, Observer, OpInfo};

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Observer for Log {
    fn submitted(&self, op: &OpInfo, prep_error: i32) {
        let mut l = self.0.lock().unwrap();
        l.push(format!(
            "sub {} ud={} err={prep_error}",
            op.opcode, op.user_data
        ));
    }
    fn issuing(&self, op: &OpInfo) {
        let mut l = self.0.lock().unwrap();
        l.push(format!(
            "issue {} ud={} off={} len={}",
            op.opcode, op.user_data, op.offset, op.len
        ));
    }
    fn completed(&self, op: &OpInfo, res: i32, _flags: u32) {
        let mut l = self.0.lock().unwrap();
        l.push(format!("done {} ud={} res={res}", op.opcode, op.user_data));
    }
}

fn ring(config: EngineConfig) -> Ring {
    Ring::builder()
        .backend_exact(Backend::Engine)
        .engine_config(config)
        .build(8)
        .expect("engine ring")
}

#[test]
fn observer_sees_submission_issue_and_completion_with_the_short_length() {
    let log = Arc::new(Log::default());
    // The first WRITE is cut short, the first FSYNC fails before it runs.
    let plan = FaultPlan::new()
        .rule(FaultRule::on(&[sys::IORING_OP_WRITE]).at(0, Fault::Short))
        .rule(FaultRule::on(&[sys::IORING_OP_FSYNC]).at(0, Fault::Error(libc::EIO)));
    let mut ring = ring(
        EngineConfig::new()
            .deterministic(3)
            .faults(plan)
            .observer(log.clone()),
    );
    let file = tempfile::tempfile().unwrap();
    let data = [7u8; 100];
    let w = opcode::Write::new(&file, data.as_ptr(), 100)
        .offset(4096)
        .build()
        .user_data(1);
    let f = opcode::Fsync::new(&file).build().user_data(2);
    // SAFETY: `data` outlives the wait below, which reaps both CQEs.
    unsafe { ring.submission().push_multiple(&[w, f]) }.unwrap();
    ring.submit_and_wait(2).unwrap();
    let res: Vec<(u64, i32)> = ring
        .completion()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    let short = res.iter().find(|r| r.0 == 1).unwrap().1;
    assert!((1..100).contains(&short), "{res:?}");
    let log = log.0.lock().unwrap().clone();
    let w = sys::IORING_OP_WRITE;
    let fs = sys::IORING_OP_FSYNC;
    assert_eq!(log[0], format!("sub {w} ud=1 err=0"));
    assert_eq!(log[1], format!("sub {fs} ud=2 err=0"));
    assert!(
        log.contains(&format!("issue {w} ud=1 off=4096 len={short}")),
        "{log:?}"
    );
    assert!(
        log.contains(&format!("done {w} ud=1 res={short}")),
        "{log:?}"
    );
    // The injected error completes the FSYNC without issuing it.
    assert!(!log.iter().any(|l| l.starts_with(&format!("issue {fs}"))));
    assert!(log.contains(&format!("done {fs} ud=2 res=-5")), "{log:?}");
    let issue = log.iter().position(|l| l.starts_with("issue")).unwrap();
    let done = log
        .iter()
        .position(|l| l.starts_with(&format!("done {w}")))
        .unwrap();
    assert!(issue < done);
}

#[test]
fn det_control_finds_only_deterministic_rings() {
    let threaded = ring(EngineConfig::new());
    assert!(DetControl::of(threaded.fd().unwrap().as_raw_fd()).is_none());
    let det = ring(EngineConfig::new().deterministic(1));
    assert!(DetControl::of(det.fd().unwrap().as_raw_fd()).is_some());
    assert!(DetControl::of(-1).is_none());
}

#[test]
fn det_control_moves_the_clock_and_fires_timeouts() {
    let mut ring = ring(EngineConfig::new().deterministic(5));
    let ctl = DetControl::of(ring.fd().unwrap().as_raw_fd()).unwrap();
    assert_eq!(ctl.next_event(), None);
    let t0 = ctl.now();
    let ts = Timespec::from(Duration::from_secs(10));
    let sqe = opcode::Timeout::new(&ts).build().user_data(9);
    // SAFETY: `ts` lives until the timeout's CQE is reaped below.
    unsafe { ring.submission().push(&sqe) }.unwrap();
    ring.submit().unwrap();
    assert_eq!(ctl.next_event(), Some(t0 + 10_000_000_000));
    // Not due yet: nothing fires, and time moved.
    ctl.advance(t0 + 5_000_000_000);
    assert_eq!(ctl.now(), t0 + 5_000_000_000);
    assert_eq!(ring.completion().count(), 0);
    // Never backwards.
    ctl.advance(t0);
    assert_eq!(ctl.now(), t0 + 5_000_000_000);
    ctl.advance(t0 + 10_000_000_000);
    let c: Vec<(u64, i32)> = ring
        .completion()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    assert_eq!(c, [(9, -libc::ETIME)]);
    assert_eq!(ctl.next_event(), None);
    assert!(!ctl.waits_on_fds());
}

#[test]
fn det_control_runs_a_request_whose_fd_became_ready() {
    let mut ring = ring(EngineConfig::new().deterministic(2));
    let ctl = DetControl::of(ring.fd().unwrap().as_raw_fd()).unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let mut buf = [0u8; 4];
    let sqe = opcode::Read::new(&r, buf.as_mut_ptr(), 4)
        .build()
        .user_data(3);
    // SAFETY: `buf` outlives the read, reaped below.
    unsafe { ring.submission().push(&sqe) }.unwrap();
    ring.submit().unwrap();
    assert!(ctl.waits_on_fds());
    assert_eq!(ring.completion().count(), 0);
    rustix::io::write(&w, b"ping").unwrap();
    ctl.run();
    let c: Vec<(u64, i32)> = ring
        .completion()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    assert_eq!(c, [(3, 4)]);
    assert_eq!(&buf, b"ping");
    assert!(!ctl.waits_on_fds());
}
