//! The engine's safe API cannot be made to write where it must not, and bad
//! configuration is an error, never a panic (which aborts a C program inside
//! `io_uring_queue_init`).
//!
//! The environment tests run the test binary again as a child with the variables set
//! (the variables are the process's, and the other tests run on threads beside this
//! one): the child is an `#[ignore]`d test, run with `--ignored --exact`.
use std::process::Command;

use uring::{Backend, Ring, sys};
use uring_engine::{Config, EngineRing};

#[test]
fn safe_setup_refuses_no_mmap_memory_it_did_not_allocate() {
    // A live allocation passed as ring memory: the safe entry points must not write
    // the ring header (or later CQEs) into it.
    let mut victim = vec![0xa5u8; 64 << 10].into_boxed_slice();
    let addr = victim.as_mut_ptr() as u64;
    let page = 4096;
    let aligned = addr.next_multiple_of(page);
    let mut p = sys::io_uring_params {
        flags: sys::IORING_SETUP_NO_MMAP,
        ..Default::default()
    };
    p.sq_off.user_addr = aligned;
    p.cq_off.user_addr = aligned + 8 * page;
    let e = EngineRing::with_config(4, &mut p.clone(), Config::new()).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    let e = EngineRing::setup(4, &mut p).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    assert!(
        victim.iter().all(|&b| b == 0xa5),
        "the engine wrote into the box"
    );
}

#[test]
fn no_mmap_in_memory_the_caller_vouches_for_works() {
    // The unsafe entry point takes the caller's memory, as the kernel does.
    let layout = std::alloc::Layout::from_size_align(64 << 10, 4096).unwrap();
    // SAFETY: non-zero size.
    let mem = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!mem.is_null());
    let mut p = sys::io_uring_params {
        flags: sys::IORING_SETUP_NO_MMAP,
        ..Default::default()
    };
    p.sq_off.user_addr = mem as u64;
    p.cq_off.user_addr = mem as u64 + (32 << 10);
    // SAFETY: 64 KiB, page-aligned, used by nothing else until the ring is dropped
    // (below, before the memory is freed).
    let ring = unsafe { EngineRing::with_user_memory(4, &mut p, Config::new()) }.unwrap();
    // SAFETY: the header lives where the caller said: CQ entries at its offset.
    let cq_entries = unsafe {
        mem.add(32 << 10)
            .add(p.cq_off.ring_entries as usize)
            .cast::<u32>()
            .read()
    };
    assert_eq!(cq_entries, p.cq_entries);
    drop(ring);
    // SAFETY: allocated above with this layout; the ring is gone.
    unsafe { std::alloc::dealloc(mem, layout) };
}

/// Runs the ignored test `name` of this binary with `env` set; returns (exit ok,
/// stderr).
fn child(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().copied())
        .env_remove("URING_BACKEND")
        .output()
        .expect("run the test binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_engine_variables_are_einval_with_a_reason() {
    for (var, value) in [
        ("URING_ENGINE_SEED", "banana"),
        ("URING_ENGINE_FAULTS", "ops=NOPE,at=x"),
    ] {
        let (ok, stderr) = child("child_setup_with_bad_environment", &[(var, value)]);
        assert!(ok, "{var}={value}: the child failed:\n{stderr}");
        assert!(
            stderr.contains(var),
            "{var}={value}: no reason naming the variable on stderr:\n{stderr}"
        );
    }
}

#[test]
#[ignore = "run by malformed_engine_variables_are_einval_with_a_reason, with its variables"]
fn child_setup_with_bad_environment() {
    assert!(
        std::env::var_os("URING_ENGINE_SEED").is_some()
            || std::env::var_os("URING_ENGINE_FAULTS").is_some(),
        "run by malformed_engine_variables_are_einval_with_a_reason"
    );
    let e = Config::from_env().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    let e = EngineRing::setup(4, &mut sys::io_uring_params::default()).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    let e = Ring::builder()
        .backend_exact(Backend::Engine)
        .build(4)
        .unwrap_err();
    assert!(e.to_string().contains("Invalid argument"), "{e}");
}

