//! `io_uring_register(2)`: one function per `IORING_REGISTER_*` opcode, as methods of
//! the [`Submitter`](crate::Submitter). Like liburing's `register.c`.
//!
//! Every call goes through [`Submitter::register_raw`], which uses the ring's registered
//! index (`IORING_REGISTER_USE_REGISTERED_RING`) when the ring has no fd. The two
//! "blind" opcodes that need no ring at all, `IORING_REGISTER_SEND_MSG_RING` and
//! `IORING_REGISTER_QUERY`, are associated functions that pass `-1` as the fd.
//!
//! Safety, in short: registering **files**, eventfds, personalities, restrictions and
//! settings is safe, because the kernel takes its own references. Registering
//! **memory** (buffers, buffer rings, regions, zero-copy areas) is `unsafe`: the kernel
//! keeps the addresses and writes through them for as long as the registration lasts,
//! so the memory must outlive it.
//!
//! On a `SINGLE_ISSUER` ring, register calls from a thread other than the submitter
//! fail with `EEXIST`. The errnos listed are those of the kernel's
//! `io_uring/register.c`, `rsrc.c`, `filetable.c`, `kbuf.c`, `cancel.c`, `napi.c`,
//! `msg_ring.c`, `memmap.c`, `zcrx.c` and `query.c` (6.18), checked by the tests in
//! `tests/register_*.rs` where they matter.
use std::ffi::c_void;
use std::io;
use std::os::fd::RawFd;
use std::ptr;
use std::time::Duration;

use uring_sys as sys;

use crate::submit::RingFd;
use crate::{Ring, Sqe, SqeFlags, Submitter};

/// One rule for a ring created [disabled](crate::Builder::disabled): which register
/// opcodes, SQE opcodes and SQE flags it allows once enabled.
///
/// A `#[repr(transparent)]` `struct io_uring_restriction`, so a slice of these is the
/// array `IORING_REGISTER_RESTRICTIONS` takes.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use uring::Restriction;
/// use uring::{sys, Ring};
/// let ring = Ring::builder().disabled().build(8)?;
/// ring.submitter().register_restrictions(&[
///     Restriction::sqe_op(sys::IORING_OP_NOP),
///     Restriction::register_op(sys::IORING_REGISTER_PROBE as u8),
/// ])?;
/// ring.submitter().enable_rings()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Restriction(sys::io_uring_restriction);

impl Restriction {
    fn new(opcode: u16, arg: u8) -> Self {
        Restriction(sys::io_uring_restriction {
            opcode,
            register_op_or_sqe_op_or_sqe_flags: sys::register_op_or_sqe_op_or_sqe_flags_union {
                register_op: arg,
            },
            ..Default::default()
        })
    }

    /// Allows the register opcode `op` (`IORING_RESTRICTION_REGISTER_OP`).
    pub fn register_op(op: u8) -> Self {
        Self::new(sys::IORING_RESTRICTION_REGISTER_OP, op)
    }

    /// Allows the SQE opcode `op` (`IORING_RESTRICTION_SQE_OP`).
    pub fn sqe_op(op: u8) -> Self {
        Self::new(sys::IORING_RESTRICTION_SQE_OP, op)
    }

    /// Allows only these `IOSQE_*` flags on SQEs (`IORING_RESTRICTION_SQE_FLAGS_ALLOWED`).
    pub fn sqe_flags_allowed(flags: SqeFlags) -> Self {
        Self::new(sys::IORING_RESTRICTION_SQE_FLAGS_ALLOWED, flags.bits())
    }

    /// Requires these `IOSQE_*` flags on every SQE
    /// (`IORING_RESTRICTION_SQE_FLAGS_REQUIRED`).
    pub fn sqe_flags_required(flags: SqeFlags) -> Self {
        Self::new(sys::IORING_RESTRICTION_SQE_FLAGS_REQUIRED, flags.bits())
    }

    /// The raw kernel struct.
    pub fn as_raw(&self) -> &sys::io_uring_restriction {
        &self.0
    }
}

impl std::fmt::Debug for Restriction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a synchronous cancel ([`Submitter::register_sync_cancel`]) matches, and how
/// long it waits. Wraps `struct io_uring_sync_cancel_reg`.
///
/// By default it matches the first request with the given `user_data` and waits for
/// ever.
#[derive(Debug, Clone, Copy)]
pub struct SyncCancel(sys::io_uring_sync_cancel_reg);

impl SyncCancel {
    fn with(flags: u32) -> Self {
        SyncCancel(sys::io_uring_sync_cancel_reg {
            flags,
            timeout: sys::__kernel_timespec {
                tv_sec: -1,
                tv_nsec: -1,
            },
            ..Default::default()
        })
    }

    /// Matches requests whose `user_data` is `user_data` (`IORING_ASYNC_CANCEL_USERDATA`).
    pub fn user_data(user_data: u64) -> Self {
        let mut c = Self::with(sys::IORING_ASYNC_CANCEL_USERDATA);
        c.0.addr = user_data;
        c
    }

    /// Matches requests on the file descriptor `fd` (`IORING_ASYNC_CANCEL_FD`).
    pub fn fd(fd: RawFd) -> Self {
        let mut c = Self::with(sys::IORING_ASYNC_CANCEL_FD);
        c.0.fd = fd;
        c
    }

    /// Matches requests on the registered file `index`
    /// (`IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED`).
    pub fn fixed(index: u32) -> Self {
        let mut c = Self::with(sys::IORING_ASYNC_CANCEL_FD | sys::IORING_ASYNC_CANCEL_FD_FIXED);
        c.0.fd = index as i32;
        c
    }

    /// Matches every request (`IORING_ASYNC_CANCEL_ANY`); the kernel then ignores the
    /// other keys, [`opcode`](Self::opcode) included.
    pub fn any() -> Self {
        Self::with(sys::IORING_ASYNC_CANCEL_ANY)
    }

    /// Cancels every match, not only the first (`IORING_ASYNC_CANCEL_ALL`).
    pub fn all(mut self) -> Self {
        self.0.flags |= sys::IORING_ASYNC_CANCEL_ALL;
        self
    }

    /// Also requires the opcode to be `opcode` (`IORING_ASYNC_CANCEL_OP`).
    pub fn opcode(mut self, opcode: u8) -> Self {
        self.0.flags |= sys::IORING_ASYNC_CANCEL_OP;
        self.0.opcode = opcode;
        self
    }

    /// Gives up waiting for the cancelled requests to complete after `timeout`
    /// (the call then fails with `ETIME`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.timeout = sys::__kernel_timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: timeout.subsec_nanos() as i64,
        };
        self
    }

    /// The raw kernel struct.
    pub fn as_raw(&self) -> &sys::io_uring_sync_cancel_reg {
        &self.0
    }
}

