//! Opening and closing descriptors: `OPENAT`, `OPENAT2`, `CLOSE`, `FIXED_FD_INSTALL`
//! and `PIPE`, with the prep checks and result codes of the kernel's
//! `io_uring/openclose.c`.
//!
//! Everything the kernel forces to io-wq (`REQ_F_FORCE_ASYNC`) runs in a worker here
//! too; `OPENAT`/`OPENAT2` without `O_CREAT`, `O_TRUNC` or `O_TMPFILE` are first tried
//! inline with `RESOLVE_CACHED | O_NONBLOCK`, as the kernel tries them (`O_NONBLOCK`
//! is then cleared unless asked for); `CLOSE` runs inline. Paths are copied at prep
//! (see `fs.rs`).
//!
//! Direct descriptors: `OPENAT`/`OPENAT2` with `file_index` install the new file in
//! the fixed file table (slot `file_index - 1`, result 0; or with
//! `IORING_FILE_INDEX_ALLOC` a free slot of the allocation range, result the slot,
//! `-ENFILE` when none is free or no table is registered; `-ENXIO` for a slot with no
//! table, `-EINVAL` past its end); `O_CLOEXEC` with a `file_index` is `-EINVAL`, as
//! a fixed file has no descriptor to close on exec. `CLOSE` with `file_index` empties
//! the slot (`-EBADF` if it was empty). `CLOSE` refuses an io_uring descriptor with
//! `-EBADF` (for the engine, its own pollable fd too).
//!
//! A fixed file of an engine ring is a duplicate descriptor the engine owns, so
//! installing one as a regular fd (`FIXED_FD_INSTALL`) duplicates it again: the same
//! open file, as `receive_fd` gives.
//!
//! Credentials: the submitting thread's or the request's personality's, in a worker
//! too (`creds.rs`).
//!
use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use uring_sys as sys;

use super::fs::{no_fixed, user_path};
use super::{Mode, Step, neg_errno, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

/// `__O_TMPFILE` (O_TMPFILE without O_DIRECTORY).
const O_TMPFILE_BIT: u64 = 0o20000000;
/// The flags `build_open_how` keeps (`VALID_OPEN_FLAGS`).
const VALID_OPEN_FLAGS: u64 = (libc::O_RDONLY
    | libc::O_WRONLY
    | libc::O_RDWR
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NDELAY
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH) as u64
    | O_TMPFILE_BIT;
/// `O_PATH_FLAGS`.
const O_PATH_FLAGS: u64 =
    (libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC) as u64;
/// `S_IALLUGO`.
const S_IALLUGO: u64 = 0o7777;

/// `struct open_how`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

// SAFETY: three u64, as `struct open_how`: any bits are a value.
unsafe impl crate::user::Plain for OpenHow {}

const OPEN_HOW_SIZE: usize = size_of::<OpenHow>();

// ---- OPENAT / OPENAT2 ----

/// `build_open_how`: what `openat(2)` makes of its flags and mode.
fn build_open_how(flags: u64, mode: u64) -> OpenHow {
    let mut how = OpenHow {
        flags: flags & VALID_OPEN_FLAGS,
        mode: mode & S_IALLUGO,
        resolve: 0,
    };
    if how.flags & libc::O_PATH as u64 != 0 {
        how.flags &= O_PATH_FLAGS;
    }
    let will_create = how.flags & (libc::O_CREAT as u64 | O_TMPFILE_BIT) != 0;
    if !will_create {
        how.mode = 0;
    }
    how
}

/// `struct io_open`.
pub(crate) struct Open {
    dfd: i32,
    /// The path, copied at prep.
    path: CString,
    /// What `openat(2)` makes of its flags and mode, or `OPENAT2`'s `open_how`
    /// (boxed: it would make every request bigger).
    how: Box<OpenHow>,
}

/// `__io_openat_prep`, after `how` is known.
fn openat_common(req: &mut Req, mut how: OpenHow) -> Result<(), i32> {
    if req.buf_index() != 0 {
        return Err(-libc::EINVAL);
    }
    no_fixed(req)?;
    if how.flags & libc::O_PATH as u64 == 0 {
        // force_o_largefile() on 64-bit.
        how.flags |= libc::O_LARGEFILE as u64;
    }
    let path = user_path(req.addr(), false)?;
    let slot = req.file_index();
    if slot != 0 && how.flags & libc::O_CLOEXEC as u64 != 0 {
        return Err(-libc::EINVAL);
    }
    let dfd = req.sqe.fd;
    req.set_cmd(Open {
        dfd,
        path,
        how: Box::new(how),
    });
    Ok(())
}

/// Whether an `OPENAT` creates or truncates: its prep then forces it to io-wq
/// (`REQ_F_FORCE_ASYNC`, the op table's `force_async`).
pub(crate) fn creates(req: &Req) -> bool {
    req.op_flags() & (libc::O_CREAT | libc::O_TRUNC | libc::O_TMPFILE) as u32 != 0
}

pub(crate) fn prep_openat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    let how = build_open_how(req.op_flags() as u64, req.sqe.len as u64);
    openat_common(req, how)
}