#[test]
fn the_overflow_list_is_bounded_and_a_loss_is_reported() {
    // A 4-entry ring (8 CQEs), an overflow list of at most 16: of 40 NOPs never reaped,
    // 8 land in the CQ, 16 in the list, and 16 are dropped, counted in the CQ ring's
    // overflow field; waits then fail with EBADR, as the kernel's do once it dropped a
    // CQE it could not allocate.
    let mut ring = Ring::builder()
        .backend_exact(Backend::Engine)
        .engine_config(Config::new().overflow_limit(16))
        .build(4)
        .unwrap();
    for batch in 0..10u64 {
        let mut sq = ring.submission();
        for i in 0..4 {
            let nop = uring::opcode::Nop::new().build().user_data(batch * 4 + i);
            // SAFETY: a NOP points to nothing.
            unsafe { sq.push(&nop) }.unwrap();
        }
        drop(sq);
        assert_eq!(ring.submit().unwrap(), 4);
    }
    assert_eq!(ring.completion().overflow(), 16);
    // What was kept is all there, in order: the CQ's 8, then the list's 16.
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(ring.completion().map(|c| c.user_data()));
        // Flushing the list into the CQ takes an enter that asks for no CQE.
        ring.submitter().get_events().unwrap();
    }
    assert_eq!(got, (0..24).collect::<Vec<u64>>());
    // A wait that would block reports the loss.
    let e = ring.submit_and_wait(1).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADR), "{e}");
}

#[test]
fn a_program_handler_for_the_pool_signal_is_kept() {
    let (ok, stderr) = child(
        "child_with_its_own_sigrtmax_1_handler",
        &[("URING_SOUND_CHILD", "1")],
    );
    assert!(ok, "the child failed:\n{stderr}");
}

static APP_SIGNALS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

extern "C" fn app_handler(_: i32) {
    APP_SIGNALS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

#[test]
#[ignore = "run by a_program_handler_for_the_pool_signal_is_kept in a child process"]
fn child_with_its_own_sigrtmax_1_handler() {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;
    use uring::{SqeFlags, opcode, types::Fd};
    assert!(std::env::var_os("URING_SOUND_CHILD").is_some());
    let sig = libc::SIGRTMAX() - 1;
    // SAFETY: a plain handler that only bumps an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = app_handler as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
    }
    let mut ring = Ring::builder()
        .backend_exact(Backend::Engine)
        .build(8)
        .unwrap();
    let (r, _w) = std::io::pipe().unwrap();
    let mut byte = [0u8; 1];
    // A read that blocks in a worker, then cancelled: the pool signals the worker.
    let read = opcode::Read::new(Fd(r.as_raw_fd()), byte.as_mut_ptr(), 1)
        .build()
        .flags(SqeFlags::ASYNC)
        .user_data(1);
    // SAFETY: `byte` outlives the read, reaped below.
    unsafe { ring.submission().push(&read) }.unwrap();
    ring.submit().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let cancel = opcode::AsyncCancel::new(1).build().user_data(2);
    // SAFETY: a cancel points to nothing.
    unsafe { ring.submission().push(&cancel) }.unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<(u64, i32)> = ring
        .completion()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    while got.len() < 2 {
        ring.submit_and_wait(1).unwrap();
        got.extend(ring.completion().map(|c| (c.user_data(), c.result())));
    }
    got.sort();
    // As the kernel: a running io-wq read is interrupted (-EINTR) and the cancel
    // says -EALREADY; one caught before it ran is -ECANCELED / 0.
    assert!(
        got == [(1, -libc::EINTR), (2, -libc::EALREADY)] || got == [(1, -libc::ECANCELED), (2, 0)],
        "{got:?}"
    );
    assert_eq!(
        APP_SIGNALS.load(Ordering::SeqCst),
        0,
        "the pool's signal reached the program"
    );
    // The program's own signal still reaches its handler.
    // SAFETY: a signal to this process, which handles it.
    unsafe { libc::kill(libc::getpid(), sig) };
    let start = std::time::Instant::now();
    while APP_SIGNALS.load(Ordering::SeqCst) == 0 && start.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(
        APP_SIGNALS.load(Ordering::SeqCst),
        1,
        "the program's handler was replaced"
    );
}