/// Busy-poll settings of a ring, as `IORING_(UN)REGISTER_NAPI` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NapiSettings {
    /// Busy-poll time in microseconds (0: off).
    pub busy_poll_usec: u32,
    /// Prefer busy polling over interrupts.
    pub prefer_busy_poll: bool,
    /// `IO_URING_NAPI_TRACKING_*` (reported by register only; unregister leaves 0).
    pub tracking: u32,
}

impl From<sys::io_uring_napi> for NapiSettings {
    fn from(n: sys::io_uring_napi) -> Self {
        NapiSettings {
            busy_poll_usec: n.busy_poll_to,
            prefer_busy_poll: n.prefer_busy_poll != 0,
            tracking: n.op_param,
        }
    }
}

/// `Err(InvalidInput)` unless `tags` is empty or as long as the resources.
fn check_tags(n: usize, tags: &[u64]) -> io::Result<u64> {
    if tags.is_empty() {
        Ok(0)
    } else if tags.len() == n {
        Ok(tags.as_ptr() as u64)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "tags must be empty or one per resource",
        ))
    }
}

fn len_u32(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many entries"))
}

/// Registered buffers: `IORING_REGISTER_BUFFERS`, `BUFFERS2`, `BUFFERS_UPDATE`,
/// `UNREGISTER_BUFFERS`, `CLONE_BUFFERS`.
impl Submitter<'_> {
    /// Registers `bufs` as the ring's fixed buffers, indexes `0..bufs.len()`, for
    /// `READ_FIXED`, `WRITE_FIXED` and other ops that take a `buf_index`. The kernel
    /// pins the pages once instead of per request. An iovec with a null base makes a
    /// sparse (empty) slot.
    ///
    /// Maps to liburing's `io_uring_register_buffers`.
    ///
    /// # Errors
    /// `EBUSY` if buffers are already registered, `EINVAL` for a zero-length or
    /// too-long buffer or more than 16384 of them, `ENOMEM`/`EFAULT` when the pages
    /// cannot be pinned (memlock limit, or memory that is not anonymous or file
    /// backed), `EOPNOTSUPP` for file-backed memory of some filesystems.
    ///
    /// # Safety
    /// Each iovec must describe memory valid for reads and writes of `iov_len` bytes,
    /// and stay so for as long as it is registered (until it is unregistered, replaced
    /// by an update, or the ring is closed): the kernel reads and writes it whenever a
    /// fixed-buffer request names its index.
    pub unsafe fn register_buffers(&self, bufs: &[libc::iovec]) -> io::Result<()> {
        // SAFETY: `bufs` is an array of len() iovecs for the duration of the call; the
        // caller keeps the memory they describe valid while registered.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_BUFFERS,
                bufs.as_ptr().cast(),
                len_u32(bufs.len())?,
            )
        }
        .map(drop)
    }

    /// Registers `bufs` with a tag each (`IORING_REGISTER_BUFFERS2`): when a tagged
    /// buffer leaves the table (unregistered or replaced) and the kernel no longer uses
    /// it, a CQE arrives with `user_data` = its tag and `res` = 0. A tag of 0 posts
    /// nothing. `tags` must be empty or as long as `bufs`.
    ///
    /// Maps to liburing's `io_uring_register_buffers_tags`.
    ///
    /// # Errors
    /// As [`register_buffers`](Self::register_buffers); `InvalidInput` if the tags do
    /// not match the buffers.
    ///
    /// # Safety
    /// As [`register_buffers`](Self::register_buffers).
    pub unsafe fn register_buffers_tags(
        &self,
        bufs: &[libc::iovec],
        tags: &[u64],
    ) -> io::Result<()> {
        let rr = sys::io_uring_rsrc_register {
            nr: len_u32(bufs.len())?,
            flags: 0,
            resv2: 0,
            data: bufs.as_ptr() as u64,
            tags: check_tags(bufs.len(), tags)?,
        };
        // SAFETY: `rr` points to `nr` iovecs and `nr` tags (or none), alive across the
        // call; nr_args is the struct's size, as BUFFERS2 requires. The caller keeps
        // the buffer memory valid while registered.
        unsafe { self.rsrc_register(sys::IORING_REGISTER_BUFFERS2, &rr) }
    }

    /// Registers a table of `nr` empty buffer slots, to fill later with
    /// [`register_buffers_update_tag`](Self::register_buffers_update_tag)
    /// (`IORING_REGISTER_BUFFERS2` with `IORING_RSRC_REGISTER_SPARSE`).
    ///
    /// Maps to liburing's `io_uring_register_buffers_sparse`.
    ///
    /// # Errors
    /// `EBUSY` if buffers are already registered, `EINVAL` if `nr` is 0 or above 16384.
    pub fn register_buffers_sparse(&self, nr: u32) -> io::Result<()> {
        let rr = sys::io_uring_rsrc_register {
            nr,
            flags: sys::IORING_RSRC_REGISTER_SPARSE,
            ..Default::default()
        };
        // SAFETY: a sparse registration references no user memory.
        unsafe { self.rsrc_register(sys::IORING_REGISTER_BUFFERS2, &rr) }
    }

    /// Replaces the registered buffers at `offset..offset + bufs.len()` with `bufs`,
    /// tagged with `tags` (empty for none) (`IORING_REGISTER_BUFFERS_UPDATE`). The
    /// buffers replaced post their tag CQEs once the kernel is done with them. A null
    /// base clears a slot. Returns how many slots were updated.
    ///
    /// Maps to liburing's `io_uring_register_buffers_update_tag`.
    ///
    /// # Errors
    /// `ENXIO` if no buffer table is registered, `EINVAL` if the range exceeds it,
    /// the errors of [`register_buffers`](Self::register_buffers) for the new buffers.
    ///
    /// # Safety
    /// As [`register_buffers`](Self::register_buffers), for the new buffers.
    pub unsafe fn register_buffers_update_tag(
        &self,
        offset: u32,
        bufs: &[libc::iovec],
        tags: &[u64],
    ) -> io::Result<u32> {
        let up = sys::io_uring_rsrc_update2 {
            offset,
            resv: 0,
            data: bufs.as_ptr() as u64,
            tags: check_tags(bufs.len(), tags)?,
            nr: len_u32(bufs.len())?,
            resv2: 0,
        };
        // SAFETY: `up` points to `nr` iovecs and tags, alive across the call; nr_args
        // is the struct's size. The caller keeps the new buffers valid.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_BUFFERS_UPDATE,
                (&raw const up).cast(),
                size_of::<sys::io_uring_rsrc_update2>() as u32,
            )
        }
    }

    /// Unregisters all fixed buffers (`IORING_UNREGISTER_BUFFERS`). Tagged buffers post
    /// their tag CQEs once no request uses them any more.
    ///
    /// Maps to liburing's `io_uring_unregister_buffers`.
    ///
    /// # Errors
    /// `ENXIO` if none are registered.
    pub fn unregister_buffers(&self) -> io::Result<()> {
        // SAFETY: UNREGISTER_BUFFERS takes no argument.
        unsafe { self.register_raw(sys::IORING_UNREGISTER_BUFFERS, ptr::null(), 0) }.map(drop)
    }

    /// Gives this ring all the registered buffers of `src`, sharing their pinned pages
    /// (`IORING_REGISTER_CLONE_BUFFERS`). This ring must have no buffers registered.
    ///
    /// Maps to liburing's `io_uring_clone_buffers`.
    ///
    /// # Errors
    /// As [`clone_buffers_offset`](Self::clone_buffers_offset).
    ///
    /// # Safety
    /// The memory of the source's buffers must stay valid for as long as they are
    /// registered in **this** ring too (see [`register_buffers`](Self::register_buffers)):
    /// unregistering them from `src` does not remove them from here.
    pub unsafe fn clone_buffers(&self, src: &Ring) -> io::Result<()> {
        // SAFETY: the caller's contract.
        unsafe { self.clone_buffers_offset(src, 0, 0, 0, 0) }
    }

    /// Clones `nr` registered buffers of `src`, starting at its index `src_off`, into
    /// this ring's table at `dst_off` (`IORING_REGISTER_CLONE_BUFFERS`); `nr` 0 with
    /// both offsets 0 means all of them. `flags` may hold
    /// `IORING_REGISTER_DST_REPLACE` to replace buffers this ring already has; when
    /// `src` has no fd (`REGISTERED_FD_ONLY`), its registered index is passed with
    /// `IORING_REGISTER_SRC_REGISTERED`.
    ///
    /// Maps to liburing's `io_uring_clone_buffers_offset`.
    ///
    /// # Errors
    /// `EBUSY` if this ring has buffers and `DST_REPLACE` is not set, `ENXIO` if
    /// `src` has none, `EINVAL` for offsets without `nr` or a range beyond `src`'s
    /// table, `EOVERFLOW`, `EBADF`/`EOPNOTSUPP` for a source that is not a ring.
    ///
    /// # Safety
    /// As [`clone_buffers`](Self::clone_buffers).
    pub unsafe fn clone_buffers_offset(
        &self,
        src: &Ring,
        dst_off: u32,
        src_off: u32,
        nr: u32,
        flags: u32,
    ) -> io::Result<()> {
        let (src_fd, extra) = match src.backend.kernel().map(|k| &k.fd) {
            Some(RingFd::Owned(fd)) => (std::os::fd::AsRawFd::as_raw_fd(fd) as u32, 0),
            Some(RingFd::Registered(i)) => (*i, sys::IORING_REGISTER_SRC_REGISTERED),
            None => match &src.backend {
                // An engine ring names itself by its fd even without one for
                // the application (REGISTERED_FD_ONLY).
                crate::submit::Driver::Engine(e) => (e.ring_fd() as u32, 0),
                crate::submit::Driver::Kernel(_) => match src.fd() {
                    Some(fd) => (std::os::fd::AsRawFd::as_raw_fd(&fd) as u32, 0),
                    None => return Err(io::Error::from_raw_os_error(libc::EBADF)),
                },
            },
        };
        // SAFETY: the caller's contract.
        unsafe { self.clone_buffers_raw(src_fd, dst_off, src_off, nr, flags | extra) }
    }

    /// [`clone_buffers_offset`](Self::clone_buffers_offset) from a ring named by its fd,
    /// or, with `IORING_REGISTER_SRC_REGISTERED` in `flags`, by an index registered
    /// with [`register_ring_fd_of`](Self::register_ring_fd_of).
    ///
    /// Maps to liburing's `io_uring_clone_buffers_offset` (raw `src_fd`).
    ///
    /// # Errors
    /// As [`clone_buffers_offset`](Self::clone_buffers_offset).
    ///
    /// # Safety
    /// As [`clone_buffers`](Self::clone_buffers), for the ring `src_fd` names.
    pub unsafe fn clone_buffers_raw(
        &self,
        src_fd: u32,
        dst_off: u32,
        src_off: u32,
        nr: u32,
        flags: u32,
    ) -> io::Result<()> {
        let arg = sys::io_uring_clone_buffers {
            src_fd,
            flags,
            src_off,
            dst_off,
            nr,
            pad: [0; 3],
        };
        // SAFETY: `arg` is a valid io_uring_clone_buffers for the call; the caller
        // keeps the source buffers' memory valid while registered here.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_CLONE_BUFFERS,
                (&raw const arg).cast(),
                1,
            )
        }
        .map(drop)
    }

    /// `FILES2` / `BUFFERS2`: `nr_args` is the size of the struct.
    ///
    /// # Safety
    /// `rr` must point to what its opcode expects (`nr` fds or iovecs, and tags).
    unsafe fn rsrc_register(
        &self,
        opcode: u32,
        rr: &sys::io_uring_rsrc_register,
    ) -> io::Result<()> {
        // SAFETY: the caller's contract; `rr` lives across the call.
        unsafe {
            self.register_raw(
                opcode,
                ptr::from_ref(rr).cast(),
                size_of::<sys::io_uring_rsrc_register>() as u32,
            )
        }
        .map(drop)
    }
}

