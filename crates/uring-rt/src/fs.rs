//! Files and paths on the ring: `OPENAT`/`OPENAT2`, `READ`/`WRITE` (vectored and with
//! registered buffers too), `FSYNC`, `SYNC_FILE_RANGE`, `FALLOCATE`, `FTRUNCATE`,
//! `STATX`, `CLOSE`, and the path operations `MKDIRAT`, `UNLINKAT`, `RENAMEAT`,
//! `SYMLINKAT`, `LINKAT`.
//!
//! Each I/O method returns an [`Op`] that owns its buffer and gives it back; see
//! [`crate::op`] for what dropping or cancelling one does. Bad input gives an error,
//! never a panic: an offset past `i64::MAX` or a length that does not fit the
//! kernel's field is `InvalidInput` before anything is submitted; a path with a NUL
//! byte likewise; a bad descriptor is the kernel's `EBADF`.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! uring_rt::block_on(async {
//!     let file = uring_rt::fs::File::create("/tmp/hello").await?;
//!     let (res, _buf) = file.write_all_at(b"hello".to_vec(), 0).await;
//!     res?;
//!     file.sync_all().await?;
//!     file.close().await
//! })
//! # }
//! ```
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use uring::types::{Fd, OpenHow};
use uring::{Sqe, opcode, sys};

use crate::buf::{BufResult, IoBuf, IoBufMut, Slice};
use crate::driver::{OpData, unit_op};
use crate::op::{Op, SharedFd};

/// The largest length one request carries (the kernel caps a transfer at
/// `MAX_RW_COUNT`, a little under 2 GiB, anyway): longer buffers transfer short.
const MAX_LEN: usize = u32::MAX as usize;

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// An offset or length as the kernel's signed 64-bit `loff_t`.
fn check_off(v: u64) -> io::Result<u64> {
    if v > i64::MAX as u64 {
        Err(invalid("offset or length past i64::MAX"))
    } else {
        Ok(v)
    }
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| invalid("path contains a NUL byte"))
}

/// An open file (or any descriptor: a pipe, a device) whose I/O goes through the ring.
///
/// Dropped, it closes its descriptor once the ops that use it have finished; awaiting
/// [`close`](File::close) closes it through the ring and reports the error.
pub struct File {
    inner: Rc<SharedFd>,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("fd", &self.inner.fd).finish()
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File {
            inner: SharedFd::new(fd),
        }
    }
}

impl From<std::fs::File> for File {
    fn from(f: std::fs::File) -> File {
        File::from(OwnedFd::from(f))
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open while `self` (which holds the Rc) lives.
        unsafe { BorrowedFd::borrow_raw(self.inner.fd) }
    }
}

impl File {
    /// Opens `path` read-only (`OPENAT` with `O_RDONLY | O_CLOEXEC`).
    ///
    /// # Errors
    /// The kernel's (`ENOENT`, `EACCES`, …); `InvalidInput` for a path with a NUL.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Creates `path` (or truncates it) write-only, as `std::fs::File::create`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// An [`OpenOptions`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Reads into `buf` at offset `pos` (`IORING_OP_READ`, as pread(2)): up to
    /// `buf.bytes_total()` bytes, from the start of `buf`. Returns the count (0 at end
    /// of file, or for an empty buffer) and the buffer, its initialised length
    /// extended to cover what was read.
    ///
    /// # Errors
    /// `InvalidInput` for `pos` past `i64::MAX`; the kernel's errno.
    pub fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> Op<ReadAt<B>> {
        Op::checked(
            check_off(pos),
            ReadAt {
                file: self.inner.clone(),
                buf,
                pos,
            },
        )
    }

    /// Reads into `buf` at the file position (offset -1), for pipes, sockets and
    /// other streams, as read(2).
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn read<B: IoBufMut>(&self, buf: B) -> Op<ReadAt<B>> {
        Op::new(ReadAt {
            file: self.inner.clone(),
            buf,
            pos: u64::MAX,
        })
    }

