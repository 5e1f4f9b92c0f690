//! Errors with a cause: what the kernel said, and what it means for the user.
use std::fmt;
use std::io;

pub use uring_sys::{IORING_MAX_CQ_ENTRIES as MAX_CQ_ENTRIES, IORING_MAX_ENTRIES as MAX_ENTRIES};

/// Why a ring could not be created.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The requested number of entries is 0, or above the kernel's maximum without
    /// `clamp()`.
    Entries {
        /// Which queue: `"SQ"` or `"CQ"`.
        queue: &'static str,
        /// What was asked.
        requested: u32,
        /// The kernel's maximum.
        max: u32,
    },
    /// A combination of setup flags the kernel refuses, found before asking it.
    Flags {
        /// The offending flags, by name.
        flags: String,
        /// The kernel's rule that forbids them.
        rule: &'static str,
    },
    /// io_uring is disabled or filtered on this system.
    Disabled {
        /// The errno the kernel returned (`EPERM` or `ENOSYS`).
        errno: i32,
        /// What we found out about the cause.
        cause: DisabledCause,
    },
    /// The kernel ran out of locked memory for the rings (`RLIMIT_MEMLOCK`).
    Memlock {
        /// The soft memlock limit in bytes, if known.
        limit: Option<u64>,
        /// The kernel's error.
        source: io::Error,
    },
    /// The kernel refused the parameters with `EINVAL`: a flag it does not know, or
    /// one it does not allow here.
    Invalid {
        /// The setup flags asked for, by name.
        flags: String,
        /// The kernel's error.
        source: io::Error,
    },
    /// Any other error from `io_uring_setup(2)` or from mapping the rings.
    Io(io::Error),
}

/// Why io_uring is unavailable, as far as this process can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisabledCause {
    /// `kernel.io_uring_disabled` is 2: io_uring is off for everyone.
    SysctlDisabled,
    /// `kernel.io_uring_disabled` is 1 and this process is neither privileged nor in
    /// the group named by `kernel.io_uring_group` (given here, -1 if none).
    SysctlRestricted {
        /// The value of `kernel.io_uring_group`.
        group: i64,
    },
    /// A seccomp filter is active and io_uring is otherwise allowed: the filter (e.g.
    /// Docker's default profile) blocks the system call.
    Seccomp,
    /// The kernel has no io_uring (built without `CONFIG_IO_URING`, or too old).
    NotInKernel,
    /// Refused (e.g. by an LSM such as SELinux or AppArmor) for a reason we cannot see.
    Unknown,
}

