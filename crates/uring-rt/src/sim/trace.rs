//! The trace of a run: a hash of every event (each node's submissions and
//! completions, crashes, restarts, the program's notes), to show two runs of a seed
//! equal, and the last events in a readable form, to show what led to a failure.
use std::collections::VecDeque;
use std::fmt;
use std::hash::{DefaultHasher, Hasher};

use uring::sys;

use super::disk::CrashLoss;

/// One event.
#[derive(Debug, Clone)]
pub(crate) enum What {
    Submit {
        opcode: u8,
        user_data: u64,
        offset: u64,
        len: u64,
        prep_error: i32,
    },
    Complete {
        opcode: u8,
        user_data: u64,
        res: i32,
        flags: u32,
    },
    Start,
    Crash(CrashLoss),
    Note(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// Virtual time, nanoseconds since the run started.
    pub(crate) t: u64,
    pub(crate) node: u32,
    pub(crate) incarnation: u32,
    pub(crate) what: What,
}

/// Opcodes whose `off` is a file offset (or a count): for the others it may be a
/// pointer (`ACCEPT`'s address length, `SEND`'s destination), which differs between
/// runs.
fn off_is_value(opcode: u8) -> bool {
    matches!(
        opcode,
        sys::IORING_OP_READ
            | sys::IORING_OP_WRITE
            | sys::IORING_OP_READV
            | sys::IORING_OP_WRITEV
            | sys::IORING_OP_READ_FIXED
            | sys::IORING_OP_WRITE_FIXED
            | sys::IORING_OP_FALLOCATE
            | sys::IORING_OP_SYNC_FILE_RANGE
            | sys::IORING_OP_FTRUNCATE
            | sys::IORING_OP_FSYNC
            | sys::IORING_OP_TIMEOUT
    )
}

/// Opcodes whose result is a new file descriptor: its number depends on what else
/// the process has open (other tests' threads), so the hash takes only its sign.
fn returns_fd(opcode: u8) -> bool {
    matches!(
        opcode,
        sys::IORING_OP_OPENAT
            | sys::IORING_OP_OPENAT2
            | sys::IORING_OP_ACCEPT
            | sys::IORING_OP_SOCKET
    )
}

pub(crate) struct Trace {
    hash: DefaultHasher,
    events: u64,
    last: VecDeque<Event>,
    keep: usize,
    /// The run's story: every start, crash and note of a node's program (the last
    /// [`STORY`] of them).
    story: VecDeque<Event>,
}

/// How many events of the story a trace keeps.
const STORY: usize = 2000;

impl Trace {
    pub(crate) fn new(keep: usize) -> Trace {
        Trace {
            // SipHash with fixed keys: the same value for the same events in every run
            // of this build.
            hash: DefaultHasher::new(),
            events: 0,
            last: VecDeque::with_capacity(keep.min(4096)),
            keep,
            story: VecDeque::new(),
        }
    }

    pub(crate) fn push(&mut self, e: Event) {
        let h = &mut self.hash;
        h.write_u64(e.t);
        h.write_u32(e.node);
        h.write_u32(e.incarnation);
        match &e.what {
            // File descriptors and buffer addresses are left out: they differ from
            // run to run in a process that does other things.
            What::Submit {
                opcode,
                user_data,
                offset,
                len,
                prep_error,
            } => {
                h.write_u8(1);
                h.write_u8(*opcode);
                h.write_u64(*user_data);
                h.write_u64(if off_is_value(*opcode) { *offset } else { 0 });
                h.write_u64(*len);
                h.write_i32(*prep_error);
            }
            What::Complete {
                opcode,
                user_data,
                res,
                flags,
            } => {
                h.write_u8(2);
                h.write_u8(*opcode);
                h.write_u64(*user_data);
                h.write_i32(if returns_fd(*opcode) {
                    (*res).min(0)
                } else {
                    *res
                });
                h.write_u32(*flags);
            }
            What::Start => h.write_u8(3),
            What::Crash(l) => {
                h.write_u8(4);
                h.write_u64(l.files);
                h.write_u64(l.sectors_lost);
                h.write_u64(l.sectors_kept);
            }
            What::Note(s) => {
                h.write_u8(5);
                h.write(s.as_bytes());
            }
        }
        self.events += 1;
        let told =
            e.node != u32::MAX && matches!(e.what, What::Start | What::Crash(_) | What::Note(_));
        if told {
            if self.story.len() == STORY {
                self.story.pop_front();
            }
            self.story.push_back(e.clone());
        }
        if self.keep > 0 {
            if self.last.len() == self.keep {
                self.last.pop_front();
            }
            self.last.push_back(e);
        }
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash.finish()
    }