    /// Writes `buf`'s initialised bytes at offset `pos` (`IORING_OP_WRITE`, as
    /// pwrite(2)). Returns the count written (maybe short) and the buffer.
    ///
    /// # Errors
    /// `InvalidInput` for `pos` past `i64::MAX`; the kernel's errno.
    pub fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> Op<WriteAt<B>> {
        Op::checked(
            check_off(pos),
            WriteAt {
                file: self.inner.clone(),
                buf,
                pos,
            },
        )
    }

    /// Writes `buf`'s initialised bytes at the file position (offset -1), as write(2).
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn write<B: IoBuf>(&self, buf: B) -> Op<WriteAt<B>> {
        Op::new(WriteAt {
            file: self.inner.clone(),
            buf,
            pos: u64::MAX,
        })
    }

    /// Fills `buf` (all of `bytes_total()`) from offset `pos`, reading again after
    /// short reads.
    ///
    /// # Errors
    /// `UnexpectedEof` if the file ends first (the bytes read so far are in the
    /// buffer); otherwise as [`read_at`](Self::read_at).
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let want = buf.bytes_total();
        let eof = (
            io::ErrorKind::UnexpectedEof,
            "end of file before the buffer was filled",
        );
        all_at(buf, pos, want, eof, |b, at| self.read_at(b, at)).await
    }

    /// Writes all of `buf`'s initialised bytes from offset `pos`, writing again after
    /// short writes.
    ///
    /// # Errors
    /// `WriteZero` if the kernel writes nothing; otherwise as
    /// [`write_at`](Self::write_at).
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let want = buf.bytes_init();
        let zero = (io::ErrorKind::WriteZero, "the write wrote 0 bytes");
        all_at(buf, pos, want, zero, |b, at| self.write_at(b, at)).await
    }

    /// Reads into several buffers at offset `pos` (`IORING_OP_READV`, as preadv(2)),
    /// filling each in turn. Returns the total count and the buffers.
    ///
    /// # Errors
    /// `InvalidInput` for no buffers or more than `IOV_MAX` (1024), or `pos` past
    /// `i64::MAX`; the kernel's errno.
    pub fn readv_at<B: IoBufMut>(&self, bufs: Vec<B>, pos: u64) -> Op<ReadvAt<B>> {
        let check = crate::buf::check_vectored(bufs.len()).and(check_off(pos));
        Op::checked(
            check,
            ReadvAt {
                file: self.inner.clone(),
                iovecs: Vec::with_capacity(bufs.len()),
                bufs,
                pos,
            },
        )
    }

    /// Writes the initialised bytes of several buffers at offset `pos`
    /// (`IORING_OP_WRITEV`, as pwritev(2)). Returns the total count and the buffers.
    ///
    /// # Errors
    /// As [`readv_at`](Self::readv_at).
    pub fn writev_at<B: IoBuf>(&self, bufs: Vec<B>, pos: u64) -> Op<WritevAt<B>> {
        let check = crate::buf::check_vectored(bufs.len()).and(check_off(pos));
        Op::checked(
            check,
            WritevAt {
                file: self.inner.clone(),
                iovecs: Vec::with_capacity(bufs.len()),
                bufs,
                pos,
            },
        )
    }

    /// Flushes data and metadata to the device (`IORING_OP_FSYNC`, as fsync(2)).
    ///
    /// # Errors
    /// The kernel's errno (`EIO`, `ENOSPC`, …).
    pub fn sync_all(&self) -> Op<Fsync> {
        Op::new(Fsync {
            file: self.inner.clone(),
            flags: 0,
        })
    }

    /// Flushes data, and only the metadata needed to read it back
    /// (`IORING_FSYNC_DATASYNC`, as fdatasync(2)).
    ///
    /// # Errors
    /// As [`sync_all`](Self::sync_all).
    pub fn sync_data(&self) -> Op<Fsync> {
        Op::new(Fsync {
            file: self.inner.clone(),
            flags: sys::IORING_FSYNC_DATASYNC,
        })
    }

    /// Starts or waits for write-back of a range (`IORING_OP_SYNC_FILE_RANGE`, as
    /// sync_file_range(2); `flags` are its `SYNC_FILE_RANGE_*`; `len` 0: to the end).
    ///
    /// # Errors
    /// `InvalidInput` for `offset` past `i64::MAX` or `len` above `u32::MAX` (the
    /// SQE's field); the kernel's errno.
    pub fn sync_range(&self, offset: u64, len: u64, flags: u32) -> Op<SyncRange> {
        let check = check_off(offset).and_then(|_| {
            u32::try_from(len).map_err(|_| invalid("sync_range length above u32::MAX"))
        });
        Op::checked(
            check,
            SyncRange {
                file: self.inner.clone(),
                offset,
                len: len as u32,
                flags,
            },
        )
    }

    /// Allocates or deallocates space (`IORING_OP_FALLOCATE`, as fallocate(2); `mode`
    /// holds its `FALLOC_FL_*`, 0 to allocate and extend).
    ///
    /// # Errors
    /// `InvalidInput` for an offset or length past `i64::MAX` (or their sum); the
    /// kernel's errno (`EOPNOTSUPP` for a mode the file system lacks).
    pub fn fallocate(&self, offset: u64, len: u64, mode: i32) -> Op<Fallocate> {
        let check = check_off(offset)
            .and(check_off(len))
            .and_then(|_| check_off(offset.saturating_add(len)));
        Op::checked(
            check,
            Fallocate {
                file: self.inner.clone(),
                offset,
                len,
                mode,
            },
        )
    }

    /// Truncates or extends the file to `size` bytes (`IORING_OP_FTRUNCATE`, as
    /// ftruncate(2); Linux 6.9).
    ///
    /// # Errors
    /// `InvalidInput` for `size` past `i64::MAX`; the kernel's errno (`EINVAL` before
    /// 6.9, or for a file not open for writing).
    pub fn set_len(&self, size: u64) -> Op<SetLen> {
        Op::checked(
            check_off(size),
            SetLen {
                file: self.inner.clone(),
                size,
            },
        )
    }

    /// The file's metadata (`IORING_OP_STATX` on the descriptor, `AT_EMPTY_PATH`).
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn metadata(&self) -> Op<Statx> {
        Op::new(Statx {
            file: Some(self.inner.clone()),
            path: CString::default(),
            flags: libc::AT_EMPTY_PATH,
            buf: zeroed_statx(),
        })
    }

    /// Closes the file through the ring (`IORING_OP_CLOSE`) and reports the error. If
    /// an op still uses the descriptor (its future was dropped while in flight), it is
    /// closed when that op ends instead, and this returns `Ok`.
    ///
    /// # Errors
    /// The kernel's errno for the close (`EIO` from some file systems).
    pub async fn close(self) -> io::Result<()> {
        match SharedFd::try_take(self.inner) {
            Ok(fd) => {
                Op::new(Close {
                    fd: fd.into_raw_fd(),
                })
                .await
            }
            Err(_) => Ok(()),
        }
    }

    /// Reads into a registered buffer at offset `pos` (`IORING_OP_READ_FIXED`): the
    /// kernel skips pinning the pages of each request. The same as
    /// [`read_at`](Self::read_at) with a [`FixedBuf`](crate::FixedBuf), which reads
    /// with `READ_FIXED` too.
    ///
    /// # Errors
    /// As [`read_at`](Self::read_at); `EFAULT` if the buffer's registration is gone.
    pub fn read_fixed_at(&self, buf: crate::FixedBuf, pos: u64) -> Op<ReadFixedAt> {
        self.read_at(buf, pos)
    }

    /// Writes a registered buffer's initialised bytes at offset `pos`
    /// (`IORING_OP_WRITE_FIXED`); the same as [`write_at`](Self::write_at) with a
    /// [`FixedBuf`](crate::FixedBuf).
    ///
    /// # Errors
    /// As [`write_at`](Self::write_at); `EFAULT` if the buffer's registration is gone.
    pub fn write_fixed_at(&self, buf: crate::FixedBuf, pos: u64) -> Op<WriteFixedAt> {
        self.write_at(buf, pos)
    }
}

