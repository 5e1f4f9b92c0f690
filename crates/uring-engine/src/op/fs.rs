//! File-system ops: `OPENAT`, `OPENAT2`, `CLOSE`, `STATX`, `FALLOCATE`, `FADVISE`,
//! `MADVISE`, `RENAMEAT`, `UNLINKAT`, `MKDIRAT`, `SYMLINKAT`, `LINKAT`, the four xattr
//! ops and `FTRUNCATE`, with the prep checks and result codes of the kernel's
//! `io_uring/openclose.c`, `fs.c`, `statx.c`, `xattr.c`, `advise.c`, `sync.c` and
//! `truncate.c`.
//!
//! As in the kernel, paths, xattr names and `setxattr` values are copied at prep
//! (`getname`), so the application may reuse their memory once the SQE is submitted
//! (`IORING_FEAT_SUBMIT_STABLE`); an empty path is `-ENOENT` there unless the op
//! takes `AT_EMPTY_PATH`; a path of 4096 bytes or more without its NUL is
//! `-ENAMETOOLONG`. Everything the kernel forces to io-wq (`REQ_F_FORCE_ASYNC`) runs
//! in a worker here too; `OPENAT`/`OPENAT2` without `O_CREAT`, `O_TRUNC` or
//! `O_TMPFILE` are first tried inline with `RESOLVE_CACHED | O_NONBLOCK`, as the
//! kernel tries them (`O_NONBLOCK` is then cleared unless asked for); `CLOSE` and the
//! `FADVISE` advices `NORMAL`, `RANDOM` and `SEQUENTIAL` run inline.
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
//! Differences: a path pointer that is neither null nor valid memory is the
//! application's broken promise (the SQE contract), not an `-EFAULT`: only null is
//! checked. A worker opens with the credentials of the engine's threads, which are
//! those of the thread that set the ring up (the kernel uses the submitting task's).
//!
//! Scratch: `[0]` dfd or fd, `[1]` second dfd / flags, `[2]` mode / mask / size,
//! `[3]` reserved (worker readiness fallback). Larger state in `owned`: [`FsArgs`].
use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use uring_sys as sys;

use super::{Mode, Step, reserved, sys_res};
use crate::engine::Engine;
use crate::req::Req;

/// `PATH_MAX`, counting the NUL.
const PATH_MAX: usize = 4096;
/// `XATTR_NAME_MAX + 1`.
const XATTR_NAME_LEN: usize = 256;
/// `XATTR_SIZE_MAX`.
const XATTR_SIZE_MAX: u32 = 65536;
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

/// What a path op keeps between prep and issue.
#[derive(Default)]
pub(crate) struct FsArgs {
    path: CString,
    path2: CString,
    /// xattr name.
    name: CString,
    /// `setxattr` value.
    value: Vec<u8>,
    how: OpenHow,
}

/// `struct open_how`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const OPEN_HOW_SIZE: usize = size_of::<OpenHow>();

fn args(req: &Req) -> &FsArgs {
    req.owned
        .as_ref()
        .and_then(|o| o.downcast_ref::<FsArgs>())
        .expect("prepared FsArgs")
}

/// Copies a path from the application (`getname`): `-EFAULT` for null, `-ENOENT`
/// for an empty one unless `empty_ok`, `-ENAMETOOLONG` without a NUL in 4096 bytes.
fn user_path(addr: u64, empty_ok: bool) -> Result<CString, i32> {
    let s = user_str(addr, PATH_MAX).ok_or(-libc::ENAMETOOLONG)??;
    if s.is_empty() && !empty_ok {
        return Err(-libc::ENOENT);
    }
    Ok(s)
}

/// Copies a NUL-terminated string of fewer than `max` bytes: `None` if no NUL comes
/// within `max`, `Some(Err(-EFAULT))` for null.
fn user_str(addr: u64, max: usize) -> Option<Result<CString, i32>> {
    if let Err(e) = crate::user::check(addr, 1) {
        return Some(Err(e));
    }
    let p = addr as *const libc::c_char;
    let room = crate::user::readable_from(addr);
    // SAFETY: the application promises a NUL-terminated string at `addr` (the SQE
    // contract); strnlen reads no further than its NUL, `max` bytes, or what
    // `user::readable_from` allows.
    let n = unsafe { libc::strnlen(p, max.min(room)) };
    if n == room {
        // No NUL in readable memory.
        return Some(Err(-libc::EFAULT));
    }
    if n == max {
        return None;
    }
    // SAFETY: `n` bytes then a NUL at `p`, just measured.
    let s = unsafe { CStr::from_ptr(p) };
    Some(Ok(s.to_owned()))
}

