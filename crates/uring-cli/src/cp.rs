//! `uring cp SRC DST`: a file copy made of linked read→write chains.
//!
//! The file is cut into chunks (only its data extents: holes found with `SEEK_DATA` /
//! `SEEK_HOLE` stay holes). Each of `--chains` slots owns a registered buffer and
//! copies one chunk at a time with a `READ_FIXED` linked (`IOSQE_IO_LINK`) to a
//! `WRITE_FIXED` of the same buffer, over registered files; several chains are in
//! flight at once. The typed `ReadFixed`/`WriteFixed` builders are used; when buffers
//! cannot be registered (memlock), plain `READ`/`WRITE` on the same memory.
//!
//! A link breaks when the read comes up short (end of file, or the kernel's choice):
//! the write is then cancelled with `-ECANCELED` and has written nothing, so the file
//! is never corrupted; the slot goes on from where the data stops: it writes what was
//! read, then reads the rest. Short writes are resubmitted for their remainder. When
//! every chunk is written, the last chain is `FTRUNCATE` (the final size, which also
//! keeps trailing holes and drops the O_DIRECT padding) linked to `FSYNC`: the seeds'
//! "writes, then fsync" chain.
//!
//! Any error stops the copy: what is in flight is reaped first (the buffers stay valid
//! until then), then the partial destination is removed, and the message says so.
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use uring::types::Target;
use uring::{Ring, SqeFlags, SubmissionQueue, opcode};

use crate::util::{
    ALIGN, AlignedBuf, CliError, EXIT_INTERRUPTED, errno_name, fmt_size, install_stop_handler,
    parse_size, rw_sqe, stderr_is_tty, stopped,
};

fn parse_chunk(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if n == 0 || n % ALIGN as u64 != 0 || n > 64 << 20 {
        return Err(format!(
            "the chunk size must be a multiple of {ALIGN} between 4k and 64m"
        ));
    }
    Ok(n)
}

/// `uring cp SRC DST`: copy a file with linked read→write SQE chains over registered
/// buffers, then fsync. If DST is a directory, the copy goes into it. Holes are kept;
/// permissions are copied.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// The file to copy.
    pub src: PathBuf,
    /// Where to copy it: a file (created or truncated), or a directory to copy into.
    pub dst: PathBuf,
    /// Open both files with O_DIRECT (bypass the page cache); the unaligned tail is
    /// written padded and the file truncated to size.
    #[arg(long)]
    pub direct: bool,
    /// Bytes each chain copies (a multiple of 4k). Small enough that all the chains'
    /// buffers stay in the CPU cache between the read and the write.
    #[arg(long, default_value = "256k", value_parser = parse_chunk)]
    pub bs: u64,
    /// Read→write chains in flight.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub chains: u32,
    /// Skip the final fsync (as plain cp does): faster, not durable.
    #[arg(long)]
    pub no_fsync: bool,
    /// Print what was copied, how fast, and how.
    #[arg(short, long)]
    pub verbose: bool,
}

/// What a chain slot is doing.
#[derive(Debug, Clone, Copy, Default)]
struct Chain {
    /// Start of the chunk in both files.
    off: u64,
    /// Bytes of the chunk (the true length, even when O_DIRECT pads the tail).
    len: u64,
    /// Bytes of the chunk read into the buffer so far.
    have: u64,
    /// Bytes of the chunk written so far (never more than `have`).
    written: u64,
    /// SQEs of this slot not yet completed.
    in_flight: u32,
    /// Whether the slot holds a chunk.
    active: bool,
}

/// The next I/O of an idle chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Write `len` bytes from `at` (in the chunk and in the slot's buffer); `len` is
    /// padded to the O_DIRECT alignment at the unaligned tail.
    Write { at: u64, len: u64 },
    /// Read `len` bytes at `at`; with `link`, a write of the same bytes is linked to it
    /// (not for the padded O_DIRECT tail, whose read is short by design).
    Read { at: u64, len: u64, link: bool },
}

/// Why a completion stops the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A read found the end of the file before the chunk's end.
    Shrank,
    /// A write returned 0.
    WroteNothing,
    /// A read (`true`) or write failed with this errno.
    Errno { read: bool, errno: i32 },
}