/// The loop of [`File::read_exact_at`] and [`File::write_all_at`]: `op` transfers the
/// part of `buf` from `done` to `want` at offset `pos + done`, again until `want` bytes
/// have moved; a transfer of 0 bytes is the error `zero`, an interrupted one is retried.
async fn all_at<B: IoBuf, F>(
    mut buf: B,
    pos: u64,
    want: usize,
    zero: (io::ErrorKind, &'static str),
    op: impl Fn(Slice<B>, u64) -> F,
) -> BufResult<(), B>
where
    F: std::future::Future<Output = BufResult<usize, Slice<B>>>,
{
    let mut done = 0;
    while done < want {
        let Some(at) = pos.checked_add(done as u64) else {
            return (Err(invalid("offset past u64::MAX")), buf);
        };
        let (res, slice) = op(buf.slice(done..want), at).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => return (Err(io::Error::new(zero.0, zero.1)), buf),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

/// The data of [`File::read_at`] and [`File::read`].
#[derive(Debug)]
pub struct ReadAt<B> {
    file: Rc<SharedFd>,
    buf: B,
    pos: u64,
}

impl<B: IoBufMut> OpData for ReadAt<B> {
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> Sqe {
        let len = self.buf.bytes_total().min(MAX_LEN) as u32;
        let (fd, ptr) = (Fd(self.file.fd), self.buf.stable_mut_ptr());
        match self.buf.fixed_index() {
            Some(index) => opcode::ReadFixed::new(fd, ptr, len, index)
                .offset(self.pos)
                .build(),
            None => opcode::Read::new(fd, ptr, len).offset(self.pos).build(),
        }
    }

    fn complete(mut self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        let result = result.map(|n| {
            // SAFETY: the kernel wrote `n <= len <= bytes_total` bytes from the start.
            unsafe { self.buf.set_init(n as usize) };
            n as usize
        });
        (result, self.buf)
    }
}

/// The data of [`File::write_at`] and [`File::write`].
#[derive(Debug)]
pub struct WriteAt<B> {
    file: Rc<SharedFd>,
    buf: B,
    pos: u64,
}

impl<B: IoBuf> OpData for WriteAt<B> {
    type Output = BufResult<usize, B>;

    fn sqe(&mut self) -> Sqe {
        let len = self.buf.bytes_init().min(MAX_LEN) as u32;
        let (fd, ptr) = (Fd(self.file.fd), self.buf.stable_ptr());
        match self.buf.fixed_index() {
            Some(index) => opcode::WriteFixed::new(fd, ptr, len, index)
                .offset(self.pos)
                .build(),
            None => opcode::Write::new(fd, ptr, len).offset(self.pos).build(),
        }
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        (result.map(|n| n as usize), self.buf)
    }
}

/// The data of [`File::readv_at`].
#[derive(Debug)]
pub struct ReadvAt<B> {
    file: Rc<SharedFd>,
    bufs: Vec<B>,
    iovecs: Vec<libc::iovec>,
    pos: u64,
}

impl<B: IoBufMut> OpData for ReadvAt<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn sqe(&mut self) -> Sqe {
        crate::buf::iovecs_to_fill(&mut self.bufs, &mut self.iovecs);
        opcode::Readv::new(
            Fd(self.file.fd),
            self.iovecs.as_ptr(),
            self.iovecs.len() as u32,
        )
        .offset(self.pos)
        .build()
    }

    fn complete(mut self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        let result = result.map(|n| {
            crate::buf::set_init_vectored(&mut self.bufs, n as usize);
            n as usize
        });
        (result, self.bufs)
    }
}

/// The data of [`File::writev_at`].
#[derive(Debug)]
pub struct WritevAt<B> {
    file: Rc<SharedFd>,
    bufs: Vec<B>,
    iovecs: Vec<libc::iovec>,
    pos: u64,
}

impl<B: IoBuf> OpData for WritevAt<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn sqe(&mut self) -> Sqe {
        crate::buf::iovecs_to_send(&self.bufs, &mut self.iovecs);
        opcode::Writev::new(
            Fd(self.file.fd),
            self.iovecs.as_ptr(),
            self.iovecs.len() as u32,
        )
        .offset(self.pos)
        .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        (result.map(|n| n as usize), self.bufs)
    }
}

/// The data of [`File::read_fixed_at`].
pub type ReadFixedAt = ReadAt<crate::FixedBuf>;

/// The data of [`File::write_fixed_at`].
pub type WriteFixedAt = WriteAt<crate::FixedBuf>;

unit_op! {
    /// The data of [`File::sync_all`] and [`File::sync_data`].
    Fsync { file: Rc<SharedFd>, flags: u32 }
    |d| opcode::Fsync::new(Fd(d.file.fd)).flags(d.flags).build()
}

unit_op! {
    /// The data of [`File::sync_range`].
    SyncRange { file: Rc<SharedFd>, offset: u64, len: u32, flags: u32 }
    |d| opcode::SyncFileRange::new(Fd(d.file.fd), d.len)
        .offset(d.offset)
        .flags(d.flags)
        .build()
}

unit_op! {
    /// The data of [`File::fallocate`].
    Fallocate { file: Rc<SharedFd>, offset: u64, len: u64, mode: i32 }
    |d| opcode::Fallocate::new(Fd(d.file.fd), d.len)
        .offset(d.offset)
        .mode(d.mode)
        .build()
}

unit_op! {
    /// The data of [`File::set_len`].
    SetLen { file: Rc<SharedFd>, size: u64 }
    |d| opcode::Ftruncate::new(Fd(d.file.fd), d.size).build()
}

unit_op! {
    /// The data of a `CLOSE`.
    Close { fd: RawFd }
    |d| opcode::Close::new(Fd(d.fd)).build()
}

fn zeroed_statx() -> libc::statx {
    // SAFETY: statx is plain data; all zeros is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The data of [`File::metadata`] and [`metadata`].
pub struct Statx {
    file: Option<Rc<SharedFd>>,
    path: CString,
    flags: i32,
    buf: libc::statx,
}

impl fmt::Debug for Statx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statx")
            .field("file", &self.file)
            .field("path", &self.path)
            .finish()
    }
}

