//! The test harness: one body, repeated over every ring flavour on both backends (the
//! kernel and the user-space engine); skips are visible, and with
//! `URING_REQUIRE_KERNEL=1` a skip for want of kernel support fails.
//!
//! # Backends
//! Every body runs on [`Backend::Kernel`] and on [`Backend::Engine`]. The kernel is the
//! oracle: a difference is a failing test, except for
//! - what the engine refuses on purpose, each with its reason in the engine's own
//!   tables ([`uring_engine::op_support`], [`uring_engine::register_op_support`],
//!   [`uring_engine::feature_support`]: URING_CMD, zero-copy receive, NAPI, …): a test of it prints `ENGINE N/A` and the reason, and passes on the
//!   engine; any other opcode or feature the engine lacks fails the test;
//! - [`ENGINE_PENDING`]: tests known to fail on the engine while its ops are being
//!   written, each with its reason. Their engine half still runs; a failure prints
//!   `ENGINE PENDING` and passes, a success prints a request to remove the entry.
//!   `URING_ENGINE_STRICT=1` ignores the list (the real failures show).
//!
//! `URING_BACKEND` (which makes every [`Builder`] of a program use one backend) would
//! turn the kernel half into a second engine run, so the harness builds its rings with
//! the hidden [`Builder::backend_exact`], which ignores the variable, and reads the
//! variable itself: `URING_BACKEND=kernel` or `engine` runs only that half (handy for
//! working on one), unset or `auto` runs both. We do not remove the variable from the
//! environment: tests run on many threads, and `remove_var` there is a data race.
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use uring::{Backend, Builder, Ring, SetupError, sys};

use crate::{reap, skip};

/// Whether a test of the registration opcodes `ops` runs on `f`'s backend: always on
/// the kernel (its tests check support themselves); on the engine, false with a visible
/// `ENGINE N/A` and the engine's reason for an opcode it refuses
/// ([`uring_engine::register_op_support`]), true otherwise.
pub fn register_gate(test: &str, f: &Flavor, ops: &[u32]) -> bool {
    if !f.is_engine() {
        return true;
    }
    let mut run = true;
    for &op in ops {
        if let Err(why) = uring_engine::register_op_support(op) {
            let name = sys::IORING_REGISTER_NAMES.get(op as usize).unwrap_or(&"?");
            let _ = writeln!(
                std::io::stderr(),
                "ENGINE N/A {test} [{}]: IORING_{name}: {why}",
                f.name
            );
            run = false;
        }
    }
    run
}

/// Whether `ring` lacks feature `feat` (one `IORING_FEAT_*` flag), reporting it: on the
/// kernel a visible skip (a failure under `URING_REQUIRE_KERNEL=1`); on the engine
/// `ENGINE N/A` with the engine's reason for a feature it does not offer
/// ([`uring_engine::feature_support`]), and a failure if what the ring reports
/// disagrees with that.
pub fn lacks_feature(test: &str, ring: &Ring, feat: u32) -> bool {
    let has = ring.params().has_feature(feat);
    let name = sys::IORING_FEAT_NAMES
        .iter()
        .find(|&&(f, _)| f == feat)
        .map_or("?", |&(_, n)| n);
    if ring.backend() == Backend::Engine {
        match (has, uring_engine::feature_support(feat)) {
            (true, Ok(())) => false,
            (false, Err(why)) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "ENGINE N/A {test}: IORING_FEAT_{name}: {why}"
                );
                true
            }
            (true, Err(why)) => {
                panic!("{test}: the engine reports IORING_FEAT_{name}, which it refuses: {why}")
            }
            (false, Ok(())) => panic!("{test}: the engine lacks IORING_FEAT_{name}"),
        }
    } else {
        if !has {
            skip(test, &format!("no IORING_FEAT_{name}"));
        }
        !has
    }
}

/// Tests known to fail on the engine, with the reason. A key is a test name as passed
/// to the harness, or `name [flavour]` for one engine flavour (e.g.
/// `"batches [engine/sqpoll]"`); an entry whose test passes asks to be removed.
#[rustfmt::skip]
pub const ENGINE_PENDING: &[(&str, &str)] = &[
];

/// A ring configuration to repeat tests over.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    /// `default`, `sqpoll`, … on the kernel; `engine/default`, `engine/sqpoll`, … on
    /// the engine.
    pub name: &'static str,
    pub build: fn() -> Builder,
    /// Register the ring fd after setup.
    pub register_ring_fd: bool,
    /// The backend the ring runs on (set exactly, whatever `URING_BACKEND` says).
    pub backend: Backend,
}