const ENGINE_HINT: &str = "the user-space engine backend (`URING_BACKEND=engine`, \
     crate uring-engine) runs the same program without the kernel's io_uring";

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Entries {
                queue,
                requested,
                max,
            } if *requested == 0 => {
                write!(
                    f,
                    "io_uring setup: {queue} entries must be at least 1 (asked for 0)"
                )
            }
            SetupError::Entries {
                queue,
                requested,
                max,
            } => write!(
                f,
                "io_uring setup: {requested} {queue} entries is more than the kernel maximum \
                 of {max}; ask for at most {max}, or set clamp() (IORING_SETUP_CLAMP) to \
                 have the kernel cut it down"
            ),
            SetupError::Flags { flags, rule } => {
                write!(f, "io_uring setup: flags {flags} cannot be used: {rule}")
            }
            SetupError::Disabled { errno, cause } => {
                let errno = io::Error::from_raw_os_error(*errno);
                match cause {
                    DisabledCause::SysctlDisabled => write!(
                        f,
                        "io_uring is disabled on this system: sysctl kernel.io_uring_disabled=2 \
                         ({errno}); an administrator can enable it with \
                         `sysctl kernel.io_uring_disabled=0`; or {ENGINE_HINT}"
                    ),
                    DisabledCause::SysctlRestricted { group } => write!(
                        f,
                        "io_uring is restricted on this system: sysctl kernel.io_uring_disabled=1 \
                         allows only privileged processes and members of group \
                         kernel.io_uring_group={group} ({errno}); add the user to that group, \
                         or set `sysctl kernel.io_uring_disabled=0`; or {ENGINE_HINT}"
                    ),
                    DisabledCause::Seccomp => write!(
                        f,
                        "io_uring is blocked by a seccomp filter on this process ({errno}), as \
                         in Docker's default profile; run the container with a profile that \
                         allows io_uring_setup/io_uring_enter/io_uring_register; or {ENGINE_HINT}"
                    ),
                    DisabledCause::NotInKernel => write!(
                        f,
                        "this kernel has no io_uring ({errno}): it is older than 5.1 or built \
                         without CONFIG_IO_URING; {ENGINE_HINT}"
                    ),
                    DisabledCause::Unknown => write!(
                        f,
                        "io_uring_setup was refused ({errno}) though sysctl \
                         kernel.io_uring_disabled is 0 and no seccomp filter is active: a \
                         security module (SELinux, AppArmor) may deny it; {ENGINE_HINT}"
                    ),
                }
            }
            SetupError::Memlock { limit, source } => {
                write!(
                    f,
                    "io_uring setup: not enough locked memory for the rings ({source})"
                )?;
                if let Some(limit) = limit {
                    write!(f, "; RLIMIT_MEMLOCK is {limit} bytes")?;
                }
                write!(
                    f,
                    "; raise it (`ulimit -l`, or LimitMEMLOCK= in systemd) or use fewer entries"
                )
            }
            SetupError::Invalid { flags, source } => write!(
                f,
                "io_uring setup: the kernel refused the parameters ({source}) with flags \
                 [{flags}]; a flag may be newer than this kernel (see `uring probe`)"
            ),
            SetupError::Io(e) => write!(f, "io_uring setup: {e}"),
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::Memlock { source, .. } | SetupError::Invalid { source, .. } => Some(source),
            SetupError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl SetupError {
    /// The `errno` behind this error, if the kernel gave one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            SetupError::Entries { .. } | SetupError::Flags { .. } => Some(libc::EINVAL),
            SetupError::Disabled { errno, .. } => Some(*errno),
            SetupError::Memlock { source, .. } | SetupError::Invalid { source, .. } => {
                source.raw_os_error()
            }
            SetupError::Io(e) => e.raw_os_error(),
        }
    }

    /// Whether this error means the kernel's io_uring cannot be used at all here (the
    /// case where falling back to the engine makes sense).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, SetupError::Disabled { .. })
    }

    /// The `io::ErrorKind` this error maps to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            SetupError::Entries { .. } | SetupError::Flags { .. } | SetupError::Invalid { .. } => {
                io::ErrorKind::InvalidInput
            }
            SetupError::Disabled { errno, .. } if *errno == libc::ENOSYS => {
                io::ErrorKind::Unsupported
            }
            SetupError::Disabled { .. } => io::ErrorKind::PermissionDenied,
            SetupError::Memlock { .. } => io::ErrorKind::OutOfMemory,
            SetupError::Io(e) => e.kind(),
        }
    }
}

impl From<SetupError> for io::Error {
    fn from(e: SetupError) -> io::Error {
        match e {
            SetupError::Io(e) => e,
            e => io::Error::new(e.kind(), e),
        }
    }
}

/// Reads a sysctl under /proc/sys as an integer.
fn read_sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether a seccomp filter is active on this thread (`Seccomp: 2` in /proc/self/status).
fn seccomp_filtered() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Seccomp:").map(|v| v.trim() == "2"))
        })
        .unwrap_or(false)
}

/// Works out why `io_uring_setup` failed with `EPERM` or `ENOSYS`.
pub(crate) fn disabled_cause(errno: i32) -> DisabledCause {
    let sysctl = read_sysctl("/proc/sys/kernel/io_uring_disabled");
    match sysctl {
        Some(2) => DisabledCause::SysctlDisabled,
        Some(1) if errno == libc::EPERM => DisabledCause::SysctlRestricted {
            group: read_sysctl("/proc/sys/kernel/io_uring_group").unwrap_or(-1),
        },
        _ if seccomp_filtered() => DisabledCause::Seccomp,
        None if errno == libc::ENOSYS => DisabledCause::NotInKernel,
        _ if errno == libc::ENOSYS => DisabledCause::NotInKernel,
        _ => DisabledCause::Unknown,
    }
}

/// The soft `RLIMIT_MEMLOCK`, if finite.
pub(crate) fn memlock_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Memlock).current
}
