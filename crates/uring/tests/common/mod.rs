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

// ---- Helpers of the per-opcode tests (tests/op_*.rs). ----

/// Whether the kernel supports every opcode in `ops`; if not, reports the skip (which
/// fails under `URING_REQUIRE_KERNEL=1`) naming the missing ones.
pub fn supports(test: &str, ops: &[u8]) -> bool {
    let probe = uring::Probe::new().expect("probe");
    let missing: Vec<&str> = ops
        .iter()
        .filter(|&&op| !probe.is_supported(op))
        .map(|&op| uring::Probe::opcode_name(op).unwrap_or("?"))
        .collect();
    if missing.is_empty() {
        true
    } else {
        skip(
            test,
            &format!("kernel lacks IORING_OP_{}", missing.join(", IORING_OP_")),
        );
        false
    }
}

/// Pushes `sqes`, submits them, and reaps `n` CQEs (at most 10 s), in arrival order.
///
/// # Safety
/// As [`uring::SubmissionQueue::push`] for every entry: what the SQEs point to must stay
/// valid until their completions (the `n` reaped here, or later ones) arrive.
pub unsafe fn run(ring: &mut Ring, sqes: &[uring::Sqe], n: usize) -> Vec<uring::Cqe> {
    {
        let mut sq = ring.submission();
        // SAFETY: the caller's contract.
        unsafe { sq.push_multiple(sqes) }.expect("SQ has room");
    }
    ring.submit().expect("submit");
    reap(ring, n, Duration::from_secs(10))
}

/// Runs one SQE and returns its CQE.
///
/// # Safety
/// As [`run`].
pub unsafe fn run1(ring: &mut Ring, sqe: uring::Sqe) -> uring::Cqe {
    // SAFETY: the caller's contract.
    let cqes = unsafe { run(ring, &[sqe], 1) };
    cqes[0]
}

/// Registers `n` empty file slots through the raw API (`IORING_REGISTER_FILES2` with
/// `IORING_RSRC_REGISTER_SPARSE`).
pub fn raw_register_files_sparse(ring: &Ring, n: u32) {
    let reg = uring::sys::io_uring_rsrc_register {
        nr: n,
        flags: uring::sys::IORING_RSRC_REGISTER_SPARSE,
        ..Default::default()
    };
    // SAFETY: `reg` is a valid io_uring_rsrc_register of the size passed; the kernel
    // copies it during the call.
    unsafe {
        ring.submitter().register_raw(
            uring::sys::IORING_REGISTER_FILES2,
            (&raw const reg).cast(),
            size_of::<uring::sys::io_uring_rsrc_register>() as u32,
        )
    }
    .expect("register sparse files");
}

/// Registers `fds` as the ring's file table through the raw API
/// (`IORING_REGISTER_FILES`).
pub fn raw_register_files(ring: &Ring, fds: &[std::os::fd::RawFd]) {
    // SAFETY: `fds` is an array of `len` i32 descriptors; the kernel takes its own
    // references during the call.
    unsafe {
        ring.submitter().register_raw(
            uring::sys::IORING_REGISTER_FILES,
            fds.as_ptr().cast(),
            fds.len() as u32,
        )
    }
    .expect("register files");
}

/// Registers `bufs` as fixed buffers through the raw API (`IORING_REGISTER_BUFFERS`).
/// The memory stays pinned until the ring is dropped: keep the buffers alive as long.
pub fn raw_register_buffers(ring: &Ring, bufs: &mut [Vec<u8>]) {
    let iovecs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: `iovecs` is an array of `len` iovecs describing live buffers; the kernel
    // pins the pages during the call and the caller keeps the buffers alive.
    unsafe {
        ring.submitter().register_raw(
            uring::sys::IORING_REGISTER_BUFFERS,
            iovecs.as_ptr().cast(),
            iovecs.len() as u32,
        )
    }
    .expect("register buffers");
}

/// Hands `nbufs` buffers of `len` bytes, contiguous in `mem`, to the kernel as group
/// `bgid` (ids from 0) with `IORING_OP_PROVIDE_BUFFERS`, and checks the result.
pub fn provide_buffers(ring: &mut Ring, mem: &mut [u8], len: usize, nbufs: u16, bgid: u16) {
    assert!(mem.len() >= len * nbufs as usize);
    let sqe = uring::opcode::ProvideBuffers::new(mem.as_mut_ptr(), len as i32, nbufs, bgid, 0)
        .build()
        .user_data(0xb0f);
    // SAFETY: the kernel keeps the addresses; the caller keeps `mem` alive while the
    // group may be used.
    let cqe = unsafe { run1(ring, sqe) };
    assert_eq!(
        (cqe.user_data(), cqe.result()),
        (0xb0f, 0),
        "PROVIDE_BUFFERS"
    );
}

/// A deterministic byte pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A C string for a path.
pub fn cpath(p: &std::path::Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).expect("no NUL in path")
}

/// A default ring for a test of `ops`, or None after reporting the skip (opcode
/// missing, or io_uring refused).
pub fn op_ring(test: &str, ops: &[u8], entries: u32) -> Option<Ring> {
    if !supports(test, ops) {
        return None;
    }
    let f = Flavor {
        name: "default",
        build: Builder::default,
        register_ring_fd: false,
    };
    ring(test, &f, entries)
}

/// A pipe: (read end, write end).
pub fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array on success.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// Whether `fd` is an open descriptor of this process.
pub fn fd_is_open(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    r >= 0
}