/// A page mapped without access: readable by nobody, at an address that exists.
/// Unmapped when dropped.
struct Unreadable(*mut libc::c_void);

impl Unreadable {
    fn new() -> Unreadable {
        // SAFETY: a fresh anonymous mapping, owned by the value and unmapped by its drop.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        Unreadable(page)
    }
}

impl Drop for Unreadable {
    fn drop(&mut self) {
        // SAFETY: our mapping, which nothing uses any more.
        unsafe { libc::munmap(self.0, 4096) };
    }
}

/// The errno of an engine call (0 for success).
fn errno(r: std::io::Result<u32>) -> i32 {
    r.map_or_else(|e| e.raw_os_error().unwrap_or(0), |_| 0)
}

/// The errno of a raw system call that returned `r` (0 for success).
fn sys_errno(r: libc::c_long) -> i32 {
    let err = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    if r < 0 { err } else { 0 }
}

/// `calls` (op, arg, nr) made on an engine ring set up with `params`: each op's errno.
fn engine_register_errnos(
    mut params: sys::io_uring_params,
    calls: &[(u32, *const libc::c_void, u32)],
) -> Vec<(u32, i32)> {
    let ring = EngineRing::setup(4, &mut params).unwrap();
    calls
        .iter()
        // SAFETY: these ops read what `arg` points to as the kernel does
        // (EngineRing::register).
        .map(|&(op, arg, nr)| (op, errno(unsafe { ring.register(op, arg, nr) })))
        .collect()
}

/// The same `calls` on a kernel ring, made with the system calls; `None`, skipped
/// visibly as `name`, where the kernel refuses io_uring.
fn kernel_register_errnos(
    name: &str,
    mut params: sys::io_uring_params,
    calls: &[(u32, *const libc::c_void, u32)],
) -> Option<Vec<(u32, i32)>> {
    // SAFETY: a valid params struct.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, &raw mut params) };
    if fd < 0 {
        uring_testkit::skip(name, &std::io::Error::last_os_error().to_string());
        return None;
    }
    let out = calls
        .iter()
        .map(|&(op, arg, nr)| {
            // SAFETY: the kernel checks the addresses itself.
            let r = unsafe { libc::syscall(libc::SYS_io_uring_register, fd, op, arg, nr) };
            (op, sys_errno(r))
        })
        .collect();
    // SAFETY: our ring's fd.
    unsafe { libc::close(fd as i32) };
    Some(out)
}