impl Flavor {
    /// The flavour's builder on its backend.
    pub fn builder(&self) -> Builder {
        (self.build)().backend_exact(self.backend)
    }

    pub fn is_engine(&self) -> bool {
        self.backend == Backend::Engine
    }

    /// The name without the backend prefix (`sqpoll` for `engine/sqpoll`).
    pub fn base_name(&self) -> &'static str {
        self.name.strip_prefix("engine/").unwrap_or(self.name)
    }
}

/// The flavours of one backend, in the order the kernel ones were always run.
fn kernel_flavors() -> Vec<Flavor> {
    let k = |name, build, register_ring_fd| Flavor {
        name,
        build,
        register_ring_fd,
        backend: Backend::Kernel,
    };
    vec![
        k("default", Builder::default, false),
        k(
            "sqpoll",
            || Ring::builder().sqpoll(Duration::from_millis(50)),
            false,
        ),
        k("sqe128+cqe32", || Ring::builder().sqe128().cqe32(), false),
        // The default has no SQ index array (NO_SQARRAY); this one keeps it.
        k("sq_array", || Ring::builder().sq_array(), false),
        k(
            "single_issuer+defer_taskrun",
            || Ring::builder().defer_taskrun().taskrun_flag(),
            false,
        ),
        k(
            "coop_taskrun+submit_all",
            || Ring::builder().coop_taskrun().taskrun_flag().submit_all(),
            false,
        ),
        k("no_mmap", || Ring::builder().no_mmap(), false),
        k(
            "registered_fd_only",
            || Ring::builder().registered_fd_only(),
            false,
        ),
        k("registered_ring_fd", Builder::default, true),
        k("cqe_mixed", || Ring::builder().cqe_mixed(), false),
    ]
}

/// The same flavours on the engine (it takes every one of these flags).
fn engine_flavors() -> Vec<Flavor> {
    kernel_flavors()
        .into_iter()
        .map(|f| Flavor {
            name: engine_name(f.name),
            backend: Backend::Engine,
            ..f
        })
        .collect()
}

fn engine_name(kernel: &str) -> &'static str {
    // The names are few and fixed: leak them once each.
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap();
    names
        .entry(kernel.to_string())
        .or_insert_with(|| Box::leak(format!("engine/{kernel}").into_boxed_str()))
}

/// The backends this run covers: both, or the one `URING_BACKEND` names.
pub fn backends() -> Vec<Backend> {
    match Backend::from_env().expect("URING_BACKEND") {
        Some(Backend::Kernel) => vec![Backend::Kernel],
        Some(Backend::Engine) => vec![Backend::Engine],
        None | Some(Backend::Auto) => vec![Backend::Kernel, Backend::Engine],
    }
}

/// Every flavour on every backend of this run: the kernel's first, then the engine's.
pub fn flavors() -> Vec<Flavor> {
    let mut out = Vec::new();
    for b in backends() {
        match b {
            Backend::Kernel => out.extend(kernel_flavors()),
            _ => out.extend(engine_flavors()),
        }
    }
    out
}

/// The plain flavour of `backend`.
pub fn default_flavor(backend: Backend) -> Flavor {
    Flavor {
        name: if backend == Backend::Engine {
            "engine/default"
        } else {
            "default"
        },
        build: Builder::default,
        register_ring_fd: false,
        backend,
    }
}

/// A builder on `backend` exactly (for a body's extra rings: a msg_ring target, …).
pub fn builder(backend: Backend) -> Builder {
    Ring::builder().backend_exact(backend)
}

/// A plain ring on `backend`; panics if it cannot be built.
pub fn new_ring(backend: Backend, entries: u32) -> Ring {
    builder(backend)
        .build(entries)
        .unwrap_or_else(|e| panic!("{} ring: {e}", backend.name()))
}

/// Builds the flavour's ring, or reports the skip and returns None.
pub fn ring(test: &str, f: &Flavor, entries: u32) -> Option<Ring> {
    build(test, f, (f.build)(), entries)
}