/// An xattr name (`strncpy_from_user` into `XATTR_NAME_MAX + 1`): `-ERANGE` for
/// an empty or too long one.
fn xattr_name(addr: u64) -> Result<CString, i32> {
    match user_str(addr, XATTR_NAME_LEN) {
        None => Err(-libc::ERANGE),
        Some(Err(e)) => Err(e),
        Some(Ok(s)) if s.is_empty() => Err(-libc::ERANGE),
        Some(Ok(s)) => Ok(s),
    }
}

/// The ops that name files by path refuse `IOSQE_FIXED_FILE` with `-EBADF`.
fn no_fixed(req: &Req) -> Result<(), i32> {
    if req.has(sys::IOSQE_FIXED_FILE) {
        Err(-libc::EBADF)
    } else {
        Ok(())
    }
}

fn splice_fd_in(req: &Req) -> u64 {
    req.file_index() as u64
}

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
    req.scratch[0] = req.sqe.fd as i64 as u64;
    req.owned = Some(Box::new(FsArgs {
        path,
        how,
        ..Default::default()
    }));
    Ok(())
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
    let src = req.off() as *const u8;
    crate::user::check(src as u64, len)?;
    let mut how = OpenHow::default();
    // SAFETY: the application promises `len` readable bytes at `addr2` (the SQE
    // contract); we copy the first 24 and check the rest is zero, as
    // `copy_struct_from_user`.
    unsafe {
        std::ptr::copy_nonoverlapping(src, (&raw mut how).cast::<u8>(), OPEN_HOW_SIZE);
        for i in OPEN_HOW_SIZE..len {
            if src.add(i).read() != 0 {
                return Err(-libc::E2BIG);
            }
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
    let a = args(&req);
    let mut how = a.how;
    let fixed = req.file_index() != 0;
    if fixed {
        // The descriptor only lives until it is installed.
        how.flags |= libc::O_CLOEXEC as u64;
    }
    let force_async =
        how.flags & (libc::O_TRUNC as u64 | libc::O_CREAT as u64 | O_TMPFILE_BIT) != 0;
    let dfd = req.scratch[0] as i64 as i32;
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
    if file_index == sys::IORING_FILE_INDEX_ALLOC {
        if !t.registered {
            return -libc::ENFILE;
        }
        let Some(slot) = t.alloc() else {
            return -libc::ENFILE;
        };
        match t.install(slot, Some(Arc::new(file))) {
            Ok(()) => slot as i32,
            Err(err) => err,
        }
    } else {
        let slot = file_index - 1;
        if !t.registered {
            return -libc::ENXIO;
        }
        if slot >= t.len() {
            return -libc::EINVAL;
        }
        match t.install(slot, Some(Arc::new(file))) {
            Ok(()) => 0,
            Err(err) => err,
        }
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

// ---- STATX ----

pub(crate) fn prep_statx(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    no_fixed(req)?;
    let flags = req.op_flags();
    let path = user_path(req.addr(), flags & libc::AT_EMPTY_PATH as u32 != 0)?;
    req.scratch[0] = req.sqe.fd as i64 as u64;
    req.owned = Some(Box::new(FsArgs {
        path,
        ..Default::default()
    }));
    Ok(())
}

pub(crate) fn issue_statx(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    let a = args(&req);
    // SAFETY: `addr2` is the application's statx buffer (the SQE contract); the path
    // is our copy.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            req.scratch[0] as i64 as i32,
            a.path.as_ptr(),
            req.op_flags() as i32,
            req.sqe.len,
            req.off() as *mut libc::statx,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

// ---- FALLOCATE / FADVISE / MADVISE / FTRUNCATE ----

pub(crate) fn prep_fallocate(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.buf_index() as u64,
        req.op_flags() as u64,
        splice_fd_in(req),
    ])
}

pub(crate) fn issue_fallocate(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd.
    let r = unsafe {
        libc::fallocate(
            req.fd,
            req.sqe.len as i32,
            req.off() as i64,
            req.addr() as i64,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

/// Since 6.7 the length is 64 bits: `addr`, or `len` when `addr` is 0.
/// scratch[2]: the length.
pub(crate) fn prep_fadvise(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    req.scratch[2] = match req.addr() {
        0 => req.sqe.len as u64,
        len => len,
    };
    Ok(())
}

pub(crate) fn issue_fadvise(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    let advice = req.op_flags();
    let inline_ok = matches!(
        advice as i32,
        libc::POSIX_FADV_NORMAL | libc::POSIX_FADV_RANDOM | libc::POSIX_FADV_SEQUENTIAL
    );
    if mode == Mode::Inline && !inline_ok {
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd (the raw one: glibc's wrapper returns the
    // error instead of setting errno).
    let r = unsafe {
        libc::syscall(
            libc::SYS_fadvise64,
            req.fd,
            req.off() as i64,
            req.scratch[2] as i64,
            advice as i32,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

/// Since 6.7 the length is 64 bits: `off`, or `len` when `off` is 0.
/// scratch[2]: the length.
pub(crate) fn prep_madvise(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    req.scratch[2] = match req.off() {
        0 => req.sqe.len as u64,
        len => len,
    };
    Ok(())
}

pub(crate) fn issue_madvise(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    // SAFETY: madvise on the application's own range, with its advice, as the
    // kernel's do_madvise on its mm; the application answers for what the advice
    // does to its memory (MADV_DONTNEED and the like), as with madvise(2).
    let r = unsafe {
        libc::madvise(
            req.addr() as *mut libc::c_void,
            req.scratch[2] as usize,
            req.op_flags() as i32,
        )
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

pub(crate) fn prep_ftruncate(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.op_flags() as u64,
        req.addr(),
        req.sqe.len as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
        req.addr3(),
    ])
}

pub(crate) fn issue_ftruncate(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    // SAFETY: a plain system call on an fd.
    let r = unsafe { libc::ftruncate(req.fd, req.off() as i64) };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

// ---- RENAMEAT / UNLINKAT / MKDIRAT / SYMLINKAT / LINKAT ----

/// Which of the five path ops; scratch[1].
const RENAME: u64 = 0;
const UNLINK: u64 = 1;
const MKDIR: u64 = 2;
const SYMLINK: u64 = 3;
const LINK: u64 = 4;

fn path_op(req: &mut Req, kind: u64, path: CString, path2: CString) {
    req.scratch[0] = req.sqe.fd as i64 as u64;
    req.scratch[1] = kind;
    req.owned = Some(Box::new(FsArgs {
        path,
        path2,
        ..Default::default()
    }));
}

pub(crate) fn prep_renameat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    no_fixed(req)?;
    let old = user_path(req.addr(), false)?;
    let new = user_path(req.off(), false)?;
    path_op(req, RENAME, old, new);
    Ok(())
}

pub(crate) fn prep_unlinkat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.off(),
        req.sqe.len as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
    ])?;
    no_fixed(req)?;
    if req.op_flags() & !(libc::AT_REMOVEDIR as u32) != 0 {
        return Err(-libc::EINVAL);
    }
    let path = user_path(req.addr(), false)?;
    path_op(req, UNLINK, path, CString::default());
    Ok(())
}

pub(crate) fn prep_mkdirat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.off(),
        req.op_flags() as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
    ])?;
    no_fixed(req)?;
    let path = user_path(req.addr(), false)?;
    path_op(req, MKDIR, path, CString::default());
    Ok(())
}

pub(crate) fn prep_symlinkat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[
        req.sqe.len as u64,
        req.op_flags() as u64,
        req.buf_index() as u64,
        splice_fd_in(req),
    ])?;
    no_fixed(req)?;
    let target = user_path(req.addr(), false)?;
    let link = user_path(req.off(), false)?;
    path_op(req, SYMLINK, target, link);
    Ok(())
}

pub(crate) fn prep_linkat(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    reserved(&[req.buf_index() as u64, splice_fd_in(req)])?;
    no_fixed(req)?;
    let empty_ok = req.op_flags() & libc::AT_EMPTY_PATH as u32 != 0;
    let old = user_path(req.addr(), empty_ok)?;
    let new = user_path(req.off(), false)?;
    path_op(req, LINK, old, new);
    Ok(())
}

pub(crate) fn issue_path(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    let a = args(&req);
    let dfd = req.scratch[0] as i64 as i32;
    let (p1, p2) = (a.path.as_ptr(), a.path2.as_ptr());
    let flags = req.op_flags() as i32;
    // SAFETY: our own NUL-terminated copies of the paths; integers otherwise.
    let r = unsafe {
        match req.scratch[1] {
            RENAME => libc::syscall(
                libc::SYS_renameat2,
                dfd,
                p1,
                req.sqe.len as i32,
                p2,
                flags as u32,
            ) as i32,
            UNLINK => libc::unlinkat(dfd, p1, flags),
            MKDIR => libc::mkdirat(dfd, p1, req.sqe.len as libc::mode_t),
            SYMLINK => libc::symlinkat(p1, dfd, p2),
            _ => libc::linkat(dfd, p1, req.sqe.len as i32, p2, flags),
        }
    };
    let res = sys_res(r as isize);
    Step::Done(req, res)
}

// ---- xattr ----

const FGET: u64 = 0;
const GET: u64 = 1;
const FSET: u64 = 2;
const SET: u64 = 3;

/// `__io_getxattr_prep` (+ the path of `GETXATTR`).
fn prep_get(req: &mut Req, kind: u64) -> Result<(), i32> {
    no_fixed(req)?;
    if req.op_flags() != 0 {
        return Err(-libc::EINVAL);
    }
    let name = xattr_name(req.addr())?;
    let path = if kind == GET {
        user_path(req.addr3(), false)?
    } else {
        CString::default()
    };
    req.scratch[1] = kind;
    req.owned = Some(Box::new(FsArgs {
        path,
        name,
        ..Default::default()
    }));
    Ok(())
}

/// `__io_setxattr_prep` / `setxattr_copy` (+ the path of `SETXATTR`): the value
/// is copied here.
fn prep_set(req: &mut Req, kind: u64) -> Result<(), i32> {
    no_fixed(req)?;
    let flags = req.op_flags();
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) as u32 != 0 {
        return Err(-libc::EINVAL);
    }
    let name = xattr_name(req.addr())?;
    let size = req.sqe.len;
    let mut value = Vec::new();
    if size > 0 {
        if size > XATTR_SIZE_MAX {
            return Err(-libc::E2BIG);
        }
        let src = req.off() as *const u8;
        crate::user::check(src as u64, size as usize)?;
        // SAFETY: the application promises `size` readable bytes at `addr2` (the SQE
        // contract).
        value.extend_from_slice(unsafe { std::slice::from_raw_parts(src, size as usize) });
    }
    let path = if kind == SET {
        user_path(req.addr3(), false)?
    } else {
        CString::default()
    };
    req.scratch[1] = kind;
    req.owned = Some(Box::new(FsArgs {
        path,
        name,
        value,
        ..Default::default()
    }));
    Ok(())
}

pub(crate) fn prep_fgetxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_get(req, FGET)
}

