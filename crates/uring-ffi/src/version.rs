//! The library version (liburing's `version.c`): the liburing release whose API this
//! library provides, 2.15 (its `liburing.map` up to `LIBURING_2.15`). A program built
//! against liburing 2.15's header checks `io_uring_minor_version()` against its own
//! `IO_URING_VERSION_MINOR`, so the two must agree.
use core::ffi::c_int;

/// Major version of the liburing API provided.
pub const IO_URING_VERSION_MAJOR: c_int = 2;
/// Minor version of the liburing API provided.
pub const IO_URING_VERSION_MINOR: c_int = 15;

/// The major version: 2.
///
/// liburing: `io_uring_major_version(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_major_version() -> c_int {
    IO_URING_VERSION_MAJOR
}

/// The minor version.
///
/// liburing: `io_uring_minor_version(3)`.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_minor_version() -> c_int {
    IO_URING_VERSION_MINOR
}

/// True when this library is *older* than `major.minor` (the check failed), as
/// liburing's `io_uring_check_version(3)` and `IO_URING_CHECK_VERSION` answer.
#[cfg_attr(not(versioned_symbols), unsafe(no_mangle))]
pub extern "C" fn io_uring_check_version(major: c_int, minor: c_int) -> bool {
    major > IO_URING_VERSION_MAJOR
        || (major == IO_URING_VERSION_MAJOR && minor > IO_URING_VERSION_MINOR)
}

symver!(
    io_uring_check_version,
    io_uring_major_version,
    io_uring_minor_version
);