impl Chain {
    /// Whether the whole chunk is written.
    fn done(&self) -> bool {
        self.written >= self.len
    }

    /// What to do next: write what was read and not written, else read the rest.
    fn step(&self, align: u64) -> Step {
        let io_len = |n: u64| n.next_multiple_of(align);
        if self.written < self.have {
            Step::Write {
                at: self.written,
                len: io_len(self.have - self.written),
            }
        } else {
            let want = self.len - self.have;
            let len = io_len(want);
            Step::Read {
                at: self.have,
                len,
                link: len == want,
            }
        }
    }

    /// Accounts the completion of a read or write of this chain.
    fn complete(&mut self, op: u64, res: i32) -> Result<(), Fault> {
        self.in_flight -= 1;
        match (op, res) {
            // Past the chunk's end only at the padded tail: what counts is `len`.
            (OP_READ, r) if r > 0 => self.have = (self.have + r as u64).min(self.len),
            (OP_READ, 0) => return Err(Fault::Shrank),
            (OP_WRITE, r) if r > 0 => self.written = (self.written + r as u64).min(self.have),
            // The linked read came up short or failed: this write did nothing, and the
            // next step writes what the read did bring.
            (OP_WRITE, r) if r == -libc::ECANCELED => {}
            (OP_WRITE, 0) => return Err(Fault::WroteNothing),
            // Nothing moved: the next step asks again.
            (_, r) if r == -libc::EINTR || r == -libc::EAGAIN => {}
            (op, r) => {
                return Err(Fault::Errno {
                    read: op == OP_READ,
                    errno: -r,
                });
            }
        }
        Ok(())
    }
}

/// The first error stops the copy.
struct Failure {
    msg: String,
    errno: Option<i32>,
}

impl Failure {
    fn new(msg: String, errno: Option<i32>) -> Failure {
        Failure { msg, errno }
    }
}

impl Fault {
    /// What the user is told.
    fn failure(self, src: &Path, dst: &Path) -> Failure {
        match self {
            Fault::Shrank => {
                Failure::new(format!("{} shrank while being copied", src.display()), None)
            }
            Fault::WroteNothing => Failure::new(
                format!("writing {}: the kernel wrote nothing", dst.display()),
                None,
            ),
            Fault::Errno { read, errno } => {
                let (what, path) = if read {
                    ("reading", src)
                } else {
                    ("writing", dst)
                };
                let msg = format!("{what} {}: {}", path.display(), errno_name(errno));
                Failure::new(msg, Some(errno))
            }
        }
    }
}

/// user_data: the slot in the high bits, what the SQE does in the low two.
const OP_READ: u64 = 0;
const OP_WRITE: u64 = 1;
const OP_TRUNCATE: u64 = 2;
const OP_FSYNC: u64 = 3;
const OP_BITS: u32 = 2;
const OP_MASK: u64 = (1 << OP_BITS) - 1;

fn ud(slot: usize, op: u64) -> u64 {
    ((slot as u64) << OP_BITS) | op
}