/// Registered files: `IORING_REGISTER_FILES`, `FILES2`, `FILES_UPDATE`,
/// `FILES_UPDATE2`, `UNREGISTER_FILES`, `FILE_ALLOC_RANGE`.
impl Submitter<'_> {
    /// Registers `fds` as the ring's fixed files, indexes `0..fds.len()`, to name with
    /// [`types::Fixed`](crate::types::Fixed) (`IOSQE_FIXED_FILE`), sparing a file
    /// lookup and reference per request. `-1` leaves a slot empty. The kernel holds its
    /// own reference: the fds may be closed afterwards.
    ///
    /// Maps to liburing's `io_uring_register_files`.
    ///
    /// # Errors
    /// `EBUSY` if files are already registered, `EBADF` for an invalid fd, `EMFILE`
    /// above `RLIMIT_NOFILE`, `EINVAL` for an empty slice or an io_uring fd.
    pub fn register_files(&self, fds: &[RawFd]) -> io::Result<()> {
        // SAFETY: `fds` is an array of len() fds for the call; the kernel copies it.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_FILES,
                fds.as_ptr().cast(),
                len_u32(fds.len())?,
            )
        }
        .map(drop)
    }

    /// Registers `fds` with a tag each (`IORING_REGISTER_FILES2`): when a tagged file
    /// leaves the table, a CQE arrives with `user_data` = its tag and `res` = 0.
    /// `tags` must be empty or as long as `fds`.
    ///
    /// Maps to liburing's `io_uring_register_files_tags`.
    ///
    /// # Errors
    /// As [`register_files`](Self::register_files); `InvalidInput` if the tags do not
    /// match the fds.
    pub fn register_files_tags(&self, fds: &[RawFd], tags: &[u64]) -> io::Result<()> {
        let rr = sys::io_uring_rsrc_register {
            nr: len_u32(fds.len())?,
            flags: 0,
            resv2: 0,
            data: fds.as_ptr() as u64,
            tags: check_tags(fds.len(), tags)?,
        };
        // SAFETY: `rr` points to `nr` fds and tags alive across the call; the kernel
        // copies them and takes its own file references.
        unsafe { self.rsrc_register(sys::IORING_REGISTER_FILES2, &rr) }
    }

    /// Registers a table of `nr` empty file slots (`IORING_REGISTER_FILES2` with
    /// `IORING_RSRC_REGISTER_SPARSE`), to fill by updates or by ops that install files
    /// directly (`file_index`).
    ///
    /// Maps to liburing's `io_uring_register_files_sparse`.
    ///
    /// # Errors
    /// `EBUSY` if files are already registered, `EINVAL` if `nr` is 0, `EMFILE` above
    /// `RLIMIT_NOFILE`.
    pub fn register_files_sparse(&self, nr: u32) -> io::Result<()> {
        let rr = sys::io_uring_rsrc_register {
            nr,
            flags: sys::IORING_RSRC_REGISTER_SPARSE,
            ..Default::default()
        };
        // SAFETY: a sparse registration references no user memory.
        unsafe { self.rsrc_register(sys::IORING_REGISTER_FILES2, &rr) }
    }

    /// Replaces the registered files at `offset..offset + fds.len()` with `fds`
    /// (`IORING_REGISTER_FILES_UPDATE`): `-1` clears a slot,
    /// `IORING_REGISTER_FILES_SKIP` leaves it. Returns how many slots were updated.
    ///
    /// Maps to liburing's `io_uring_register_files_update`.
    ///
    /// # Errors
    /// `ENXIO` if no file table is registered, `EINVAL` if the range exceeds it,
    /// `EBADF` for an invalid fd.
    pub fn register_files_update(&self, offset: u32, fds: &[RawFd]) -> io::Result<u32> {
        let up = sys::io_uring_files_update {
            offset,
            resv: 0,
            fds: fds.as_ptr() as u64,
        };
        // SAFETY: `up` points to len() fds alive across the call; nr_args is that count.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_FILES_UPDATE,
                (&raw const up).cast(),
                len_u32(fds.len())?,
            )
        }
    }

    /// [`register_files_update`](Self::register_files_update) with a tag for each new
    /// file (`IORING_REGISTER_FILES_UPDATE2`); the files replaced post their own tags.
    ///
    /// Maps to liburing's `io_uring_register_files_update_tag`.
    ///
    /// # Errors
    /// As [`register_files_update`](Self::register_files_update); `InvalidInput` if the
    /// tags do not match the fds.
    pub fn register_files_update_tag(
        &self,
        offset: u32,
        fds: &[RawFd],
        tags: &[u64],
    ) -> io::Result<u32> {
        let up = sys::io_uring_rsrc_update2 {
            offset,
            resv: 0,
            data: fds.as_ptr() as u64,
            tags: check_tags(fds.len(), tags)?,
            nr: len_u32(fds.len())?,
            resv2: 0,
        };
        // SAFETY: `up` points to `nr` fds and tags alive across the call; nr_args is
        // the struct's size.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_FILES_UPDATE2,
                (&raw const up).cast(),
                size_of::<sys::io_uring_rsrc_update2>() as u32,
            )
        }
    }

    /// Unregisters all fixed files (`IORING_UNREGISTER_FILES`).
    ///
    /// Maps to liburing's `io_uring_unregister_files`.
    ///
    /// # Errors
    /// `ENXIO` if none are registered.
    pub fn unregister_files(&self) -> io::Result<()> {
        // SAFETY: UNREGISTER_FILES takes no argument.
        unsafe { self.register_raw(sys::IORING_UNREGISTER_FILES, ptr::null(), 0) }.map(drop)
    }

    /// Restricts the slots the kernel picks for `IORING_FILE_INDEX_ALLOC` (an open,
    /// accept or socket that installs its file directly) to `offset..offset + len`
    /// (`IORING_REGISTER_FILE_ALLOC_RANGE`).
    ///
    /// Maps to liburing's `io_uring_register_file_alloc_range`.
    ///
    /// # Errors
    /// `EINVAL` if the range exceeds the file table (or there is none), `EOVERFLOW`.
    pub fn register_file_alloc_range(&self, offset: u32, len: u32) -> io::Result<()> {
        let range = sys::io_uring_file_index_range {
            off: offset,
            len,
            resv: 0,
        };
        // SAFETY: `range` is a valid io_uring_file_index_range for the call.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_FILE_ALLOC_RANGE,
                (&raw const range).cast(),
                0,
            )
        }
        .map(drop)
    }
}