/// Builds `builder` (a flavour's builder, adjusted) on the flavour's backend, or
/// reports the skip. On the engine a refused setup is a failure: it takes every flag
/// the flavours use.
pub fn build(test: &str, f: &Flavor, builder: Builder, entries: u32) -> Option<Ring> {
    match builder.backend_exact(f.backend).build(entries) {
        Ok(mut ring) => {
            assert_eq!(ring.backend(), f.backend, "{test} [{}]", f.name);
            if f.register_ring_fd {
                ring.register_ring_fd().expect("register ring fd");
            }
            Some(ring)
        }
        Err(e @ (SetupError::Invalid { .. } | SetupError::Disabled { .. })) if !f.is_engine() => {
            skip(&format!("{test} [{}]", f.name), &e.to_string());
            None
        }
        Err(e) => panic!("{test} [{}]: setup failed: {e}", f.name),
    }
}

/// The `ENGINE_PENDING` reason for `test` on flavour `flavor`, unless
/// `URING_ENGINE_STRICT=1`.
pub fn pending(test: &str, flavor: &str) -> Option<&'static str> {
    if std::env::var("URING_ENGINE_STRICT").is_ok_and(|v| v == "1") {
        return None;
    }
    let keyed = format!("{test} [{flavor}]");
    ENGINE_PENDING
        .iter()
        .find(|(k, _)| *k == test || *k == keyed)
        .map(|(_, why)| *why)
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Runs one half of a test: on the kernel directly; on the engine directly too,
/// unless the test is in [`ENGINE_PENDING`], where a failure is reported (visibly)
/// and swallowed, and a success asks for the entry to be removed.
pub fn run_half(test: &str, f: &Flavor, body: impl FnOnce()) {
    if !f.is_engine() {
        body();
        return;
    }
    let why = pending(test, f.name);
    match (catch_unwind(AssertUnwindSafe(body)), why) {
        (Ok(()), None) => {}
        (Ok(()), Some(_)) => {
            let _ = writeln!(
                std::io::stderr(),
                "ENGINE PENDING {test} [{}] now PASSES: remove it from ENGINE_PENDING",
                f.name
            );
        }
        (Err(p), Some(why)) => {
            let _ = writeln!(
                std::io::stderr(),
                "ENGINE PENDING {test} [{}] | {why} | {}",
                f.name,
                panic_text(&*p)
            );
        }
        (Err(p), None) => {
            // A line that names the harness key, for ENGINE_PENDING.
            let _ = writeln!(
                std::io::stderr(),
                "ENGINE FAIL {test} [{}]: {}",
                f.name,
                panic_text(&*p).lines().next().unwrap_or("")
            );
            std::panic::resume_unwind(p);
        }
    }
}