/// Runs `uring cp`; returns the exit code.
pub fn run(a: CpArgs) -> Result<i32, CliError> {
    install_stop_handler();
    let src_meta = std::fs::metadata(&a.src)
        .map_err(|e| CliError::new(format!("cannot copy {}: {e}", a.src.display())))?;
    if src_meta.is_dir() {
        return Err(CliError::new(format!(
            "{} is a directory (uring cp copies one file)",
            a.src.display()
        )));
    }
    if !src_meta.is_file() {
        return Err(CliError::new(format!(
            "{} is not a regular file",
            a.src.display()
        )));
    }
    let dst_path = destination(&a.src, &a.dst)?;
    let dst_before = std::fs::metadata(&dst_path).ok();
    if let Some(m) = &dst_before {
        if m.dev() == src_meta.dev() && m.ino() == src_meta.ino() {
            return Err(CliError::new(format!(
                "{} and {} are the same file",
                a.src.display(),
                dst_path.display()
            )));
        }
        if m.is_dir() {
            return Err(CliError::new(format!(
                "{} is a directory",
                dst_path.display()
            )));
        }
    }
    // Only a regular file is truncated, sized, synced, and removed after a failure;
    // a device (/dev/null, /dev/full) is just written.
    let dst_regular = dst_before.as_ref().is_none_or(|m| m.is_file());

    let direct_flag = if a.direct { libc::O_DIRECT } else { 0 };
    let src = OpenOptions::new()
        .read(true)
        .custom_flags(direct_flag)
        .open(&a.src)
        .map_err(|e| open_error(&a.src, e, a.direct))?;
    let dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(dst_regular)
        .mode(src_meta.mode() & 0o7777)
        .custom_flags(direct_flag)
        .open(&dst_path)
        .map_err(|e| {
            // O_CREAT may have made the file before O_DIRECT was refused.
            if dst_before.is_none() {
                let _ = std::fs::remove_file(&dst_path);
            }
            open_error(&dst_path, e, a.direct)
        })?;
    if dst_regular {
        // The mode passed to open is filtered by the umask and ignored for an
        // existing file: set the source's permissions exactly.
        dst.set_permissions(src_meta.permissions()).map_err(|e| {
            CliError::new(format!(
                "setting the permissions of {}: {e}",
                dst_path.display()
            ))
        })?;
    }

    let started = Instant::now();
    let size = src_meta.len();
    match copy(&a, &src, &dst, size, dst_regular, &dst_path) {
        Ok(report) => {
            if a.verbose {
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "copied {} ({} of data) to {} in {:.3} s, {}/s; {}",
                    fmt_size(size),
                    fmt_size(report.data_bytes),
                    dst_path.display(),
                    secs,
                    fmt_size((report.data_bytes as f64 / secs.max(1e-9)) as u64),
                    report.how
                );
            }
            Ok(0)
        }
        Err(f) => {
            drop(dst);
            let removed = dst_regular && std::fs::remove_file(&dst_path).is_ok();
            let tail = if removed {
                format!(
                    "; the partial destination {} was removed",
                    dst_path.display()
                )
            } else {
                String::new()
            };
            let msg = match f.errno {
                Some(libc::ENOSPC) => format!(
                    "writing {}: no space left on device (ENOSPC){tail}",
                    dst_path.display()
                ),
                Some(libc::EDQUOT) => format!(
                    "writing {}: disk quota exceeded (EDQUOT){tail}",
                    dst_path.display()
                ),
                _ => format!("{}{tail}", f.msg),
            };
            Err(CliError {
                msg,
                code: if stopped() { EXIT_INTERRUPTED } else { 1 },
            })
        }
    }
}

/// DST itself, or DST/name-of-SRC when DST is a directory.
fn destination(src: &Path, dst: &Path) -> Result<PathBuf, CliError> {
    if dst.is_dir() {
        let name = src.file_name().ok_or_else(|| {
            CliError::new(format!(
                "{} has no file name to copy into a directory",
                src.display()
            ))
        })?;
        return Ok(dst.join(name));
    }
    if dst.as_os_str().to_string_lossy().ends_with('/') {
        return Err(CliError::new(format!(
            "{} is not a directory",
            dst.display()
        )));
    }
    Ok(dst.to_owned())
}

fn open_error(path: &Path, e: io::Error, direct: bool) -> CliError {
    if direct && e.raw_os_error() == Some(libc::EINVAL) {
        CliError::new(format!(
            "--direct: the file system of {} does not support O_DIRECT",
            path.display()
        ))
    } else {
        CliError::new(format!("cannot open {}: {e}", path.display()))
    }
}

struct Report {
    data_bytes: u64,
    how: String,
}