/// Notification, credentials and restrictions: `IORING_REGISTER_EVENTFD`,
/// `EVENTFD_ASYNC`, `UNREGISTER_EVENTFD`, `PERSONALITY`, `UNREGISTER_PERSONALITY`,
/// `RESTRICTIONS`.
impl Submitter<'_> {
    /// Has the kernel signal the eventfd `fd` whenever it posts a CQE
    /// (`IORING_REGISTER_EVENTFD`); pause it with
    /// [`CompletionQueue::set_eventfd_disabled`](crate::CompletionQueue::set_eventfd_disabled).
    /// The kernel holds its own reference to the eventfd.
    ///
    /// Maps to liburing's `io_uring_register_eventfd`.
    ///
    /// # Errors
    /// `EBUSY` if an eventfd is already registered, `EBADF` for a bad fd, `EINVAL` for
    /// an fd that is not an eventfd.
    pub fn register_eventfd(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: the argument is one int, read during the call.
        unsafe { self.register_raw(sys::IORING_REGISTER_EVENTFD, (&raw const fd).cast(), 1) }
            .map(drop)
    }

    /// Like [`register_eventfd`](Self::register_eventfd), but signals only for
    /// completions that happen asynchronously, not those posted inline at submission
    /// (`IORING_REGISTER_EVENTFD_ASYNC`).
    ///
    /// Maps to liburing's `io_uring_register_eventfd_async`.
    ///
    /// # Errors
    /// As [`register_eventfd`](Self::register_eventfd).
    pub fn register_eventfd_async(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: the argument is one int, read during the call.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_EVENTFD_ASYNC,
                (&raw const fd).cast(),
                1,
            )
        }
        .map(drop)
    }

    /// Unregisters the eventfd (`IORING_UNREGISTER_EVENTFD`).
    ///
    /// Maps to liburing's `io_uring_unregister_eventfd`.
    ///
    /// # Errors
    /// `ENXIO` if none is registered.
    pub fn unregister_eventfd(&self) -> io::Result<()> {
        // SAFETY: UNREGISTER_EVENTFD takes no argument.
        unsafe { self.register_raw(sys::IORING_UNREGISTER_EVENTFD, ptr::null(), 0) }.map(drop)
    }

    /// Registers the calling thread's current credentials as a personality and returns
    /// its id, for SQEs to run with (`Sqe::personality`) (`IORING_REGISTER_PERSONALITY`).
    ///
    /// Maps to liburing's `io_uring_register_personality`.
    ///
    /// # Errors
    /// `ENOMEM`, or `EBUSY` when all 65536 ids are taken.
    pub fn register_personality(&self) -> io::Result<u16> {
        // SAFETY: REGISTER_PERSONALITY takes no argument.
        let id = unsafe { self.register_raw(sys::IORING_REGISTER_PERSONALITY, ptr::null(), 0) }?;
        u16::try_from(id).map_err(|_| io::Error::other("personality id out of range"))
    }

    /// Unregisters the personality `id` (`IORING_UNREGISTER_PERSONALITY`).
    ///
    /// Maps to liburing's `io_uring_unregister_personality`.
    ///
    /// # Errors
    /// `EINVAL` if no such personality is registered.
    pub fn unregister_personality(&self, id: u16) -> io::Result<()> {
        // SAFETY: the id travels in nr_args; no memory is passed.
        unsafe { self.register_raw(sys::IORING_UNREGISTER_PERSONALITY, ptr::null(), id.into()) }
            .map(drop)
    }

    /// Limits what a ring created [disabled](crate::Builder::disabled) may do once
    /// [enabled](Self::enable_rings): only the register opcodes, SQE opcodes and SQE
    /// flags the [`Restriction`]s allow (`IORING_REGISTER_RESTRICTIONS`). Anything else
    /// fails with `EACCES` (register calls) or completes with `-EACCES` (SQEs). Only one
    /// set may be registered.
    ///
    /// Maps to liburing's `io_uring_register_restrictions`.
    ///
    /// # Errors
    /// `EBADFD` if the ring is not disabled, `EBUSY` if restrictions are already
    /// registered, `EINVAL` for an opcode out of range or too many entries.
    pub fn register_restrictions(&self, restrictions: &[Restriction]) -> io::Result<()> {
        // SAFETY: Restriction is repr(transparent) over io_uring_restriction, so the
        // slice is the array of len() entries the kernel copies during the call.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_RESTRICTIONS,
                restrictions.as_ptr().cast(),
                len_u32(restrictions.len())?,
            )
        }
        .map(drop)
    }
}

