//! Small types the opcode builders take.
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use uring_sys as sys;

/// A file descriptor for an SQE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fd(pub RawFd);

/// An index into the ring's registered files (`IOSQE_FIXED_FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fixed(pub u32);

/// The file an SQE acts on: a plain descriptor or a registered one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A plain file descriptor.
    Fd(RawFd),
    /// A registered file index.
    Fixed(u32),
}

impl Target {
    /// Writes the target into `sqe`: the fd field, and `IOSQE_FIXED_FILE` if fixed.
    #[inline]
    pub(crate) fn apply(self, sqe: &mut sys::io_uring_sqe) {
        match self {
            Target::Fd(fd) => sqe.fd = fd,
            Target::Fixed(i) => {
                sqe.fd = i as i32;
                sqe.flags |= sys::IOSQE_FIXED_FILE;
            }
        }
    }
}

impl From<Fd> for Target {
    fn from(fd: Fd) -> Target {
        Target::Fd(fd.0)
    }
}

impl From<Fixed> for Target {
    fn from(f: Fixed) -> Target {
        Target::Fixed(f.0)
    }
}

impl From<RawFd> for Target {
    fn from(fd: RawFd) -> Target {
        Target::Fd(fd)
    }
}

impl<T: AsRawFd> From<&T> for Target {
    fn from(f: &T) -> Target {
        Target::Fd(f.as_raw_fd())
    }
}

/// A conversion for the arguments of opcode builders: every type converts to itself,
/// [`Fd`], [`Fixed`] and raw fds to a [`Target`], and `*mut u8` to `*const u8`.
///
/// Unlike `Into`, it lets integer literals infer their type from the parameter.
pub trait IntoArg<T> {
    /// The conversion.
    fn into_arg(self) -> T;
}

impl<T> IntoArg<T> for T {
    #[inline]
    fn into_arg(self) -> T {
        self
    }
}

impl IntoArg<Target> for Fd {
    #[inline]
    fn into_arg(self) -> Target {
        Target::Fd(self.0)
    }
}

impl IntoArg<Target> for Fixed {
    #[inline]
    fn into_arg(self) -> Target {
        Target::Fixed(self.0)
    }
}

impl IntoArg<Target> for RawFd {
    #[inline]
    fn into_arg(self) -> Target {
        Target::Fd(self)
    }
}

impl IntoArg<*const u8> for *mut u8 {
    #[inline]
    fn into_arg(self) -> *const u8 {
        self
    }
}

impl<T> IntoArg<*const Timespec> for &T
where
    T: AsRef<Timespec>,
{
    #[inline]
    fn into_arg(self) -> *const Timespec {
        self.as_ref()
    }
}

impl AsRef<Timespec> for Timespec {
    fn as_ref(&self) -> &Timespec {
        self
    }
}

/// A kernel timespec (`struct __kernel_timespec`) for timeouts. The SQE points to it,
/// so it must outlive the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Timespec(pub(crate) sys::__kernel_timespec);

impl Timespec {
    /// Zero.
    pub const fn new() -> Self {
        Timespec(sys::__kernel_timespec {
            tv_sec: 0,
            tv_nsec: 0,
        })
    }

    /// Seconds.
    pub const fn sec(mut self, sec: u64) -> Self {
        self.0.tv_sec = sec as i64;
        self
    }

    /// Nanoseconds.
    pub const fn nsec(mut self, nsec: u32) -> Self {
        self.0.tv_nsec = nsec as i64;
        self
    }
}

impl From<Duration> for Timespec {
    fn from(d: Duration) -> Timespec {
        Timespec::new().sec(d.as_secs()).nsec(d.subsec_nanos())
    }
}