/// An address the process cannot read, given to `io_uring_enter`'s `EXT_ARG` (the
/// argument itself, or its timespec) or to `IORING_REGISTER_SYNC_CANCEL`: the kernel
/// answers `-EFAULT`; the engine did read it, and a C program through the drop-in
/// crashed. Differential: the same calls on a kernel ring, made with the system calls.
#[test]
fn unreadable_enter_and_register_arguments_are_efault_as_on_the_kernel() {
    let unreadable = Unreadable::new();
    let page = unreadable.0;
    let bad_ts = sys::io_uring_getevents_arg {
        ts: page as u64,
        ..Default::default()
    };
    let argsz = std::mem::size_of::<sys::io_uring_getevents_arg>();
    let flags = sys::IORING_ENTER_GETEVENTS | sys::IORING_ENTER_EXT_ARG;
    let args: [*const libc::c_void; 2] = [page, (&raw const bad_ts).cast()];
    let engine = {
        let ring = EngineRing::setup(4, &mut sys::io_uring_params::default()).unwrap();
        let mut out: Vec<i32> = args
            .iter()
            // SAFETY: no SQE is published; `arg` may be any address (EngineRing::enter).
            .map(|&a| errno(unsafe { ring.enter(0, 0, flags, a, argsz) }))
            .collect();
        // SAFETY: SYNC_CANCEL's `arg` may be any address (EngineRing::register).
        out.push(errno(unsafe {
            ring.register(sys::IORING_REGISTER_SYNC_CANCEL, page, 1)
        }));
        out
    };
    let mut p = sys::io_uring_params::default();
    // SAFETY: a valid params struct.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, &raw mut p) };
    if fd < 0 {
        uring_testkit::skip(
            "unreadable_enter_and_register_arguments_are_efault_as_on_the_kernel [kernel]",
            &std::io::Error::last_os_error().to_string(),
        );
    } else {
        let mut kernel: Vec<i32> = args
            .iter()
            .map(|&a| {
                // SAFETY: the kernel checks the addresses itself.
                sys_errno(unsafe {
                    libc::syscall(libc::SYS_io_uring_enter, fd, 0, 0, flags, a, argsz)
                })
            })
            .collect();
        // SAFETY: as above.
        kernel.push(sys_errno(unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                fd,
                sys::IORING_REGISTER_SYNC_CANCEL,
                page,
                1,
            )
        }));
        // SAFETY: our ring's fd.
        unsafe { libc::close(fd as i32) };
        assert_eq!(engine, kernel, "engine (left) and kernel (right)");
    }
    assert_eq!(engine, [libc::EFAULT; 3]);
}

/// An unreadable argument to the register ops that read one struct (or, sized, one
/// `io_uring_rsrc_register` / `io_uring_rsrc_update2`): `-EFAULT` on the kernel and the
/// engine alike, where the engine read it and crashed. Differential, as above.
#[test]
fn unreadable_register_arguments_are_efault_as_on_the_kernel() {
    let unreadable = Unreadable::new();
    let page = unreadable.0;
    let reg = std::mem::size_of::<sys::io_uring_rsrc_register>() as u32;
    let upd = std::mem::size_of::<sys::io_uring_rsrc_update2>() as u32;
    let calls = [
        (sys::IORING_REGISTER_IOWQ_MAX_WORKERS, 2),
        (sys::IORING_REGISTER_PBUF_RING, 1),
        (sys::IORING_UNREGISTER_PBUF_RING, 1),
        (sys::IORING_REGISTER_PBUF_STATUS, 1),
        (sys::IORING_REGISTER_FILE_ALLOC_RANGE, 0),
        (sys::IORING_REGISTER_CLONE_BUFFERS, 1),
        (sys::IORING_REGISTER_CLOCK, 0),
        (sys::IORING_REGISTER_FILES2, reg),
        (sys::IORING_REGISTER_BUFFERS2, reg),
        (sys::IORING_REGISTER_FILES_UPDATE2, upd),
        (sys::IORING_REGISTER_BUFFERS_UPDATE, upd),
    ];
    let calls: Vec<_> = calls
        .iter()
        .map(|&(op, nr)| (op, page.cast_const(), nr))
        .collect();
    let params = sys::io_uring_params::default;
    let engine = engine_register_errnos(params(), &calls);
    if let Some(kernel) = kernel_register_errnos(
        "unreadable_register_arguments_are_efault_as_on_the_kernel [kernel]",
        params(),
        &calls,
    ) {
        assert_eq!(engine, kernel, "engine (left) and kernel (right)");
    }
    assert!(engine.iter().all(|&(_, e)| e == libc::EFAULT), "{engine:?}");
}