/// Whether `ring` offers every opcode of `ops`, reporting what it lacks.
///
/// On the kernel, as [`supports`] (a visible skip, a failure under
/// `URING_REQUIRE_KERNEL=1`). On the engine, an opcode its op table refuses
/// ([`uring_engine::op_support`]) prints `ENGINE N/A` with the reason and the test
/// passes; a probe that lacks any other is a failure (panic).
pub fn gate(test: &str, f: &Flavor, ring: &Ring, ops: &[u8]) -> bool {
    if ops.is_empty() {
        return true;
    }
    let probe = ring.submitter().probe().expect("probe");
    let missing: Vec<u8> = ops
        .iter()
        .copied()
        .filter(|&op| !probe.is_supported(op))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let names = |ops: &[u8]| {
        ops.iter()
            .map(|&op| format!("IORING_OP_{}", uring::Probe::opcode_name(op).unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !f.is_engine() {
        skip(
            &format!("{test} [{}]", f.name),
            &format!("kernel lacks {}", names(&missing)),
        );
        return false;
    }
    for op in missing {
        match uring_engine::op_support(op) {
            Err(why) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "ENGINE N/A {test} [{}]: {}: {why}",
                    f.name,
                    names(&[op])
                );
            }
            Ok(()) => panic!(
                "{test} [{}]: the engine's probe lacks {}, which its op table honours",
                f.name,
                names(&[op])
            ),
        }
    }
    false
}

/// Runs `body` once per flavour and backend, on rings that offer every opcode of
/// `ops` (see [`gate`]).
pub fn for_each_flavor(
    test: &str,
    ops: &[u8],
    entries: u32,
    mut body: impl FnMut(&Flavor, &mut Ring),
) {
    for f in flavors() {
        run_half(test, &f, || {
            if let Some(mut ring) = ring(test, &f, entries)
                && gate(test, &f, &ring, ops)
            {
                body(&f, &mut ring);
            }
        });
    }
}

/// Runs `body` once per backend on the flavour `name` (e.g. `sqpoll`), its ring built
/// from `adjust(flavour's builder)`, opcodes gated as in [`gate`].
pub fn for_each_backend_of(
    test: &str,
    name: &str,
    ops: &[u8],
    adjust: impl Fn(Builder) -> Builder,
    entries: u32,
    mut body: impl FnMut(&Flavor, &mut Ring),
) {
    for f in flavors().into_iter().filter(|f| f.base_name() == name) {
        run_half(test, &f, || {
            if let Some(mut ring) = build(test, &f, adjust((f.build)()), entries)
                && gate(test, &f, &ring, ops)
            {
                body(&f, &mut ring);
            }
        });
    }
}

/// Runs `body` once per backend on a plain ring that offers every opcode of `ops`
/// (see [`gate`]). Inside the body, `return` ends only that backend's run.
pub fn for_each_backend(
    test: &str,
    ops: &[u8],
    entries: u32,
    mut body: impl FnMut(Backend, &mut Ring),
) {
    for b in backends() {
        let f = default_flavor(b);
        run_half(test, &f, || {
            if let Some(mut ring) = ring(test, &f, entries)
                && gate(test, &f, &ring, ops)
            {
                body(b, &mut ring);
            }
        });
    }
}

/// Runs `body` once per backend whose ring would take the register opcodes `ops` (see
/// [`register_gate`]), with no ring made for it.
pub fn for_each_backend_with_register_ops(test: &str, ops: &[u32], mut body: impl FnMut(Backend)) {
    for_each_backend_only(test, |b| {
        if register_gate(test, &default_flavor(b), ops) {
            body(b);
        }
    });
}

/// Runs `body` once per backend with no ring made for it (the body builds its own
/// with [`builder`] or [`new_ring`]).
pub fn for_each_backend_only(test: &str, mut body: impl FnMut(Backend)) {
    for b in backends() {
        run_half(test, &default_flavor(b), || body(b));
    }
}

// ---- Helpers of the per-opcode tests (tests/op_*.rs). ----

/// Whether the kernel supports every opcode in `ops`; if not, reports the skip (which
/// fails under `URING_REQUIRE_KERNEL=1`) naming the missing ones.
pub fn supports(test: &str, ops: &[u8]) -> bool {
    // The kernel's probe, whatever URING_BACKEND says (Probe::with_new_ring honours it).
    let probe = builder(Backend::Kernel)
        .build(2)
        .and_then(|r| r.submitter().probe().map_err(SetupError::Io))
        .expect("probe");
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

/// A connected pair of loopback TCP streams (the connecting end first), each with a
/// 10 s read timeout so that a test that waits wrongly fails instead of hanging.
pub fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    (a, b)
}

/// A pipe: (read end, write end).
pub fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    pipe_with(0)
}

/// A pipe with `pipe2` flags beside `O_CLOEXEC` (`O_NONBLOCK`, `O_DIRECT`): (read end,
/// write end).
pub fn pipe_with(flags: i32) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array on success.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | flags) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// One READ of `fd` into each of `bufs` (with `flags`, user_data `base + 2i + 1`), each
/// followed by the SQE `then` makes from its read's user_data (user_data `base + 2i +
/// 2`): the shape of the tests of what must find a read wherever it is (its cancel, its
/// link timeout). Odd user_data are the reads, even ones what follows them.
pub fn reads_each_followed_by<const N: usize>(
    fd: std::os::fd::RawFd,
    bufs: &mut [[u8; N]],
    base: u64,
    flags: uring::SqeFlags,
    then: impl Fn(u64) -> uring::Sqe,
) -> Vec<uring::Sqe> {
    let len = u32::try_from(N).expect("a read buffer under 4 GiB");
    (base..)
        .step_by(2)
        .zip(bufs.iter_mut())
        .flat_map(|(ud, buf)| {
            [
                uring::opcode::Read::new(uring::types::Target::Fd(fd), buf.as_mut_ptr(), len)
                    .build()
                    .flags(flags)
                    .user_data(ud + 1),
                then(ud + 1).user_data(ud + 2),
            ]
        })
        .collect()
}

/// The file `fd` names now (device and inode), or None if it is not open.
///
/// Tests run in parallel threads, so a closed fd number can be reused at once: "is
/// that file still open under this number" is what a test of CLOSE can ask.
pub fn fd_identity(fd: std::os::fd::RawFd) -> Option<(u64, u64)> {
    // SAFETY: an all-zero stat is a valid out-buffer; fstat writes it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}