/// The data extents of `f` (`SEEK_DATA`/`SEEK_HOLE`), as `(start, end)`; the whole
/// file where the file system cannot tell. With `align`, each is widened to `align`
/// boundaries (never past the aligned end of the file) and overlaps are merged.
fn extents(f: &File, size: u64, align: u64) -> Vec<(u64, u64)> {
    use rustix::fs::{SeekFrom, seek};
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        let start = match seek(f, SeekFrom::Data(pos)) {
            Ok(s) => s,
            Err(rustix::io::Errno::NXIO) => break, // only a hole from here
            Err(_) => {
                out = vec![(0, size)];
                break;
            }
        };
        let end = match seek(f, SeekFrom::Hole(start)) {
            Ok(e) => e.min(size),
            Err(_) => size,
        };
        if end <= start {
            break;
        }
        let (s, e) = if align > 1 {
            (
                start / align * align,
                end.next_multiple_of(align)
                    .min(size.next_multiple_of(align)),
            )
        } else {
            (start, end)
        };
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
        pos = end;
    }
    out
}

fn copy(
    a: &CpArgs,
    src: &File,
    dst: &File,
    size: u64,
    dst_regular: bool,
    dst_path: &Path,
) -> Result<Report, Failure> {
    let align = if a.direct { ALIGN as u64 } else { 1 };
    let extents = extents(src, size, align);
    // A chunk ends at most at `size`: O_DIRECT reads past it return short, and the
    // padding is added when writing.
    let mut chunks = extents.iter().flat_map(|&(s, e)| {
        let e = e.min(size);
        (s..e)
            .step_by(a.bs as usize)
            .map(move |off| (off, (e - off).min(a.bs)))
    });
    let data_bytes: u64 = extents.iter().map(|&(s, e)| e.min(size) - s).sum();

    let nchains = a.chains as usize;
    // Declared before the ring, so dropped after it: the kernel may use the buffers
    // until the ring is gone.
    let mut bufs = AlignedBuf::new(nchains * a.bs as usize);
    let mut ring = Ring::builder()
        .build(a.chains * 2 + 2)
        .map_err(|e| Failure::new(e.to_string(), e.raw_os_error()))?;
    let io = Io::register(&ring, &bufs, a, src, dst, align);
    let has_ftruncate = ring
        .submitter()
        .probe()
        .is_ok_and(|p| p.is_supported(opcode::Ftruncate::CODE));

    let pb = progress(data_bytes, a.verbose || stderr_is_tty());
    let mut slots = vec![Chain::default(); nchains];
    let mut failure: Option<Failure> = None;
    let mut written_total = 0u64;
    let mut last_draw = Instant::now();
    loop {
        if failure.is_none() && stopped() {
            failure = Some(Failure::new("interrupted".into(), None));
        }
        let stopping = failure.is_some();
        let mut sq = ring.submission();
        let any_in_flight = io.issue(
            &mut sq,
            &mut bufs,
            &mut slots,
            &mut chunks,
            stopping,
            &mut written_total,
        );
        drop(sq);
        if !any_in_flight {
            break;
        }
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => {
                // Cannot know what is in flight any more: keep the buffers forever.
                drop(ring);
                bufs.leak();
                return Err(Failure::new(
                    format!("io_uring_enter: {e}"),
                    e.raw_os_error(),
                ));
            }
        }
        reap(&mut ring, &mut slots, &mut failure, &a.src, dst_path);
        if last_draw.elapsed() >= Duration::from_millis(100) {
            pb.set_position(written_total);
            last_draw = Instant::now();
        }
    }
    if let Some(f) = failure {
        pb.abandon();
        return Err(f);
    }
    pb.finish_and_clear();
    let fsync = !a.no_fsync && dst_regular;
    if dst_regular && !has_ftruncate {
        dst.set_len(size).map_err(|e| {
            Failure::new(
                format!("truncating {}: {e}", dst_path.display()),
                e.raw_os_error(),
            )
        })?;
    }
    finish(
        &mut ring,
        io.dst,
        dst_path,
        dst_regular && has_ftruncate,
        size,
        fsync,
    )?;
    drop(ring);
    drop(bufs);
    let how = io.describe(a, data_bytes < size, fsync);
    Ok(Report { data_bytes, how })
}

/// How the chains' I/O goes: through registered buffers and files when the kernel took
/// them, each chain slot `bs` bytes of the buffers from `base`.
struct Io {
    fixed_bufs: bool,
    fixed_files: bool,
    src: Target,
    dst: Target,
    base: *mut u8,
    bs: usize,
    /// The O_DIRECT alignment, or 1.
    align: u64,
}