/// The io-wq worker pool and registered ring fds: `IORING_REGISTER_IOWQ_AFF`,
/// `UNREGISTER_IOWQ_AFF`, `IOWQ_MAX_WORKERS`, `RING_FDS`, `UNREGISTER_RING_FDS`.
impl Submitter<'_> {
    /// Sets the CPU affinity of the io-wq workers serving this ring for the calling
    /// thread (with SQPOLL: of the SQ poll thread's workers) (`IORING_REGISTER_IOWQ_AFF`).
    ///
    /// Maps to liburing's `io_uring_register_iowq_aff`.
    ///
    /// The kernel reads at most its own cpumask size and ignores bits past the last
    /// possible CPU; an empty mask is accepted (6.18).
    ///
    /// # Errors
    /// `EINVAL` for a CPU outside the task's cpuset, `EFAULT`, `ENOMEM`.
    pub fn register_iowq_aff(&self, cpus: &libc::cpu_set_t) -> io::Result<()> {
        // SAFETY: `cpus` is size_of::<cpu_set_t>() readable bytes, the length given.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_IOWQ_AFF,
                ptr::from_ref(cpus).cast(),
                size_of::<libc::cpu_set_t>() as u32,
            )
        }
        .map(drop)
    }

    /// Restores the default io-wq CPU affinity (`IORING_UNREGISTER_IOWQ_AFF`).
    ///
    /// Maps to liburing's `io_uring_unregister_iowq_aff`.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn unregister_iowq_aff(&self) -> io::Result<()> {
        // SAFETY: UNREGISTER_IOWQ_AFF takes no argument.
        unsafe { self.register_raw(sys::IORING_UNREGISTER_IOWQ_AFF, ptr::null(), 0) }.map(drop)
    }

    /// Caps the io-wq workers of this ring: `bounded` for regular file and block I/O,
    /// `unbounded` for I/O that may block for ever (sockets, pipes); 0 leaves a limit
    /// unchanged (`IORING_REGISTER_IOWQ_MAX_WORKERS`). Returns the previous limits,
    /// `[bounded, unbounded]`, so `(0, 0)` reads them.
    ///
    /// Maps to liburing's `io_uring_register_iowq_max_workers`.
    ///
    /// # Errors
    /// `EINVAL` for a count above `i32::MAX`.
    pub fn register_iowq_max_workers(&self, bounded: u32, unbounded: u32) -> io::Result<[u32; 2]> {
        let mut counts = [bounded, unbounded];
        // SAFETY: `counts` is the two u32s the kernel reads and overwrites.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_IOWQ_MAX_WORKERS,
                counts.as_mut_ptr().cast::<c_void>().cast_const(),
                2,
            )
        }?;
        Ok(counts)
    }

    /// Registers the io_uring fd `ring_fd` (of this or another ring) in the calling
    /// thread's table of registered rings, and returns its index
    /// (`IORING_REGISTER_RING_FDS`). The table belongs to the thread, not to this ring:
    /// the index can stand for the ring in `io_uring_enter` and register calls
    /// (`IORING_ENTER_REGISTERED_RING`, `IORING_REGISTER_USE_REGISTERED_RING`) and in
    /// [`clone_buffers_raw`](Self::clone_buffers_raw) (`IORING_REGISTER_SRC_REGISTERED`).
    /// For the ring's own fd, prefer [`Ring::register_ring_fd`], which also switches the
    /// ring to the index.
    ///
    /// Maps to liburing's `io_uring_register_ring_fd` (for any ring fd).
    ///
    /// # Errors
    /// `EBUSY` when the 16 slots are taken, `EOPNOTSUPP` if `ring_fd` is not an
    /// io_uring fd, `EBADF`.
    pub fn register_ring_fd_of(&self, ring_fd: RawFd) -> io::Result<u32> {
        let mut up = sys::io_uring_rsrc_update {
            offset: u32::MAX,
            resv: 0,
            data: ring_fd as u64,
        };
        // SAFETY: one io_uring_rsrc_update; offset -1 asks for any free slot, which the
        // kernel writes back into `up`.
        let n =
            unsafe { self.register_raw(sys::IORING_REGISTER_RING_FDS, (&raw mut up).cast(), 1) }?;
        if n != 1 {
            return Err(io::Error::other(
                "IORING_REGISTER_RING_FDS registered no fd",
            ));
        }
        Ok(up.offset)
    }

    /// Removes the registered ring `index` from the calling thread's table
    /// (`IORING_UNREGISTER_RING_FDS`). Do not pass the index a [`Ring`] uses for
    /// itself: use [`Ring::unregister_ring_fd`].
    ///
    /// Maps to liburing's `io_uring_unregister_ring_fd` (for any index).
    ///
    /// # Errors
    /// `EINVAL` for an index out of range.
    pub fn unregister_ring_fd_index(&self, index: u32) -> io::Result<()> {
        let up = sys::io_uring_rsrc_update {
            offset: index,
            resv: 0,
            data: 0,
        };
        // SAFETY: one io_uring_rsrc_update naming the slot.
        unsafe { self.register_raw(sys::IORING_UNREGISTER_RING_FDS, (&raw const up).cast(), 1) }
            .map(drop)
    }
}