pub(crate) fn prep_openat2(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    let len = req.sqe.len as usize;
    if len < OPEN_HOW_SIZE {
        return Err(-libc::EINVAL);
    }
    // As `copy_struct_from_user`: the first 24 bytes, and the rest must be zero.
    let how = crate::user::read::<OpenHow>(req.off())?;
    if len > OPEN_HOW_SIZE {
        let tail =
            crate::user::read_vec::<u8>(req.off() + OPEN_HOW_SIZE as u64, len - OPEN_HOW_SIZE)?;
        if tail.iter().any(|&b| b != 0) {
            return Err(-libc::E2BIG);
        }
    }
    openat_common(req, how)
}

/// `openat2(2)`, falling back to `openat(2)` where it is missing (seccomp filters
/// older than it) and nothing asks for its resolve flags.
fn sys_openat2(dfd: i32, path: &CStr, how: &OpenHow) -> i32 {
    // SAFETY: a valid path and open_how of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dfd,
            path.as_ptr(),
            std::ptr::from_ref(how),
            OPEN_HOW_SIZE,
        )
    };
    let r = sys_res(r as isize);
    if (r == -libc::ENOSYS || r == -libc::EPERM) && how.resolve == 0 {
        // SAFETY: a valid path; flags and mode are plain integers.
        let r2 = unsafe { libc::openat(dfd, path.as_ptr(), how.flags as i32, how.mode as u32) };
        return sys_res(r2 as isize);
    }
    r
}

pub(crate) fn issue_openat(req: Box<Req>, e: &Arc<Engine>, mode: Mode) -> Step {
    let a = req.cmd::<Open>();
    let mut how = *a.how;
    let fixed = req.file_index() != 0;
    if fixed {
        // The descriptor only lives until it is installed.
        how.flags |= libc::O_CLOEXEC as u64;
    }
    let force_async =
        how.flags & (libc::O_TRUNC as u64 | libc::O_CREAT as u64 | O_TMPFILE_BIT) != 0;
    let dfd = a.dfd;
    let res = if mode == Mode::Inline {
        if force_async {
            return Step::Block(req);
        }
        let nonblock_set = how.flags & libc::O_NONBLOCK as u64 != 0;
        let app_cached = how.resolve & libc::RESOLVE_CACHED != 0;
        let mut try_how = how;
        try_how.resolve |= libc::RESOLVE_CACHED;
        try_how.flags |= libc::O_NONBLOCK as u64;
        // SAFETY: as in sys_openat2, without the fallback (no RESOLVE_CACHED there).
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dfd,
                a.path.as_ptr(),
                std::ptr::from_ref(&try_how),
                OPEN_HOW_SIZE,
            )
        };
        let r = sys_res(r as isize);
        if r == -libc::EAGAIN && !app_cached {
            return Step::Block(req);
        }
        if r == -libc::ENOSYS || r == -libc::EPERM {
            return Step::Block(req);
        }
        if r >= 0 && !nonblock_set {
            // SAFETY: F_GETFL/F_SETFL on the descriptor just opened.
            unsafe {
                let fl = libc::fcntl(r, libc::F_GETFL);
                libc::fcntl(r, libc::F_SETFL, fl & !libc::O_NONBLOCK);
            }
        }
        r
    } else {
        sys_openat2(dfd, &a.path, &how)
    };
    if res < 0 || !fixed {
        return Step::Done(req, res);
    }
    // SAFETY: a descriptor we just opened and own.
    let file = unsafe { OwnedFd::from_raw_fd(res) };
    let res = install_fixed(e, file, req.file_index());
    Step::Done(req, res)
}