impl Io {
    /// Registers the slot buffers and both files with the ring where the kernel allows
    /// (plain buffers and descriptors otherwise).
    fn register(
        ring: &Ring,
        bufs: &AlignedBuf,
        a: &CpArgs,
        src: &File,
        dst: &File,
        align: u64,
    ) -> Io {
        let (base, bs) = (bufs.as_ptr(), a.bs as usize);
        let iovecs: Vec<libc::iovec> = (0..a.chains as usize)
            .map(|i| libc::iovec {
                iov_base: base.wrapping_add(i * bs).cast(),
                iov_len: bs,
            })
            .collect();
        // SAFETY: each iovec is one slot of `bufs`, valid for reads and writes, and
        // `bufs` outlives the ring (declared first, dropped last).
        let fixed_bufs = unsafe { ring.submitter().register_buffers(&iovecs) }.is_ok();
        let fixed_files = ring
            .submitter()
            .register_files(&[src.as_raw_fd(), dst.as_raw_fd()])
            .is_ok();
        let (src, dst) = if fixed_files {
            (Target::Fixed(0), Target::Fixed(1))
        } else {
            (Target::Fd(src.as_raw_fd()), Target::Fd(dst.as_raw_fd()))
        };
        Io {
            fixed_bufs,
            fixed_files,
            src,
            dst,
            base,
            bs,
            align,
        }
    }

    /// Gives every idle chain its next step (a new chunk to one that is done, unless
    /// `stopping`, adding the finished chunk to `written`), pushing its SQEs; whether
    /// any chain has I/O in flight.
    fn issue(
        &self,
        sq: &mut SubmissionQueue<'_>,
        bufs: &mut AlignedBuf,
        slots: &mut [Chain],
        chunks: &mut impl Iterator<Item = (u64, u64)>,
        stopping: bool,
        written: &mut u64,
    ) -> bool {
        let mut any_in_flight = false;
        for (slot, c) in slots.iter_mut().enumerate() {
            if c.in_flight > 0 {
                any_in_flight = true;
                continue;
            }
            if stopping {
                continue;
            }
            if !c.active || c.done() {
                if c.active {
                    *written += c.len;
                }
                *c = match chunks.next() {
                    Some((off, len)) => Chain {
                        off,
                        len,
                        active: true,
                        ..Chain::default()
                    },
                    None => Chain::default(),
                };
                if !c.active {
                    continue;
                }
            }
            c.in_flight = match c.step(self.align) {
                Step::Write { at, len } => {
                    if at + len > c.have {
                        // The padded O_DIRECT tail: zeros after the data, not a
                        // previous chunk's bytes (truncated away anyway).
                        let slot_at = slot * self.bs;
                        bufs.as_mut_slice()
                            [slot_at + c.have as usize..slot_at + (at + len) as usize]
                            .fill(0);
                    }
                    let w = self.sqe(OP_WRITE, slot, c.off, at, len);
                    // SAFETY: `at..at+len` is inside the slot's buffer (at + len <= bs:
                    // have <= len <= bs, and padding stays within the aligned slot);
                    // the buffer and the files outlive the request: every completion
                    // is reaped before `copy` returns, or the buffers leak.
                    unsafe { sq.push(&w) }.expect("SQ room: two entries per chain");
                    1
                }
                Step::Read { at, len, link } => {
                    let r = self.sqe(OP_READ, slot, c.off, at, len);
                    if link {
                        let w = self.sqe(OP_WRITE, slot, c.off, at, len);
                        // SAFETY: as above; both name the same part of the slot.
                        unsafe { sq.push_multiple(&[r.flags(SqeFlags::IO_LINK), w]) }
                            .expect("SQ room: two entries per chain");
                        2
                    } else {
                        // SAFETY: as above.
                        unsafe { sq.push(&r) }.expect("SQ room: two entries per chain");
                        1
                    }
                }
            };
            any_in_flight = true;
        }
        any_in_flight
    }