/// Provided-buffer rings: `IORING_REGISTER_PBUF_RING`, `UNREGISTER_PBUF_RING`,
/// `PBUF_STATUS`. The safe owner of a buffer ring is [`BufRing`](crate::buf_ring::BufRing).
impl Submitter<'_> {
    /// Registers a provided-buffer ring for the buffer group `reg.bgid`
    /// (`IORING_REGISTER_PBUF_RING`): reads and receives with `IOSQE_BUFFER_SELECT`
    /// and that group take their buffer from the ring. With `IOU_PBUF_RING_MMAP` the
    /// kernel allocates the ring (`ring_addr` 0), to be mapped at
    /// `IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT`; with
    /// `IOU_PBUF_RING_INC` buffers are consumed a piece at a time
    /// (`IORING_CQE_F_BUF_MORE`).
    ///
    /// Maps to liburing's `io_uring_register_buf_ring`.
    ///
    /// # Errors
    /// `EEXIST` if the group exists, `EINVAL` for entries not a power of two below
    /// 65536, an unaligned ring or unknown flags, `EFAULT`, `ENOMEM`.
    ///
    /// # Safety
    /// Unless `IOU_PBUF_RING_MMAP` is set, `reg.ring_addr` must point to page-aligned
    /// memory of `ring_entries` × 16 bytes, valid for reads and writes for as long as
    /// the group is registered. Every buffer the application publishes in the ring
    /// must be valid for writes of its length until the kernel hands it back in a CQE
    /// or the group is unregistered.
    pub unsafe fn register_buf_ring(&self, reg: &sys::io_uring_buf_reg) -> io::Result<()> {
        // SAFETY: `reg` is a valid io_uring_buf_reg for the call; the caller's
        // contract covers the memory it names.
        unsafe { self.register_raw(sys::IORING_REGISTER_PBUF_RING, ptr::from_ref(reg).cast(), 1) }
            .map(drop)
    }

    /// Unregisters the provided-buffer ring of group `bgid`
    /// (`IORING_UNREGISTER_PBUF_RING`). Requests that already picked a buffer still
    /// complete into it.
    ///
    /// Maps to liburing's `io_uring_unregister_buf_ring`.
    ///
    /// # Errors
    /// `ENOENT` if the group has no ring, `EINVAL` if it holds classic provided buffers.
    pub fn unregister_buf_ring(&self, bgid: u16) -> io::Result<()> {
        let reg = sys::io_uring_buf_reg {
            bgid,
            ..Default::default()
        };
        // SAFETY: `reg` is a valid io_uring_buf_reg naming only the group.
        unsafe { self.register_raw(sys::IORING_UNREGISTER_PBUF_RING, (&raw const reg).cast(), 1) }
            .map(drop)
    }

    /// The kernel's head of the buffer ring of group `bgid`: the index of the next
    /// entry it will consume (`IORING_REGISTER_PBUF_STATUS`). The head is private to
    /// the kernel; this is the only way to read it.
    ///
    /// Maps to liburing's `io_uring_buf_ring_head`.
    ///
    /// # Errors
    /// `ENOENT` if the group has no ring, `EINVAL` if it is not a ring.
    pub fn buf_ring_head(&self, bgid: u16) -> io::Result<u16> {
        let mut status = sys::io_uring_buf_status {
            buf_group: bgid.into(),
            ..Default::default()
        };
        // SAFETY: `status` is a valid io_uring_buf_status the kernel fills in.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_PBUF_STATUS,
                (&raw mut status).cast(),
                1,
            )
        }?;
        Ok(status.head as u16)
    }
}

