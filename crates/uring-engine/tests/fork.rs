//! A child of `fork(2)` with an engine ring its parent set up (liburing's `across-fork`
//! and `io-cancel` share one ring between the two). The ring memory is shared, as a
//! kernel ring's mapping is, so the child sees the CQEs the parent's engine posts; but
//! the engine's threads live in the parent, and what the child would submit the parent
//! would never see: submitting fails at once with `EOPNOTSUPP` instead of hanging (a
//! documented difference: on the kernel it works). Its own process, so that the fork
//! copies one test thread, not a harness full of them.
use std::time::{Duration, Instant};

use uring::{Backend, Ring, opcode};

/// What the child checks, as its exit code: 0 all well, else the first check failed.
fn child(ring: &mut Ring) -> i32 {
    // The parent posts one CQE after the fork: the child sees it in the shared CQ.
    match ring.submitter().wait_timeout(1, Duration::from_secs(10)) {
        Ok(_) => {}
        Err(_) => return 2,
    }
    if ring.completion().next().map(|c| c.user_data()) != Some(7) {
        return 3;
    }
    // SAFETY: a NOP points to nothing.
    unsafe {
        ring.submission()
            .push(&opcode::Nop::new().build().user_data(8))
    }
    .unwrap();
    match ring.submit() {
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => 0,
        _ => 4,
    }
}

#[test]
fn a_forked_child_sees_the_parents_completions_and_cannot_submit() {
    let mut ring = Ring::builder()
        .backend_exact(Backend::Engine)
        .build(8)
        .expect("engine ring");
    // SAFETY: the child runs only `child` (the ring's code and the engine's, which in
    // a child take no lock another thread could hold) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let code = child(&mut ring);
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: a NOP points to nothing.
    unsafe {
        ring.submission()
            .push(&opcode::Nop::new().build().user_data(7))
    }
    .unwrap();
    ring.submit().expect("parent submit");
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child, into a valid int.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child's failed check");
    // The parent's ring goes on working.
    // SAFETY: a NOP points to nothing.
    unsafe {
        ring.submission()
            .push(&opcode::Nop::new().build().user_data(9))
    }
    .unwrap();
    ring.submit_and_wait(1).expect("parent wait");
    let ids: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    assert!(ids.contains(&9), "{ids:?}");
}