    /// The read (`OP_READ`, from the source) or write (`OP_WRITE`, to the destination)
    /// of `len` bytes at `at` within the chunk at `off` of chain `slot`, through the
    /// slot's buffer (registered buffer `slot` with fixed buffers).
    fn sqe(&self, op: u64, slot: usize, off: u64, at: u64, len: u64) -> uring::Sqe {
        let p = self.base.wrapping_add(slot * self.bs + at as usize);
        let (t, write) = if op == OP_READ {
            (self.src, false)
        } else {
            (self.dst, true)
        };
        let fixed = self.fixed_bufs.then_some(slot as u16);
        let sqe = rw_sqe(write, t, p, len as u32, off + at, fixed);
        sqe.user_data(ud(slot, op))
    }

    /// How the copy went, for `--verbose`.
    fn describe(&self, a: &CpArgs, holes: bool, fsync: bool) -> String {
        let registered = |yes| if yes { "registered" } else { "unregistered" };
        format!(
            "{} chains of {}, {} buffers, {} files{}{}{}",
            a.chains,
            fmt_size(a.bs),
            registered(self.fixed_bufs),
            if self.fixed_files {
                "registered"
            } else {
                "plain"
            },
            if a.direct { ", O_DIRECT" } else { "" },
            if holes { ", holes kept" } else { "" },
            if fsync { ", fsync" } else { ", no fsync" },
        )
    }
}

/// Accounts every completion in the CQ to its chain; the first fault becomes the
/// failure, after which completions are only counted in.
fn reap(
    ring: &mut Ring,
    slots: &mut [Chain],
    failure: &mut Option<Failure>,
    src_path: &Path,
    dst_path: &Path,
) {
    for cqe in ring.completion() {
        let slot = (cqe.user_data() >> OP_BITS) as usize;
        let op = cqe.user_data() & OP_MASK;
        let Some(c) = slots.get_mut(slot) else {
            failure.get_or_insert(Failure::new(
                format!("a completion nobody asked for: {cqe:?}"),
                None,
            ));
            continue;
        };
        if failure.is_some() {
            c.in_flight -= 1;
            continue;
        }
        if let Err(fault) = c.complete(op, cqe.result()) {
            *failure = Some(fault.failure(src_path, dst_path));
        }
    }
}

/// The last chain: the final size with `truncate` (keeps trailing holes, drops the
/// O_DIRECT padding), then the fsync — linked, so the fsync sees the size.
fn finish(
    ring: &mut Ring,
    dst: Target,
    dst_path: &Path,
    truncate: bool,
    size: u64,
    fsync: bool,
) -> Result<(), Failure> {
    let mut ops: Vec<uring::Sqe> = Vec::new();
    if truncate {
        let t = opcode::Ftruncate::new(dst, size).build();
        ops.push(t.user_data(ud(0, OP_TRUNCATE)));
    }
    if fsync {
        ops.push(opcode::Fsync::new(dst).build().user_data(ud(0, OP_FSYNC)));
    }
    if ops.len() == 2 {
        ops[0] = ops[0].flags(SqeFlags::IO_LINK);
    }
    // SAFETY: FTRUNCATE and FSYNC name only the (registered) destination.
    unsafe { ring.submission().push_multiple(&ops) }.expect("SQ room");
    let mut left = ops.len();
    while left > 0 {
        match ring.submit_and_wait(left) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => {
                return Err(Failure::new(
                    format!("io_uring_enter: {e}"),
                    e.raw_os_error(),
                ));
            }
        }
        for cqe in ring.completion() {
            left -= 1;
            if cqe.result() < 0 {
                let what = if cqe.user_data() & OP_MASK == OP_FSYNC {
                    "fsync"
                } else {
                    "truncating"
                };
                let errno = -cqe.result();
                let msg = format!("{what} {}: {}", dst_path.display(), errno_name(errno));
                return Err(Failure::new(msg, Some(errno)));
            }
        }
    }
    Ok(())
}