impl OpData for Statx {
    type Output = io::Result<Metadata>;

    fn sqe(&mut self) -> Sqe {
        let dirfd = self.file.as_ref().map_or(libc::AT_FDCWD, |f| f.fd);
        opcode::Statx::new(dirfd, self.path.as_ptr(), &raw mut self.buf)
            .flags(self.flags)
            .mask(libc::STATX_BASIC_STATS | libc::STATX_BTIME)
            .build()
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        result.map(|_| Metadata(self.buf))
    }
}

/// Metadata of a file, from statx(2).
#[derive(Clone, Copy)]
pub struct Metadata(libc::statx);

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("len", &self.len())
            .field("mode", &format_args!("{:o}", self.mode()))
            .field("ino", &self.ino())
            .finish()
    }
}

fn stamp(t: libc::statx_timestamp) -> SystemTime {
    let d = Duration::new(t.tv_sec.unsigned_abs(), t.tv_nsec);
    if t.tv_sec >= 0 {
        SystemTime::UNIX_EPOCH + d
    } else {
        SystemTime::UNIX_EPOCH - d
    }
}

impl Metadata {
    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.0.stx_size
    }

    /// Whether the size is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The full mode: file type and permission bits (`st_mode`).
    pub fn mode(&self) -> u32 {
        u32::from(self.0.stx_mode)
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode() & libc::S_IFMT == libc::S_IFREG
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode() & libc::S_IFMT == libc::S_IFDIR
    }

    /// Whether it is a symbolic link (only from [`symlink_metadata`]).
    pub fn is_symlink(&self) -> bool {
        self.mode() & libc::S_IFMT == libc::S_IFLNK
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.0.stx_ino
    }

    /// Device of the file system (`makedev(major, minor)`).
    pub fn dev(&self) -> u64 {
        libc::makedev(self.0.stx_dev_major, self.0.stx_dev_minor)
    }

    /// Number of hard links.
    pub fn nlink(&self) -> u32 {
        self.0.stx_nlink
    }

    /// Owner's user id.
    pub fn uid(&self) -> u32 {
        self.0.stx_uid
    }

    /// Owner's group id.
    pub fn gid(&self) -> u32 {
        self.0.stx_gid
    }

    /// Preferred I/O block size.
    pub fn blksize(&self) -> u32 {
        self.0.stx_blksize
    }

    /// 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.0.stx_blocks
    }

    /// Last modification.
    pub fn modified(&self) -> SystemTime {
        stamp(self.0.stx_mtime)
    }

    /// Last access.
    pub fn accessed(&self) -> SystemTime {
        stamp(self.0.stx_atime)
    }

    /// Creation, where the file system records it.
    pub fn created(&self) -> Option<SystemTime> {
        (self.0.stx_mask & libc::STATX_BTIME != 0).then(|| stamp(self.0.stx_btime))
    }

    /// The raw `struct statx`.
    pub fn as_raw(&self) -> &libc::statx {
        &self.0
    }
}