/// Cancellation, busy polling, clock: `IORING_REGISTER_SYNC_CANCEL`, `NAPI`,
/// `UNREGISTER_NAPI`, `CLOCK`.
impl Submitter<'_> {
    /// Cancels the requests `cancel` matches and waits until they have completed
    /// (`IORING_REGISTER_SYNC_CANCEL`): their CQEs (`-ECANCELED`, or their result if
    /// they finished first) are in the CQ, or on the way, when it returns. Returns
    /// what the kernel returns: the number cancelled with `ALL` or `ANY`, else 0.
    ///
    /// Maps to liburing's `io_uring_register_sync_cancel`.
    ///
    /// # Errors
    /// `ENOENT` if nothing matched, `EALREADY` if a match is running and cannot be
    /// interrupted, `ETIME` when the timeout passes, `EINVAL` for a bad combination of
    /// keys, `EBADF`, `EINTR`.
    pub fn register_sync_cancel(&self, cancel: &SyncCancel) -> io::Result<u32> {
        // SAFETY: `cancel.0` is a valid io_uring_sync_cancel_reg for the call.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_SYNC_CANCEL,
                (&raw const cancel.0).cast(),
                1,
            )
        }
    }

    /// Turns on NAPI busy polling for the ring's sockets (`IORING_REGISTER_NAPI`,
    /// `IO_URING_NAPI_REGISTER_OP`): waits spin for up to `busy_poll_usec` (the kernel
    /// caps it at 10 ms) on the NAPI ids that `tracking` chooses
    /// (`IO_URING_NAPI_TRACKING_DYNAMIC`: those of the sockets used;
    /// `IO_URING_NAPI_TRACKING_STATIC`: those added with
    /// [`register_napi_add_id`](Self::register_napi_add_id)). Returns the previous
    /// settings.
    ///
    /// Maps to liburing's `io_uring_register_napi`.
    ///
    /// # Errors
    /// `EINVAL` on an `IOPOLL` ring or for an unknown strategy.
    pub fn register_napi(
        &self,
        busy_poll_usec: u32,
        prefer_busy_poll: bool,
        tracking: u32,
    ) -> io::Result<NapiSettings> {
        let mut napi = sys::io_uring_napi {
            busy_poll_to: busy_poll_usec,
            prefer_busy_poll: prefer_busy_poll.into(),
            opcode: sys::IO_URING_NAPI_REGISTER_OP,
            op_param: tracking,
            ..Default::default()
        };
        self.napi(&mut napi)?;
        Ok(napi.into())
    }

    /// Adds the NAPI id `napi_id` to the statically tracked ones
    /// (`IO_URING_NAPI_STATIC_ADD_ID`); the ring must use
    /// `IO_URING_NAPI_TRACKING_STATIC`.
    ///
    /// Maps to liburing's `io_uring_register_napi` with `IO_URING_NAPI_STATIC_ADD_ID`.
    ///
    /// # Errors
    /// `EINVAL` without static tracking or for an invalid id, `EEXIST` if tracked.
    pub fn register_napi_add_id(&self, napi_id: u32) -> io::Result<()> {
        let mut napi = sys::io_uring_napi {
            opcode: sys::IO_URING_NAPI_STATIC_ADD_ID,
            op_param: napi_id,
            ..Default::default()
        };
        self.napi(&mut napi)
    }

    /// Removes the NAPI id `napi_id` from the statically tracked ones
    /// (`IO_URING_NAPI_STATIC_DEL_ID`).
    ///
    /// Maps to liburing's `io_uring_register_napi` with `IO_URING_NAPI_STATIC_DEL_ID`.
    ///
    /// # Errors
    /// `EINVAL` without static tracking, `ENOENT` if not tracked.
    pub fn register_napi_del_id(&self, napi_id: u32) -> io::Result<()> {
        let mut napi = sys::io_uring_napi {
            opcode: sys::IO_URING_NAPI_STATIC_DEL_ID,
            op_param: napi_id,
            ..Default::default()
        };
        self.napi(&mut napi)
    }

    fn napi(&self, napi: &mut sys::io_uring_napi) -> io::Result<()> {
        // SAFETY: `napi` is a valid io_uring_napi; the kernel writes the previous
        // settings back into it.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_NAPI,
                ptr::from_mut(napi).cast::<c_void>().cast_const(),
                1,
            )
        }
        .map(drop)
    }

    /// Turns NAPI busy polling off (`IORING_UNREGISTER_NAPI`) and returns the settings
    /// it had (the kernel does not report the strategy here: `tracking` is 0).
    ///
    /// Maps to liburing's `io_uring_unregister_napi`.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn unregister_napi(&self) -> io::Result<NapiSettings> {
        let mut napi = sys::io_uring_napi::default();
        // SAFETY: `napi` is a valid io_uring_napi the kernel fills in.
        unsafe {
            self.register_raw(
                sys::IORING_UNREGISTER_NAPI,
                (&raw mut napi).cast::<c_void>().cast_const(),
                1,
            )
        }?;
        Ok(napi.into())
    }

    /// Sets the clock of the ring's waits and absolute wait timeouts
    /// (`IORING_REGISTER_CLOCK`): `libc::CLOCK_MONOTONIC` (the default) or
    /// `libc::CLOCK_BOOTTIME`.
    ///
    /// Maps to liburing's `io_uring_register_clock`.
    ///
    /// # Errors
    /// `EINVAL` for another clock.
    pub fn register_clock(&self, clockid: libc::clockid_t) -> io::Result<()> {
        let reg = sys::io_uring_clock_register {
            clockid: clockid as u32,
            __resv: [0; 3],
        };
        // SAFETY: `reg` is a valid io_uring_clock_register for the call.
        unsafe { self.register_raw(sys::IORING_REGISTER_CLOCK, (&raw const reg).cast(), 0) }
            .map(drop)
    }
}

/// Ring memory: `IORING_REGISTER_RESIZE_RINGS`, `MEM_REGION`, `ZCRX_IFQ`.
impl Submitter<'_> {
    /// Resizes the SQ and CQ (`IORING_REGISTER_RESIZE_RINGS`): the kernel allocates new
    /// rings of `params.sq_entries` / `params.cq_entries` (with `IORING_SETUP_CQSIZE`;
    /// `IORING_SETUP_CLAMP` allowed), copies the pending SQEs and CQEs over, frees the
    /// old rings, and writes the new sizes and offsets back into `params`. Only rings
    /// with `DEFER_TASKRUN` may be resized.
    ///
    /// Maps to liburing's `io_uring_resize_rings` (which also remaps the rings).
    ///
    /// # Errors
    /// `EINVAL` without `DEFER_TASKRUN`, for other setup flags or bad sizes;
    /// `EOVERFLOW` if the pending entries do not fit the new rings; `ENOMEM`; `EFAULT`.
    ///
    /// # Safety
    /// On success the ring's SQ/CQ memory is replaced: every view this crate's
    /// [`Ring`] holds (its mappings, and with `NO_MMAP` the memory it provided) then
    /// points to freed or stale rings. The caller must not push, submit, wait or reap
    /// through the `Ring` afterwards (dropping it is fine: it only unmaps). With
    /// `NO_MMAP` the ring is replaced by the memory at `params.sq_off.user_addr` /
    /// `params.cq_off.user_addr`, which must be valid, page-aligned and large enough
    /// for the new rings, and outlive the ring.
    pub unsafe fn register_resize_rings_raw(
        &self,
        params: &mut sys::io_uring_params,
    ) -> io::Result<()> {
        // SAFETY: `params` is a valid io_uring_params the kernel reads and writes back;
        // the caller accepts that the Ring's views go stale and provides NO_MMAP memory.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_RESIZE_RINGS,
                ptr::from_mut(params).cast::<c_void>().cast_const(),
                1,
            )
        }
        .map(drop)
    }

    /// Registers a memory region shared with the kernel (`IORING_REGISTER_MEM_REGION`):
    /// user memory (`IORING_MEM_REGION_TYPE_USER` and `user_addr`), or kernel memory to
    /// map at the `mmap_offset` the kernel writes back into the descriptor. With
    /// `IORING_MEM_REGION_REG_WAIT_ARG`, on a ring still
    /// [disabled](crate::Builder::disabled), it holds `struct io_uring_reg_wait` slots
    /// that `io_uring_enter` with `IORING_ENTER_EXT_ARG_REG` names by offset. One region
    /// per ring; it lasts as long as the ring.
    ///
    /// Maps to liburing's `io_uring_register_region`.
    ///
    /// # Errors
    /// `EBUSY` if a region is registered, `EINVAL` for unknown flags, reserved fields
    /// set, `REG_WAIT_ARG` on an enabled ring or a bad size, `EFAULT`, `ENOMEM`.
    ///
    /// # Safety
    /// `reg.region_uptr` must point to a valid, writable `io_uring_region_desc`. With
    /// `IORING_MEM_REGION_TYPE_USER`, `user_addr` must point to page-aligned memory of
    /// `size` bytes, valid for reads and writes until the ring is closed.
    pub unsafe fn register_region(&self, reg: &sys::io_uring_mem_region_reg) -> io::Result<()> {
        // SAFETY: `reg` is a valid io_uring_mem_region_reg for the call; the caller's
        // contract covers the descriptor and memory it points to.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_MEM_REGION,
                ptr::from_ref(reg).cast(),
                1,
            )
        }
        .map(drop)
    }

    /// Sets up zero-copy receive from a NIC hardware queue into an area of memory
    /// (`IORING_REGISTER_ZCRX_IFQ`), for `IORING_OP_RECV_ZC`. The kernel fills in the
    /// refill queue's offsets, the area token and the instance id in `reg`. Needs
    /// `CAP_NET_ADMIN`, a ring with `DEFER_TASKRUN` and 32-byte CQEs (`CQE32` or
    /// `CQE_MIXED`), and a NIC whose driver supports header split and memory providers.
    ///
    /// Maps to liburing's `io_uring_register_ifq`.
    ///
    /// # Errors
    /// `EPERM` without `CAP_NET_ADMIN`, `EINVAL` for a ring without the required flags
    /// or bad fields, `ENODEV` for an unknown interface, `EOPNOTSUPP` when the device
    /// or queue cannot do it, `EEXIST`, `ENOMEM`, `EFAULT`.
    ///
    /// # Safety
    /// `reg.area_ptr` and `reg.region_ptr` must point to a valid
    /// `io_uring_zcrx_area_reg` and `io_uring_region_desc`; the area's memory (and a
    /// user-memory refill region) must be valid for reads and writes until the ring is
    /// closed, since the NIC writes packets into it.
    pub unsafe fn register_ifq(&self, reg: &mut sys::io_uring_zcrx_ifq_reg) -> io::Result<()> {
        // SAFETY: `reg` is a valid io_uring_zcrx_ifq_reg the kernel reads and writes;
        // the caller's contract covers the memory it points to.
        unsafe {
            self.register_raw(
                sys::IORING_REGISTER_ZCRX_IFQ,
                ptr::from_mut(reg).cast::<c_void>().cast_const(),
                1,
            )
        }
        .map(drop)
    }
}