fn progress(total: u64, show: bool) -> ProgressBar {
    if !show || !stderr_is_tty() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "[{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(len: u64) -> Chain {
        Chain {
            off: 1 << 20,
            len,
            active: true,
            ..Chain::default()
        }
    }

    const OK: Result<(), Fault> = Ok(());

    /// The completions of a linked read and write with these results, in order.
    fn linked(c: &mut Chain, read: i32, write: i32) -> [Result<(), Fault>; 2] {
        c.in_flight = 2;
        [c.complete(OP_READ, read), c.complete(OP_WRITE, write)]
    }

    /// The completion of a lone read (`OP_READ`) or write (`OP_WRITE`).
    fn alone(c: &mut Chain, op: u64, res: i32) -> Result<(), Fault> {
        c.in_flight = 1;
        c.complete(op, res)
    }

    #[test]
    fn whole_chunk_is_a_linked_read_and_write() {
        let mut c = chain(65536);
        assert_eq!(
            c.step(1),
            Step::Read {
                at: 0,
                len: 65536,
                link: true
            }
        );
        assert_eq!(linked(&mut c, 65536, 65536), [OK, OK]);
        assert!(c.done());
        assert_eq!(c.in_flight, 0);
    }

    #[test]
    fn short_read_cancels_the_write_then_resumes() {
        let mut c = chain(65536);
        // The read brings 1000 bytes; the kernel cancels the linked write.
        assert_eq!(linked(&mut c, 1000, -libc::ECANCELED), [OK, OK]);
        assert_eq!((c.have, c.written, c.in_flight), (1000, 0, 0));
        // First the 1000 bytes read are written, at their own offset...
        assert_eq!(c.step(1), Step::Write { at: 0, len: 1000 });
        assert_eq!(alone(&mut c, OP_WRITE, 1000), OK);
        // ...then the rest is read and written, linked again.
        assert_eq!(
            c.step(1),
            Step::Read {
                at: 1000,
                len: 64536,
                link: true
            }
        );
        assert_eq!(linked(&mut c, 64536, 64536), [OK, OK]);
        assert!(c.done());
    }

    #[test]
    fn short_write_is_resubmitted_for_the_remainder() {
        let mut c = chain(8192);
        assert_eq!(linked(&mut c, 8192, 3000), [OK, OK]);
        assert!(!c.done());
        assert_eq!(
            c.step(1),
            Step::Write {
                at: 3000,
                len: 5192
            }
        );
        assert_eq!(alone(&mut c, OP_WRITE, 5192), OK);
        assert!(c.done());
    }

    #[test]
    fn failed_read_stops_and_its_write_did_nothing() {
        let mut c = chain(4096);
        let eio = Err(Fault::Errno {
            read: true,
            errno: libc::EIO,
        });
        assert_eq!(linked(&mut c, -libc::EIO, -libc::ECANCELED), [eio, OK]);
        assert_eq!((c.have, c.written, c.in_flight), (0, 0, 0));
    }

    #[test]
    fn end_of_file_early_is_a_fault() {
        let mut c = chain(4096);
        assert_eq!(alone(&mut c, OP_READ, 0), Err(Fault::Shrank));
    }

    #[test]
    fn disk_full_is_a_write_fault() {
        let mut c = chain(4096);
        let enospc = Err(Fault::Errno {
            read: false,
            errno: libc::ENOSPC,
        });
        assert_eq!(linked(&mut c, 4096, -libc::ENOSPC), [OK, enospc]);
    }

    #[test]
    fn direct_tail_reads_alone_then_writes_padded() {
        // A 5000-byte tail with 4096 alignment: the read asks for 8192 (unlinked,
        // as it will be short), the write is padded to 8192; written counts 5000.
        let mut c = chain(5000);
        assert_eq!(
            c.step(4096),
            Step::Read {
                at: 0,
                len: 8192,
                link: false
            }
        );
        assert_eq!(alone(&mut c, OP_READ, 5000), OK);
        assert_eq!(c.step(4096), Step::Write { at: 0, len: 8192 });
        assert_eq!(alone(&mut c, OP_WRITE, 8192), OK);
        assert!(c.done());
        assert_eq!(c.written, 5000);
    }

    #[test]
    fn user_data_round_trips() {
        for slot in [0usize, 1, 255] {
            for op in [OP_READ, OP_WRITE, OP_TRUNCATE, OP_FSYNC] {
                let u = ud(slot, op);
                assert_eq!(((u >> OP_BITS) as usize, u & OP_MASK), (slot, op));
            }
        }
    }
}