/// Options to open a file, as `std::fs::OpenOptions`, plus `O_DIRECT` and `openat2`'s
/// `RESOLVE_*` flags. The descriptor is always `O_CLOEXEC`.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    direct: bool,
    mode: u32,
    custom_flags: i32,
    resolve: u64,
}

impl OpenOptions {
    /// No access at all (pick at least one of read, write, append), mode `0o666`.
    pub fn new() -> OpenOptions {
        OpenOptions {
            mode: 0o666,
            ..Default::default()
        }
    }

    /// Read access.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }

    /// Write access.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }

    /// Append mode (`O_APPEND`, implies write).
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }

    /// Truncate to 0 (`O_TRUNC`; needs write).
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }

    /// Create if missing (`O_CREAT`; needs write or append).
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }

    /// Create, failing if it exists (`O_CREAT | O_EXCL`; needs write or append).
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }

    /// Direct I/O (`O_DIRECT`): bypass the page cache; buffers, offsets and lengths
    /// must then be aligned as the device requires (`EINVAL` otherwise).
    pub fn direct(&mut self, on: bool) -> &mut Self {
        self.direct = on;
        self
    }

    /// Permission bits of a created file (before the umask). Default `0o666`.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `O_*` flags, OR-ed in (the access mode bits are ignored).
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// `RESOLVE_*` flags of openat2(2) (`RESOLVE_BENEATH`, `RESOLVE_NO_SYMLINKS`, …):
    /// opens with `IORING_OP_OPENAT2` (Linux 5.6) instead of `OPENAT`.
    pub fn resolve(&mut self, resolve: u64) -> &mut Self {
        self.resolve = resolve;
        self
    }

    /// The `O_*` flags these options make, as std computes them.
    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => {
                return Err(invalid("no access mode: set read, write or append"));
            }
        };
        if !self.write && !self.append && (self.truncate || self.create || self.create_new) {
            return Err(invalid("create and truncate need write or append access"));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid("append and truncate together"));
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        };
        let direct = if self.direct { libc::O_DIRECT } else { 0 };
        Ok(access | creation | direct | libc::O_CLOEXEC | (self.custom_flags & !libc::O_ACCMODE))
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    /// `InvalidInput` for contradictory options or a path with a NUL; the kernel's
    /// errno (`ENOENT`, `EEXIST`, `EACCES`, `EINVAL` for `O_DIRECT` where the file
    /// system refuses it, …).
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let flags = self.flags()?;
        let path = cstring(path.as_ref())?;
        Op::new(Open {
            path,
            how: OpenHow::new()
                .flags(flags)
                .mode(self.mode)
                .resolve(self.resolve),
            openat2: self.resolve != 0,
        })
        .await
    }
}