    /// The story of the run (starts, crashes, the programs' notes), then the last
    /// events, one a line, with the nodes' names.
    pub(crate) fn render(&self, names: &[String]) -> String {
        let mut out = String::from("the run's story (starts, crashes, the programs' notes):\n");
        Self::lines(&mut out, &self.story, names);
        out.push_str(&format!(
            "the last {} events (time, node#incarnation, event):\n",
            self.last.len()
        ));
        Self::lines(&mut out, &self.last, names);
        out
    }

    fn lines(out: &mut String, events: &VecDeque<Event>, names: &[String]) {
        for e in events {
            let who = match names.get(e.node as usize) {
                Some(name) => format!("{name}#{}", e.incarnation),
                None => "sim".to_string(),
            };
            out.push_str(&format!(
                "  {:>4}.{:06}s {who} {}\n",
                e.t / 1_000_000_000,
                e.t % 1_000_000_000 / 1000,
                Render(&e.what)
            ));
        }
    }
}

fn op_name(opcode: u8) -> &'static str {
    sys::IORING_OP_NAMES
        .get(opcode as usize)
        .copied()
        .unwrap_or("?")
}

fn errno_name(res: i32) -> String {
    if res >= 0 {
        return res.to_string();
    }
    let name = match -res {
        libc::EIO => "EIO",
        libc::ENOSPC => "ENOSPC",
        libc::EINTR => "EINTR",
        libc::ECANCELED => "ECANCELED",
        libc::ETIME => "ETIME",
        libc::EAGAIN => "EAGAIN",
        libc::ECONNRESET => "ECONNRESET",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EPIPE => "EPIPE",
        libc::ENOENT => "ENOENT",
        libc::EALREADY => "EALREADY",
        libc::EBADF => "EBADF",
        libc::EINVAL => "EINVAL",
        _ => return res.to_string(),
    };
    format!("-{name}")
}

struct Render<'a>(&'a What);

impl fmt::Display for Render<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            What::Submit {
                opcode,
                user_data,
                offset,
                len,
                prep_error,
            } => {
                write!(f, "submit   {:<14} ud={user_data:#x}", op_name(*opcode))?;
                if matches!(
                    *opcode,
                    sys::IORING_OP_READ
                        | sys::IORING_OP_WRITE
                        | sys::IORING_OP_READV
                        | sys::IORING_OP_WRITEV
                        | sys::IORING_OP_READ_FIXED
                        | sys::IORING_OP_WRITE_FIXED
                ) {
                    write!(f, " off={offset} len={len}")?;
                }
                if *prep_error != 0 {
                    write!(f, " prep={}", errno_name(*prep_error))?;
                }
                Ok(())
            }
            What::Complete {
                opcode,
                user_data,
                res,
                ..
            } => write!(
                f,
                "complete {:<14} ud={user_data:#x} -> {}",
                op_name(*opcode),
                errno_name(*res)
            ),
            What::Start => f.write_str("*** started"),
            What::Crash(l) => write!(
                f,
                "*** CRASH: {} file(s) with unsynced writes, {} sector(s) lost, {} kept",
                l.files, l.sectors_lost, l.sectors_kept
            ),
            What::Note(s) => write!(f, "note     {s}"),
        }
    }
}
