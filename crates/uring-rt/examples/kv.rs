//! A small key-value store with a write-ahead log, served over TCP: the program
//! `tests/sim_kv.rs` tests by simulation, with crashes, I/O errors and a faulty network.
//!
//! `cargo run -p uring-rt --example kv -- DIR [ADDR] [--bug ack-before-fsync|ignore-fsync-error]`
//! serves the store kept in `DIR` at `ADDR` (default 127.0.0.1:7878). The protocol is
//! one line per request: `PUT key value` → `OK` once the write is durable (or `ERR`),
//! `GET key` → `VAL value` or `NONE`. Try it with `nc 127.0.0.1 7878`.
//!
//! # The log
//! Every `PUT` becomes a record appended to `DIR/wal`: `len: u32, sum: u64, key_len:
//! u16, key, value` (little-endian, `sum` a hash of the rest). One writer task takes
//! the records that are waiting, writes them in one go and `fsync`s them (group
//! commit); only then are they acknowledged. At start the log is read back up to the
//! first record that is short or whose sum is wrong (a torn write at a crash), and cut
//! there.
//!
//! When a write or an `fsync` fails, nothing waiting is acknowledged, and the store
//! stops taking writes (`ERR`) until it restarts: after a failed `fsync`, Linux may
//! have dropped the dirty pages and a later `fsync` would say nothing about them, so
//! the store cannot tell what is on disk any more (the PostgreSQL answer to
//! "fsyncgate": fail, and recover from the log at the next start).
//!
//! # The planted bugs
//! `--bug ack-before-fsync` acknowledges a batch as soon as it is written, before its
//! `fsync` completes; `--bug ignore-fsync-error` acknowledges it when its `fsync`
//! fails and goes on. A crash at the wrong moment then loses an acknowledged write;
//! `tests/sim_kv.rs` finds both.
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use uring_rt::fs::File;
use uring_rt::net::{TcpListener, TcpStream};
use uring_rt::sim::note;

/// A planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The store is correct.
    None,
    /// Acknowledges a write before its fsync completed.
    AckBeforeFsync,
    /// Ignores a failed fsync: acknowledges and goes on.
    IgnoreFsyncError,
}

/// The state of a running store.
struct Store {
    wal: File,
    /// The end of the valid log: where the next record goes.
    end: Cell<u64>,
    map: RefCell<BTreeMap<String, String>>,
    /// Records waiting for the writer, each with where to send the answer.
    queue: RefCell<VecDeque<(Vec<u8>, Reply)>>,
    writer: RefCell<Option<Waker>>,
    /// A write or fsync failed: no more writes until a restart.
    failed: Cell<bool>,
    bug: Bug,
}

/// A one-shot answer: `Some(true)` durable, `Some(false)` failed.
type Reply = Rc<RefCell<(Option<bool>, Option<Waker>)>>;

fn answer(r: &Reply, ok: bool) {
    let w = {
        let mut r = r.borrow_mut();
        r.0 = Some(ok);
        r.1.take()
    };
    if let Some(w) = w {
        w.wake();
    }
}

struct Answer(Reply);