pub(crate) fn prep_getxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_get(req, GET)
}

pub(crate) fn prep_fsetxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_set(req, FSET)
}

pub(crate) fn prep_setxattr(req: &mut Req, _e: &Engine) -> Result<(), i32> {
    prep_set(req, SET)
}

pub(crate) fn issue_xattr(req: Box<Req>, _e: &Arc<Engine>, mode: Mode) -> Step {
    if mode == Mode::Inline {
        return Step::Block(req);
    }
    let a = args(&req);
    let value = req.off() as *mut libc::c_void;
    let size = req.sqe.len as usize;
    // SAFETY: our copies of the name, path and set value; a get writes at most
    // `size` bytes into the application's buffer at `addr2` (the SQE contract).
    let r = unsafe {
        match req.scratch[1] {
            FGET => libc::fgetxattr(req.fd, a.name.as_ptr(), value, size),
            GET => libc::getxattr(a.path.as_ptr(), a.name.as_ptr(), value, size),
            FSET => libc::fsetxattr(
                req.fd,
                a.name.as_ptr(),
                a.value.as_ptr().cast(),
                a.value.len(),
                req.op_flags() as i32,
            ) as isize,
            _ => libc::setxattr(
                a.path.as_ptr(),
                a.name.as_ptr(),
                a.value.as_ptr().cast(),
                a.value.len(),
                req.op_flags() as i32,
            ) as isize,
        }
    };
    let res = sys_res(r);
    Step::Done(req, res)
}
