//! Typed builders for SQEs, one per opcode, declared once each in the table below.
//!
//! Each entry generates a struct with the opcode's required arguments (taken by
//! `new`), optional ones (setters with the kernel's defaults), a `CODE` constant for
//! the probe, and `build()`, which writes a zeroed SQE. [`DECLARED`] lists every code
//! declared here; a test checks it against the kernel's probe.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use uring::{opcode, types::Fd, Ring};
//! let mut ring = Ring::new(8)?;
//! let mut buf = [0u8; 4096];
//! let read = opcode::Read::new(Fd(0), buf.as_mut_ptr(), buf.len() as u32)
//!     .offset(0)
//!     .build()
//!     .user_data(7);
//! // SAFETY: `buf` outlives the request: we wait for its completion below.
//! unsafe { ring.submission().push(&read) }.expect("SQ full");
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().expect("one completion");
//! assert_eq!(cqe.user_data(), 7);
//! # Ok(()) }
//! ```
#![allow(clippy::new_without_default)]

use uring_sys as sys;

use crate::Sqe;
use crate::types::{IntoArg, Target, Timespec};

macro_rules! opcodes {
    ($(
        $(#[$meta:meta])*
        $name:ident = $code:ident {
            new($($req:ident : $req_ty:ty),* $(,)?);
            $( opt $opt:ident : $opt_ty:ty = $default:expr; )*
            build($s:ident, $sqe:ident) $body:block
        }
    )*) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy)]
            #[must_use = "an opcode builder does nothing until built and pushed"]
            pub struct $name {
                $($req: $req_ty,)*
                $($opt: $opt_ty,)*
            }

            impl $name {
                /// The opcode (`IORING_OP_*`).
                pub const CODE: u8 = sys::$code;

                /// The builder with its required arguments; optional ones take the
                /// kernel's defaults.
                #[inline]
                pub fn new($($req: impl IntoArg<$req_ty>),*) -> Self {
                    $name { $($req: $req.into_arg(),)* $($opt: $default,)* }
                }

                $(
                    #[doc = concat!("Sets `", stringify!($opt), "`.")]
                    #[inline]
                    pub const fn $opt(mut self, $opt: $opt_ty) -> Self {
                        self.$opt = $opt;
                        self
                    }
                )*

                /// Writes the SQE.
                #[inline]
                pub fn build(self) -> Sqe {
                    let $s = self;
                    let mut $sqe = sys::io_uring_sqe::zeroed();
                    $sqe.opcode = Self::CODE;
                    $body
                    Sqe($sqe)
                }
            }
        )*

        /// Every opcode declared in this module, with its builder's name.
        pub const DECLARED: &[(u8, &str)] = &[$((sys::$code, stringify!($name))),*];
    };
}

opcodes! {
    /// Does nothing; completes with 0 (or the injected result). `IORING_OP_NOP`.
    Nop = IORING_OP_NOP {
        new();
        opt nop_flags: u32 = 0;
        opt inject_result: i32 = 0;
        build(s, sqe) {
            sqe.op_flags.nop_flags = s.nop_flags;
            if s.nop_flags & sys::IORING_NOP_INJECT_RESULT != 0 {
                sqe.len = s.inject_result as u32;
            }
        }
    }

    /// Reads into a buffer, like pread(2) (`offset` -1: the file position).
    /// `IORING_OP_READ`.
    Read = IORING_OP_READ {
        new(fd: Target, buf: *mut u8, len: u32);
        opt offset: u64 = 0;
        opt ioprio: u16 = 0;
        opt rw_flags: i32 = 0;
        opt buf_group: u16 = 0;
        build(s, sqe) {
            s.fd.apply(&mut sqe);
            sqe.addr_or_splice_off_in.addr = s.buf as u64;
            sqe.len = s.len;
            sqe.off_or_addr2.off = s.offset;
            sqe.ioprio = s.ioprio;
            sqe.op_flags.rw_flags = s.rw_flags;
            sqe.buf.buf_group = s.buf_group;
        }
    }

    /// Writes a buffer, like pwrite(2) (`offset` -1: the file position).
    /// `IORING_OP_WRITE`.
    Write = IORING_OP_WRITE {
        new(fd: Target, buf: *const u8, len: u32);
        opt offset: u64 = 0;
        opt ioprio: u16 = 0;
        opt rw_flags: i32 = 0;
        build(s, sqe) {
            s.fd.apply(&mut sqe);
            sqe.addr_or_splice_off_in.addr = s.buf as u64;
            sqe.len = s.len;
            sqe.off_or_addr2.off = s.offset;
            sqe.ioprio = s.ioprio;
            sqe.op_flags.rw_flags = s.rw_flags;
        }
    }

    /// fsync(2), or fdatasync(2) with `IORING_FSYNC_DATASYNC`; with `len`, only that
    /// range from `offset`. `IORING_OP_FSYNC`.
    Fsync = IORING_OP_FSYNC {
        new(fd: Target);
        opt flags: u32 = 0;
        opt offset: u64 = 0;
        opt len: u32 = 0;
        build(s, sqe) {
            s.fd.apply(&mut sqe);
            sqe.op_flags.fsync_flags = s.flags;
            sqe.off_or_addr2.off = s.offset;
            sqe.len = s.len;
        }
    }

    /// Completes after `timespec` (with `-ETIME`), or after `count` other completions
    /// (with 0), whichever comes first. The timespec must outlive the request.
    /// `IORING_OP_TIMEOUT`.
    Timeout = IORING_OP_TIMEOUT {
        new(timespec: *const Timespec);
        opt count: u32 = 0;
        opt flags: u32 = 0;
        build(s, sqe) {
            sqe.fd = -1;
            sqe.addr_or_splice_off_in.addr = s.timespec as u64;
            sqe.len = 1;
            sqe.off_or_addr2.off = s.count as u64;
            sqe.op_flags.timeout_flags = s.flags;
        }
    }
}