impl Future for Answer {
    type Output = bool;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut r = self.0.borrow_mut();
        match r.0 {
            Some(ok) => Poll::Ready(ok),
            None => {
                r.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// 64-bit FNV-1a: the record checksum.
fn sum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn encode(key: &str, value: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(2 + key.len() + value.len());
    body.extend_from_slice(&(key.len() as u16).to_le_bytes());
    body.extend_from_slice(key.as_bytes());
    body.extend_from_slice(value.as_bytes());
    let mut rec = Vec::with_capacity(12 + body.len());
    rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
    rec.extend_from_slice(&sum(&body).to_le_bytes());
    rec.extend_from_slice(&body);
    rec
}

/// Parses the records of `log`; returns them and where the valid log ends.
fn decode(log: &[u8]) -> (Vec<(String, String)>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while log.len() - at >= 12 {
        let len = u32::from_le_bytes(log[at..at + 4].try_into().unwrap()) as usize;
        let want = u64::from_le_bytes(log[at + 4..at + 12].try_into().unwrap());
        let Some(body) = log.get(at + 12..at + 12 + len) else {
            break;
        };
        if len < 2 || sum(body) != want {
            break;
        }
        let klen = u16::from_le_bytes([body[0], body[1]]) as usize;
        let (Some(k), Some(v)) = (body.get(2..2 + klen), body.get(2 + klen..)) else {
            break;
        };
        let (Ok(k), Ok(v)) = (std::str::from_utf8(k), std::str::from_utf8(v)) else {
            break;
        };
        out.push((k.to_string(), v.to_string()));
        at += 12 + len;
    }
    (out, at)
}

impl Store {
    /// Opens the log in `dir` and replays it.
    async fn open(dir: &Path, bug: Bug) -> io::Result<Rc<Store>> {
        let wal = File::options()
            .read(true)
            .write(true)
            .create(true)
            .open(dir.join("wal"))
            .await?;
        let size = wal.metadata().await?.len();
        let mut log = Vec::new();
        if size > 0 {
            let (res, buf) = wal.read_exact_at(vec![0u8; size as usize], 0).await;
            res?;
            log = buf;
        }
        let (records, end) = decode(&log);
        if end as u64 != size {
            // A torn or partial record at the end (a crash): cut it off.
            wal.set_len(end as u64).await?;
            wal.sync_all().await?;
        }
        note(format!(
            "store: recovered {} records ({end} of {size} bytes)",
            records.len()
        ));
        Ok(Rc::new(Store {
            wal,
            end: Cell::new(end as u64),
            map: RefCell::new(records.into_iter().collect()),
            queue: RefCell::new(VecDeque::new()),
            writer: RefCell::new(None),
            failed: Cell::new(false),
            bug,
        }))
    }

    /// Queues a record for the writer and waits until it is durable (or failed).
    async fn put(&self, key: &str, value: &str) -> bool {
        if self.failed.get() {
            return false;
        }
        let reply: Reply = Rc::new(RefCell::new((None, None)));
        self.queue
            .borrow_mut()
            .push_back((encode(key, value), reply.clone()));
        if let Some(w) = self.writer.borrow_mut().take() {
            w.wake();
        }
        let ok = Answer(reply).await;
        if ok {
            self.map
                .borrow_mut()
                .insert(key.to_string(), value.to_string());
        }
        ok
    }

    /// The writer: group commit of whatever is queued, forever.
    async fn writer(self: Rc<Self>) {
        loop {
            let batch: Vec<(Vec<u8>, Reply)> = self.queue.borrow_mut().drain(..).collect();
            if batch.is_empty() {
                WaitForWork(&self).await;
                continue;
            }
            if self.failed.get() {
                batch.iter().for_each(|(_, r)| answer(r, false));
                continue;
            }
            let bytes: Vec<u8> = batch.iter().flat_map(|(rec, _)| rec.clone()).collect();
            let at = self.end.get();
            let (res, _) = self.wal.write_all_at(bytes.clone(), at).await;
            if let Err(e) = res {
                note(format!("store: write at {at} failed: {e}"));
                self.failed.set(true);
                batch.iter().for_each(|(_, r)| answer(r, false));
                continue;
            }
            self.end.set(at + bytes.len() as u64);
            if self.bug == Bug::AckBeforeFsync {
                note(format!(
                    "store: BUG acks {} records before fsync",
                    batch.len()
                ));
                batch.iter().for_each(|(_, r)| answer(r, true));
            }
            let synced = self.wal.sync_data().await;
            match synced {
                Ok(()) => note(format!("store: {} records durable", batch.len())),
                Err(e) if self.bug == Bug::IgnoreFsyncError => {
                    note(format!("store: BUG ignores a failed fsync ({e})"));
                }
                Err(e) => {
                    note(format!("store: fsync failed ({e}): no more writes"));
                    self.failed.set(true);
                    batch.iter().for_each(|(_, r)| answer(r, false));
                    continue;
                }
            }
            if self.bug != Bug::AckBeforeFsync {
                batch.iter().for_each(|(_, r)| answer(r, true));
            }
        }
    }
}

/// Waits until a `put` wakes the writer.
struct WaitForWork<'a>(&'a Store);

impl Future for WaitForWork<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.queue.borrow().is_empty() {
            *self.0.writer.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// Reads one line (without its `\n`) from `conn`, keeping what follows in `pending`.
/// `None` at the end of the stream or on an error.
pub async fn read_line(conn: &TcpStream, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            return String::from_utf8(line[..i].to_vec()).ok();
        }
        let (res, buf) = conn.read(Vec::with_capacity(512)).await;
        match res {
            Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

async fn serve_conn(store: Rc<Store>, conn: TcpStream) {
    let mut pending = Vec::new();
    while let Some(line) = read_line(&conn, &mut pending).await {
        let mut words = line.splitn(3, ' ');
        let reply = match (words.next(), words.next(), words.next()) {
            (Some("PUT"), Some(k), Some(v)) => {
                if store.put(k, v).await {
                    "OK\n".to_string()
                } else {
                    "ERR\n".to_string()
                }
            }
            (Some("GET"), Some(k), None) => match store.map.borrow().get(k) {
                Some(v) => format!("VAL {v}\n"),
                None => "NONE\n".to_string(),
            },
            _ => "ERR bad request\n".to_string(),
        };
        if conn.write_all(reply.into_bytes()).await.0.is_err() {
            return;
        }
    }
}

/// Runs the store kept in `dir` on `listener` until the runtime stops.
///
/// # Errors
/// Opening or recovering the log, accepting.
pub async fn serve(listener: TcpListener, dir: &Path, bug: Bug) -> io::Result<()> {
    let store = Store::open(dir, bug).await?;
    let _writer = uring_rt::spawn(store.clone().writer());
    loop {
        let (conn, _) = listener.accept().await?;
        let _conn = uring_rt::spawn(serve_conn(store.clone(), conn));
    }
}

fn main() -> io::Result<()> {
    let mut dir = None;
    let mut addr = "127.0.0.1:7878".to_string();
    let mut bug = Bug::None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bug" => {
                bug = match args.next().as_deref() {
                    Some("ack-before-fsync") => Bug::AckBeforeFsync,
                    Some("ignore-fsync-error") => Bug::IgnoreFsyncError,
                    other => {
                        eprintln!("kv: --bug {other:?}: ack-before-fsync or ignore-fsync-error");
                        std::process::exit(2);
                    }
                }
            }
            _ if dir.is_none() => dir = Some(a),
            _ => addr = a,
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: kv DIR [ADDR] [--bug ack-before-fsync|ignore-fsync-error]");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    uring_rt::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!("kv: serving {dir} at {}", listener.local_addr()?);
        serve(listener, Path::new(&dir), bug).await
    })
}