/// The blind opcodes, which need no ring: `IORING_REGISTER_SEND_MSG_RING`,
/// `IORING_REGISTER_QUERY`.
impl Submitter<'_> {
    /// Posts a CQE to another ring without a ring of one's own
    /// (`IORING_REGISTER_SEND_MSG_RING`, fd -1): `sqe` is an `IORING_OP_MSG_RING` SQE
    /// with `IORING_MSG_DATA` in `addr`, the target ring's fd in `fd`, the CQE's `res`
    /// in `len` and `user_data` in `off` (and with `IORING_MSG_RING_FLAGS_PASS`, its
    /// flags in `file_index`). No `IOSQE_*` flags. The target ring must have a real fd.
    ///
    /// Maps to liburing's `io_uring_register_sync_msg`.
    ///
    /// # Errors
    /// `EINVAL` for another opcode, command or any SQE flag, `EBADF` for a bad fd,
    /// `EBADFD` for an fd that is not a ring, `EOVERFLOW` if the target's CQ is full and
    /// cannot take it.
    ///
    /// A target on the engine backend (its [`fd`](crate::Ring::fd)) gets
    /// the message from the engine; so does any target when the kernel refuses
    /// io_uring (`ENOSYS`, `EPERM`), with the kernel's codes.
    pub fn register_sync_msg(sqe: &Sqe) -> io::Result<()> {
        let arg = ptr::from_ref(sqe.as_raw()).cast();
        let engine = || {
            // SAFETY: as below: 64 readable bytes, no pointer dereferenced.
            unsafe { uring_engine::register_blind(sys::IORING_REGISTER_SEND_MSG_RING, arg, 1) }
                .map(drop)
        };
        if uring_engine::is_engine_ring(sqe.as_raw().fd) {
            return engine();
        }
        // SAFETY: the SQE is 64 readable bytes; an IORING_MSG_DATA message dereferences
        // no pointer from it, and the kernel validates the target fd.
        let r = unsafe {
            sys::syscall::io_uring_register(-1, sys::IORING_REGISTER_SEND_MSG_RING, arg, 1)
        };
        match r {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => engine(),
            r => r.map(drop),
        }
    }

    /// What the kernel supports, without a ring (`IORING_REGISTER_QUERY`,
    /// `IO_URING_QUERY_OPCODES`, fd -1): the number of SQE and register opcodes, and
    /// the masks of feature, setup, enter and SQE flags.
    ///
    /// Maps to `io_uring_register(-1, IORING_REGISTER_QUERY, hdr, 0)`; liburing (to
    /// 2.14) has no wrapper.
    ///
    /// # Errors
    /// `EINVAL` before 6.18 (unknown register opcode); the query's own result if
    /// negative (`EOPNOTSUPP` for an unknown query op).
    pub fn query_opcodes() -> io::Result<sys::io_uring_query_opcode> {
        let mut out = sys::io_uring_query_opcode::default();
        let mut hdr = sys::io_uring_query_hdr::new(sys::IO_URING_QUERY_OPCODES, &mut out);
        // SAFETY: a one-entry chain (next_entry 0) whose buffer is `out`, of the size
        // given; both live across the call.
        unsafe { Self::query_raw(&mut hdr) }?;
        if hdr.result < 0 {
            return Err(io::Error::from_raw_os_error(-hdr.result));
        }
        Ok(out)
    }

    /// Runs a chain of queries (`IORING_REGISTER_QUERY`, fd -1); each header's
    /// `result` says how its own query went.
    ///
    /// Maps to `io_uring_register(-1, IORING_REGISTER_QUERY, hdr, 0)`; liburing (to
    /// 2.14) has no wrapper.
    ///
    /// # Errors
    /// `EINVAL` before 6.18, `EFAULT`, `ERANGE` for a chain of 1000 entries or more.
    ///
    /// # Safety
    /// `hdr` must start a chain of valid headers linked by `next_entry` (0 ends it),
    /// each with `query_data` pointing to `size` writable bytes.
    pub unsafe fn query_raw(hdr: &mut sys::io_uring_query_hdr) -> io::Result<()> {
        // SAFETY: the caller's contract.
        unsafe {
            sys::syscall::io_uring_register(
                -1,
                sys::IORING_REGISTER_QUERY,
                ptr::from_mut(hdr).cast::<c_void>().cast_const(),
                0,
            )
        }
        .map(drop)
    }
}