/// `io_fixed_fd_install`: puts `file` in slot `file_index - 1`, or a free slot of
/// the allocation range for `IORING_FILE_INDEX_ALLOC` (returning it).
pub(crate) fn install_fixed(e: &Engine, file: OwnedFd, file_index: u32) -> i32 {
    let mut t = e.files.write().expect("file table");
    match t.install_fixed(Arc::new(file), file_index) {
        Ok(res) | Err(res) => res,
    }
}

// ---- CLOSE ----

pub(crate) fn prep_close(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.off(),
        req.addr(),
        req.sqe.len as u64,
        req.op_flags() as u64,
        req.buf_index() as u64,
    ])?;
    no_fixed(req)?;
    if req.file_index() != 0 && req.sqe.fd != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

pub(crate) fn issue_close(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let slot = req.file_index();
    if slot != 0 {
        let res = {
            let mut t = e.files.write().expect("file table");
            let i = slot - 1;
            if !t.registered {
                -libc::ENXIO
            } else if i >= t.len() {
                -libc::EINVAL
            } else if t.get(i).is_none() {
                -libc::EBADF
            } else {
                match t.install(i, None) {
                    Ok(()) => 0,
                    Err(err) => err,
                }
            }
        };
        return Step::Done(req, res);
    }
    let fd = req.sqe.fd;
    if fd == e.own_fd() || is_io_uring(fd) {
        return Step::Done(req, -libc::EBADF);
    }
    // SAFETY: closing a descriptor the application names, as close(2) would; the
    // engine holds none of the application's descriptors by number.
    let r = unsafe { libc::close(fd) };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

/// Whether `fd` is an io_uring instance (`io_is_uring_fops`). Only descriptors that
/// are no ordinary file, directory, device, pipe or socket are looked at closely.
fn is_io_uring(fd: i32) -> bool {
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return false;
    }
    let ordinary = matches!(
        st.st_mode & libc::S_IFMT,
        libc::S_IFDIR
            | libc::S_IFCHR
            | libc::S_IFBLK
            | libc::S_IFIFO
            | libc::S_IFSOCK
            | libc::S_IFLNK
    ) || (st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_nlink > 0);
    if ordinary {
        return false;
    }
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|l| l.as_os_str() == "anon_inode:[io_uring]")
}

// ---- FIXED_FD_INSTALL ----