/// The data of an open.
#[derive(Debug)]
pub struct Open {
    path: CString,
    how: OpenHow,
    openat2: bool,
}

impl OpData for Open {
    type Output = io::Result<File>;

    fn sqe(&mut self) -> Sqe {
        if self.openat2 {
            opcode::OpenAt2::new(libc::AT_FDCWD, self.path.as_ptr(), &raw const self.how).build()
        } else {
            opcode::OpenAt::new(libc::AT_FDCWD, self.path.as_ptr())
                .flags(self.how.flags as i32)
                .mode(self.how.mode as u32)
                .build()
        }
    }

    fn complete(self, result: io::Result<u32>, _flags: u32) -> Self::Output {
        result.map(|fd| File {
            // SAFETY: the kernel returned a new descriptor that is ours.
            inner: SharedFd::new(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        })
    }

    fn orphan_cqe(&mut self, res: i32, _flags: u32) {
        crate::op::close_orphan(res);
    }
}

#[derive(Debug, Clone, Copy)]
enum PathCode {
    MkDir,
    Unlink,
    Rename,
    Symlink,
    Link,
}

unit_op! {
    /// The data of the path operations ([`create_dir`], [`remove_file`], …).
    PathOp { code: PathCode, a: CString, b: CString, arg: i32 }
    |d| {
        let (a, b, cwd) = (d.a.as_ptr(), d.b.as_ptr(), libc::AT_FDCWD);
        match d.code {
            PathCode::MkDir => opcode::MkDirAt::new(cwd, a).mode(d.arg as u32).build(),
            PathCode::Unlink => opcode::UnlinkAt::new(cwd, a).flags(d.arg).build(),
            PathCode::Rename => opcode::RenameAt::new(cwd, a, cwd, b)
                .flags(d.arg as u32)
                .build(),
            PathCode::Symlink => opcode::SymlinkAt::new(a, cwd, b).build(),
            PathCode::Link => opcode::LinkAt::new(cwd, a, cwd, b).flags(d.arg).build(),
        }
    }
}

async fn path_op(code: PathCode, a: &Path, b: Option<&Path>, arg: i32) -> io::Result<()> {
    let a = cstring(a)?;
    let b = match b {
        Some(b) => cstring(b)?,
        None => CString::default(),
    };
    Op::new(PathOp { code, a, b, arg }).await
}

/// Creates a directory (`IORING_OP_MKDIRAT`, mode `0o777` before the umask).
///
/// # Errors
/// The kernel's errno (`EEXIST`, `ENOENT` for a missing parent, …); `InvalidInput` for
/// a path with a NUL.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    path_op(PathCode::MkDir, path.as_ref(), None, 0o777).await
}

