//! What the running kernel offers: opcodes (`IORING_REGISTER_PROBE`) and setup flags
//! (each tried on a small ring).
use std::fmt;
use std::io;

use uring_sys as sys;

use crate::setup::SETUP_FLAG_NAMES;
use crate::{Builder, Ring, Submitter};

/// How many opcode slots a probe asks for (the kernel fills up to its `IORING_OP_LAST`).
const PROBE_OPS: usize = 256;

/// The opcodes a kernel supports, from `IORING_REGISTER_PROBE`.
///
/// Maps to liburing's `io_uring_get_probe_ring` / `io_uring_opcode_supported`.
#[derive(Clone)]
pub struct Probe {
    last_op: u8,
    supported: [bool; PROBE_OPS],
}

#[repr(C)]
struct ProbeBuf {
    header: sys::io_uring_probe,
    ops: [sys::io_uring_probe_op; PROBE_OPS],
}

impl Probe {
    pub(crate) fn from_submitter(sub: &Submitter<'_>) -> io::Result<Probe> {
        // SAFETY: all-zero bytes are a valid ProbeBuf (integers only).
        let mut buf: Box<ProbeBuf> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: buf is a zeroed io_uring_probe followed by PROBE_OPS entries, which
        // is what IORING_REGISTER_PROBE with nr_args = PROBE_OPS writes into.
        unsafe {
            sub.register_raw(
                sys::IORING_REGISTER_PROBE,
                (&raw mut *buf).cast(),
                PROBE_OPS as u32,
            )
        }?;
        let mut supported = [false; PROBE_OPS];
        let len = (buf.header.ops_len as usize).min(PROBE_OPS);
        for op in &buf.ops[..len] {
            if op.flags & sys::IO_URING_OP_SUPPORTED != 0 {
                supported[op.op as usize] = true;
            }
        }
        Ok(Probe {
            last_op: buf.header.last_op,
            supported,
        })
    }

    /// Creates a throwaway one-entry ring (as [`Ring::new`] would: the kernel, or the
    /// backend `URING_BACKEND` names) and probes it. With a ring at hand, use
    /// [`Submitter::probe`] instead.
    ///
    /// # Errors
    /// Why a ring could not be created, or the probe's errno.
    pub fn with_new_ring() -> io::Result<Probe> {
        let ring = Builder::default().build(1)?;
        ring.submitter().probe()
    }

    /// The last opcode the kernel knows (`last_op`).
    pub fn last_op(&self) -> u8 {
        self.last_op
    }

    /// Whether `opcode` (`IORING_OP_*`) is supported.
    pub fn is_supported(&self, opcode: u8) -> bool {
        self.supported[opcode as usize]
    }

    /// The supported opcodes, in order.
    pub fn supported(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|&op| self.supported[op as usize])
    }

    /// The name of an opcode this crate knows, e.g. `"READ"`.
    pub fn opcode_name(opcode: u8) -> Option<&'static str> {
        sys::IORING_OP_NAMES.get(opcode as usize).copied()
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("last_op", &self.last_op)
            .field("supported", &self.supported().collect::<Vec<_>>())
            .finish()
    }
}

/// The setup flags that need another flag to be tried at all.
fn prerequisite(flag: u32) -> u32 {
    match flag {
        sys::IORING_SETUP_SQ_AFF => sys::IORING_SETUP_SQPOLL,
        sys::IORING_SETUP_TASKRUN_FLAG => sys::IORING_SETUP_COOP_TASKRUN,
        sys::IORING_SETUP_DEFER_TASKRUN => sys::IORING_SETUP_SINGLE_ISSUER,
        sys::IORING_SETUP_REGISTERED_FD_ONLY => sys::IORING_SETUP_NO_MMAP,
        sys::IORING_SETUP_HYBRID_IOPOLL => sys::IORING_SETUP_IOPOLL,
        sys::IORING_SETUP_CQSIZE => 0,
        _ => 0,
    }
}

/// One setup flag and whether the kernel accepted a ring with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupFlagSupport {
    /// The `IORING_SETUP_*` bit.
    pub flag: u32,
    /// Its name without the prefix, e.g. `"SQPOLL"`.
    pub name: &'static str,
    /// `Ok(())` if a ring was created with it, else the error the kernel gave.
    pub result: Result<(), String>,
}

/// Tries every setup flag this crate knows on a 4-entry ring (with the flags it
/// requires), and reports which the kernel accepts.
///
/// `ATTACH_WQ` is tried against a second ring's fd; `CQSIZE` with 8 CQ entries.
pub fn setup_flags() -> Vec<SetupFlagSupport> {
    let anchor = Builder::default().build(4).ok();
    SETUP_FLAG_NAMES
        .iter()
        .map(|&(flag, name)| {
            let mut b = Builder::default().raw_flags(flag | prerequisite(flag));
            if flag == sys::IORING_SETUP_CQSIZE {
                b = b.cq_entries(8);
            }
            if flag == sys::IORING_SETUP_ATTACH_WQ {
                match anchor.as_ref().and_then(Ring::fd) {
                    Some(fd) => b = b.attach_wq(fd),
                    None => {
                        return SetupFlagSupport {
                            flag,
                            name,
                            result: Err("no ring to attach to".into()),
                        };
                    }
                }
            }
            if flag == sys::IORING_SETUP_SQPOLL || flag == sys::IORING_SETUP_SQ_AFF {
                b = b.sqpoll(std::time::Duration::from_millis(10));
            }
            let result = b.build(4).map(drop).map_err(|e| e.to_string());
            SetupFlagSupport { flag, name, result }
        })
        .collect()
}