/// `io_install_fixed_fd_prep`.
pub(crate) fn prep_install(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.off() != 0
        || req.addr() != 0
        || req.sqe.len != 0
        || req.buf_index() != 0
        || req.file_index() != 0
        || req.addr3() != 0
    {
        return Err(-libc::EINVAL);
    }
    if !req.has(sys::IOSQE_FIXED_FILE) {
        return Err(-libc::EBADF);
    }
    if req.op_flags() & !sys::IORING_FIXED_FD_NO_CLOEXEC != 0 {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

/// `io_install_fixed_fd`: a new descriptor for the fixed file (`O_CLOEXEC` unless
/// `IORING_FIXED_FD_NO_CLOEXEC`).
pub(crate) fn issue_install(req: Box<Req>, _e: &Arc<Engine>, _mode: Mode) -> Step {
    let cmd = if req.op_flags() & sys::IORING_FIXED_FD_NO_CLOEXEC != 0 {
        libc::F_DUPFD
    } else {
        libc::F_DUPFD_CLOEXEC
    };
    // SAFETY: duplicating a descriptor we hold open (the fixed file) touches no memory.
    let fd = unsafe { libc::fcntl(req.fd, cmd, 0) };
    let res = if fd < 0 { neg_errno() } else { fd };
    Step::Done(req, res)
}

// ---- PIPE ----

/// `O_NOTIFICATION_PIPE` (`O_EXCL`).
const O_NOTIFICATION_PIPE: u32 = libc::O_EXCL as u32;

/// `struct io_pipe`.
pub(crate) struct Pipe {
    /// Where the two fds (or slots) go: the application's `int[2]`.
    fds: *mut i32,
    /// pipe2(2)'s flags.
    flags: i32,
    /// 0, a slot + 1, or `IORING_FILE_INDEX_ALLOC`.
    file_index: u32,
}

// SAFETY: `fds` points into application memory whose validity until the CQE is the
// SQE's contract; moving the pointer between threads moves no data.
unsafe impl Send for Pipe {}

/// `io_pipe_prep`.
pub(crate) fn prep_pipe(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    if req.sqe.fd != 0 || req.off() != 0 || req.addr3() != 0 {
        return Err(-libc::EINVAL);
    }
    let flags = req.op_flags();
    let valid = (libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) as u32 | O_NOTIFICATION_PIPE;
    if flags & !valid != 0 {
        return Err(-libc::EINVAL);
    }
    req.set_cmd(Pipe {
        fds: req.addr() as *mut i32,
        flags: flags as i32,
        file_index: req.file_index(),
    });
    Ok(())
}

/// `io_pipe`: pipe2(2), both ends as descriptors or as direct descriptors (slots
/// `file_index - 1` and the next, or two allocated), reported in `fds`.
pub(crate) fn issue_pipe(req: Box<Req>, e: &Arc<Engine>, _mode: Mode) -> Step {
    let &Pipe {
        fds: out,
        flags,
        file_index: slot,
    } = req.cmd::<Pipe>();
    if out.is_null() {
        return Step::Done(req, -libc::EFAULT);
    }
    let direct = slot != 0;
    if direct && flags & libc::O_CLOEXEC != 0 {
        return Step::Done(req, -libc::EINVAL);
    }
    let mut fds = [-1i32; 2];
    // Direct ends are the engine's own descriptors: close-on-exec.
    let pflags = if direct {
        flags | libc::O_CLOEXEC
    } else {
        flags
    };
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), pflags) } < 0 {
        return Step::Done(req, neg_errno());
    }
    if !direct {
        // SAFETY: the SQE contract: `addr` points to two writable ints.
        unsafe { out.cast::<[i32; 2]>().write_unaligned(fds) };
        return Step::Done(req, 0);
    }
    // SAFETY: two fresh descriptors nobody else owns.
    let ends = unsafe { [OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])] };
    let mut t = e.files.write().expect("file table");
    let mut slots = [-1i32; 2];
    let mut res = 0;
    for (i, end) in ends.into_iter().enumerate() {
        let index = if slot == sys::IORING_FILE_INDEX_ALLOC {
            slot
        } else {
            slot + i as u32
        };
        match t.install_fixed(Arc::new(end), index) {
            Ok(s) => {
                slots[i] = if index == sys::IORING_FILE_INDEX_ALLOC {
                    s
                } else {
                    index as i32 - 1
                }
            }
            Err(err) => {
                res = err;
                break;
            }
        }
    }
    if res < 0 {
        for s in slots.into_iter().filter(|&s| s >= 0) {
            let _ = t.install(s as u32, None);
        }
    } else {
        // SAFETY: as above.
        unsafe { out.cast::<[i32; 2]>().write_unaligned(slots) };
    }
    drop(t);
    Step::Done(req, res)
}
