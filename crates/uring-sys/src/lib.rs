//! The Linux io_uring kernel ABI, as of the 6.18 uapi headers `<linux/io_uring.h>` and
//! `<linux/io_uring/query.h>`.
//!
//! Every struct is `#[repr(C)]` and proven against the kernel's layout by size,
//! alignment and field-offset assertions at compile time (see [`layout`]), and in the
//! test suite against `linux-raw-sys` where that crate carries the item. Anonymous
//! unions of the C header get names that say what they hold (`off_or_addr2`,
//! `addr_or_splice_off_in`, `op_flags`, …), in the manner of rustix.
//!
//! Names are the kernel's, so `IORING_SETUP_SQPOLL` or `io_uring_sqe` can be looked up in
//! the man pages io_uring_setup(2), io_uring_enter(2) and io_uring_register(2) directly.
//!
//! Each numbered family (opcodes, register opcodes, setup, feature, enter and SQE flags)
//! is declared once, by a macro that also makes its name table ([`IORING_OP_NAMES`],
//! [`IORING_REGISTER_NAMES`], [`IORING_SETUP_FLAG_NAMES`], [`IORING_FEAT_NAMES`],
//! [`IORING_ENTER_FLAG_NAMES`], [`IOSQE_FLAG_NAMES`]), the mask of a flag family
//! ([`IORING_SETUP_FLAGS`], …) and a lister macro ([`io_uring_ops!`], …) for tests that
//! visit every member.
//!
//! The three system calls live in [`syscall`]; the ring sizing rules of
//! `io_uring_setup(2)` in [`ring_sizes`].
#![allow(non_camel_case_types)]
#![cfg(target_os = "linux")]

#[macro_use]
mod declare;
mod cqe;
pub mod layout;
mod opcode;
mod query;
mod register;
mod ring;
mod sqe;
pub mod syscall;

pub use cqe::*;
pub use declare::flag_names;
pub use opcode::*;
pub use query::*;
pub use register::*;
pub use ring::*;
pub use sqe::*;

/// `struct __kernel_timespec`: the 64-bit timespec io_uring reads for timeouts.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct __kernel_timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub tv_nsec: i64,
}
