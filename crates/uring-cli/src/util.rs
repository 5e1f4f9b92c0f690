//! Small things every subcommand uses: sizes, aligned buffers, the PRNG, the stop flag
//! set by SIGINT/SIGTERM, CPU time, the kernel's name, errors with an exit code.
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::fmt;
use std::io::IsTerminal;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uring::opcode;
use uring::types::Target;

/// An error for the user: a message, and the process's exit code.
#[derive(Debug)]
pub struct CliError {
    pub msg: String,
    pub code: i32,
}

impl CliError {
    /// A run-time failure (exit code 1).
    pub fn new(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 1,
        }
    }

    /// A usage error (exit code 2, as clap's).
    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

/// Exit code after SIGINT, as a shell reports it.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Parses a size: bytes, or a number with a binary suffix `k`, `m`, `g`, `t`
/// (optionally followed by `i`/`ib`/`b`, any case): `4k` = 4096.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits == 0 {
        return Err(format!(
            "`{s}` is not a size: expected a number with an optional k/m/g/t suffix, e.g. 4k"
        ));
    }
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("`{s}` is too large"))?;
    let unit = t[digits..].to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "ki" | "kib" => 10,
        "m" | "mb" | "mi" | "mib" => 20,
        "g" | "gb" | "gi" | "gib" => 30,
        "t" | "tb" | "ti" | "tib" => 40,
        _ => {
            return Err(format!(
                "`{s}`: unknown size suffix `{}` (use k, m, g or t)",
                &t[digits..]
            ));
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A size for people: `4 KiB`, `256 MiB`, `1.5 GiB`.
pub fn fmt_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A short size for labels: `4k`, `256m`.
pub fn fmt_size_short(n: u64) -> String {
    for (shift, suffix) in [(30, "g"), (20, "m"), (10, "k")] {
        if n >= 1 << shift && n % (1 << shift) == 0 {
            return format!("{}{suffix}", n >> shift);
        }
    }
    n.to_string()
}

/// A count for people: `412.3k`, `1.21M`.
pub fn fmt_count(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// A duration in nanoseconds for people: `850 ns`, `12.3 µs`, `4.1 ms`.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// The alignment of every buffer we allocate: a page, which satisfies O_DIRECT on any
/// device (logical blocks are 512 or 4096 bytes).
pub const ALIGN: usize = 4096;

/// A zeroed, page-aligned heap buffer, for O_DIRECT and registered buffers.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// `len` zeroed bytes aligned to [`ALIGN`] (`len` 0 allocates one page).
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size (at least one page).
        let ptr = unsafe { alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            std::alloc::handle_alloc_error(layout)
        };
        AlignedBuf { ptr, len }
    }

    fn layout(len: usize) -> Layout {
        Layout::from_size_align(len.max(ALIGN).next_multiple_of(ALIGN), ALIGN)
            .expect("buffer size overflows")
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialised (zeroed at allocation) bytes, owned
        // by self; the shared borrow of self prevents writes through as_mut_slice.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as for as_slice, with exclusive access through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Never frees the memory: for buffers the kernel may still write into (an
    /// in-flight request we could not wait for), leaking is the safe choice.
    pub fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: ptr was allocated by alloc_zeroed with exactly this layout.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

/// xorshift64*: a small, fast PRNG, good enough to spread offsets evenly.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // A zero state would stay zero; mix the seed so nearby seeds diverge at once.
        let s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        XorShift(if s == 0 { 1 } else { s })
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for any n
    /// a file can have in blocks).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Set by SIGINT/SIGTERM: every loop checks it, stops, and cleans up.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Whether a stop was asked for.
#[inline]
pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the SIGINT/SIGTERM handler that sets [`STOP`]. One-shot
/// (`SA_RESETHAND`): a second Ctrl-C kills the process the usual way. No `SA_RESTART`,
/// so a blocking wait returns `EINTR` and the loop sees the flag.
pub fn install_stop_handler() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; we set
        // the handler to an extern "C" fn that only stores to an atomic, which is
        // async-signal-safe; sigaction reads `act` during the call only.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            act.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

/// User and system CPU time of the whole process (all threads, including the
/// io_uring SQ poll thread and io-wq workers, which are threads of this process).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub user: Duration,
    pub sys: Duration,
}

impl CpuTime {
    pub fn now() -> CpuTime {
        // SAFETY: getrusage writes a whole rusage into the zeroed value we own.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru);
            ru
        };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        CpuTime {
            user: tv(ru.ru_utime),
            sys: tv(ru.ru_stime),
        }
    }

    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }
}

/// `Linux 6.18.44 x86_64`-style kernel name and release, from uname(2).
pub fn kernel() -> (String, String, String) {
    let u = rustix::system::uname();
    (
        u.sysname().to_string_lossy().into_owned(),
        u.release().to_string_lossy().into_owned(),
        u.machine().to_string_lossy().into_owned(),
    )
}

/// Whether stderr is a terminal, where progress bars go.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// The name of an errno, e.g. `ENOSPC`, and its message.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ECANCELED => "ECANCELED",
        libc::EDQUOT => "EDQUOT",
        libc::ETIME => "ETIME",
        _ => "",
    };
    let msg = std::io::Error::from_raw_os_error(errno);
    if name.is_empty() {
        format!("errno {errno}: {msg}")
    } else {
        format!("{name}: {msg}")
    }
}

/// A read (or, with `write`, a write) of `len` bytes at file `offset` on `t` through
/// `buf`: `READ_FIXED` / `WRITE_FIXED` on registered buffer `fixed` when given.
pub fn rw_sqe(
    write: bool,
    t: Target,
    buf: *mut u8,
    len: u32,
    offset: u64,
    fixed: Option<u16>,
) -> uring::Sqe {
    match (write, fixed) {
        (false, Some(i)) => opcode::ReadFixed::new(t, buf, len, i)
            .offset(offset)
            .build(),
        (false, None) => opcode::Read::new(t, buf, len).offset(offset).build(),
        (true, Some(i)) => opcode::WriteFixed::new(t, buf, len, i)
            .offset(offset)
            .build(),
        (true, None) => opcode::Write::new(t, buf, len).offset(offset).build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("k").is_err());
        assert!(parse_size("4q").is_err());
        assert!(parse_size("99999999999999999999t").is_err());
        assert_eq!(fmt_size(256 << 20), "256 MiB");
        assert_eq!(fmt_size_short(4096), "4k");
        assert_eq!(fmt_size_short(1000), "1000");
    }

    #[test]
    fn xorshift_spreads() {
        let mut r = XorShift::new(1);
        let mut hits = [0u32; 16];
        for _ in 0..16_000 {
            hits[r.below(16) as usize] += 1;
        }
        assert!(hits.iter().all(|&h| (800..1200).contains(&h)), "{hits:?}");
        assert_ne!(XorShift::new(1).next_u64(), XorShift::new(2).next_u64());
    }

    #[test]
    fn aligned() {
        let mut b = AlignedBuf::new(5000);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        assert_eq!(b.as_slice().len(), 5000);
        assert!(b.as_slice().iter().all(|&x| x == 0));
        b.as_mut_slice()[4999] = 1;
        assert_eq!(b.as_slice()[4999], 1);
    }
}