/// Removes a file (`IORING_OP_UNLINKAT`).
///
/// # Errors
/// As [`create_dir`] (`EISDIR` for a directory).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    path_op(PathCode::Unlink, path.as_ref(), None, 0).await
}

/// Removes an empty directory (`IORING_OP_UNLINKAT` with `AT_REMOVEDIR`).
///
/// # Errors
/// As [`create_dir`] (`ENOTEMPTY`, `ENOTDIR`).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    path_op(PathCode::Unlink, path.as_ref(), None, libc::AT_REMOVEDIR).await
}

/// Renames `from` to `to`, replacing `to` (`IORING_OP_RENAMEAT`).
///
/// # Errors
/// As [`create_dir`].
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    path_op(PathCode::Rename, from.as_ref(), Some(to.as_ref()), 0).await
}

/// Creates a symbolic link at `link` pointing to `target` (`IORING_OP_SYMLINKAT`).
///
/// # Errors
/// As [`create_dir`].
pub async fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    path_op(PathCode::Symlink, target.as_ref(), Some(link.as_ref()), 0).await
}

/// Creates a hard link `dst` to `src` (`IORING_OP_LINKAT`).
///
/// # Errors
/// As [`create_dir`].
pub async fn hard_link(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    path_op(PathCode::Link, src.as_ref(), Some(dst.as_ref()), 0).await
}

/// The metadata of `path`, following symbolic links (`IORING_OP_STATX`).
///
/// # Errors
/// As [`create_dir`].
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = cstring(path.as_ref())?;
    Op::new(Statx {
        file: None,
        path,
        flags: 0,
        buf: zeroed_statx(),
    })
    .await
}

/// The metadata of `path` itself, not following a final symbolic link
/// (`AT_SYMLINK_NOFOLLOW`).
///
/// # Errors
/// As [`create_dir`].
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = cstring(path.as_ref())?;
    Op::new(Statx {
        file: None,
        path,
        flags: libc::AT_SYMLINK_NOFOLLOW,
        buf: zeroed_statx(),
    })
    .await
}