/// The arrays the register ops read (fds, tags, iovecs, an eventfd's int, the old
/// `FILES_UPDATE` struct) unreadable: `-EFAULT` on both, where the engine crashed.
#[test]
fn unreadable_register_arrays_are_efault_as_on_the_kernel() {
    let unreadable = Unreadable::new();
    let page = unreadable.0;
    let empty = [-1i32];
    let rsrc = |data: u64, tags: u64| sys::io_uring_rsrc_register {
        nr: 1,
        data,
        tags,
        ..Default::default()
    };
    let (fds_bad, tags_bad) = (
        rsrc(page as u64, 0),
        rsrc(empty.as_ptr() as u64, page as u64),
    );
    let size = std::mem::size_of::<sys::io_uring_rsrc_register>() as u32;
    let calls: [(u32, *const libc::c_void, u32); 7] = [
        (sys::IORING_REGISTER_FILES, page, 1),
        (sys::IORING_REGISTER_BUFFERS, page, 1),
        (sys::IORING_REGISTER_EVENTFD, page, 1),
        (sys::IORING_REGISTER_FILES_UPDATE, page, 1),
        (
            sys::IORING_REGISTER_FILES2,
            (&raw const fds_bad).cast(),
            size,
        ),
        (
            sys::IORING_REGISTER_BUFFERS2,
            (&raw const fds_bad).cast(),
            size,
        ),
        (
            sys::IORING_REGISTER_FILES2,
            (&raw const tags_bad).cast(),
            size,
        ),
    ];
    let params = sys::io_uring_params::default;
    let engine = engine_register_errnos(params(), &calls);
    if let Some(kernel) = kernel_register_errnos(
        "unreadable_register_arrays_are_efault_as_on_the_kernel [kernel]",
        params(),
        &calls,
    ) {
        assert_eq!(engine, kernel, "engine (left) and kernel (right)");
    }
    assert!(engine.iter().all(|&(_, e)| e == libc::EFAULT), "{engine:?}");
}

/// Unreadable arguments to `PROBE`, `RING_FDS`, `UNREGISTER_RING_FDS`,
/// `RESTRICTIONS` (on a ring set up disabled) and the ring-less `SEND_MSG_RING`:
/// `-EFAULT` on both, where the engine crashed.
#[test]
fn unreadable_probe_ring_fds_restrictions_and_message_are_efault_as_on_the_kernel() {
    let unreadable = Unreadable::new();
    let page = unreadable.0;
    let calls = [
        (sys::IORING_REGISTER_PROBE, 4),
        (sys::IORING_REGISTER_RING_FDS, 1),
        (sys::IORING_UNREGISTER_RING_FDS, 1),
        (sys::IORING_REGISTER_RESTRICTIONS, 1),
    ];
    let disabled = || sys::io_uring_params {
        flags: sys::IORING_SETUP_R_DISABLED,
        ..Default::default()
    };
    let calls: Vec<_> = calls
        .iter()
        .map(|&(op, nr)| (op, page.cast_const(), nr))
        .collect();
    let mut engine = engine_register_errnos(disabled(), &calls);
    let op = sys::IORING_REGISTER_SEND_MSG_RING;
    // SAFETY: as above (the SQE is read as the kernel reads it).
    let msg = unsafe { uring_engine::register_blind(op, page, 1) };
    engine.push((op, errno(msg)));
    if let Some(mut kernel) = kernel_register_errnos(
        "unreadable_probe_ring_fds_restrictions_and_message_are_efault_as_on_the_kernel [kernel]",
        disabled(),
        &calls,
    ) {
        // SAFETY: the kernel checks the address itself; fd -1: the ring-less call.
        let r = unsafe { libc::syscall(libc::SYS_io_uring_register, -1, op, page, 1) };
        kernel.push((op, sys_errno(r)));
        assert_eq!(engine, kernel, "engine (left) and kernel (right)");
    }
    assert!(engine.iter().all(|&(_, e)| e == libc::EFAULT), "{engine:?}");
}
