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
//! first record that is short or whose sum is wrong (a torn write at a crash).
//!
//! When a write or an `fsync` fails, nothing waiting is acknowledged, the store closes
//! its connections and [`serve`] returns the error; `main` starts it again. After a
//! failed `fsync` Linux may have dropped the dirty pages while reads still see them
//! (and a later `fsync` says nothing about them), so a restart must not build on the
//! old log's pages: it copies the valid records into a fresh file, syncs it and
//! renames it over the log.
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
    /// Who waits for `failed`.
    on_failure: RefCell<Vec<Waker>>,
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
    /// Opens the log in `dir`, replays it, and rewrites its valid records into a
    /// fresh file (see the module docs).
    async fn open(dir: &Path, bug: Bug) -> io::Result<Rc<Store>> {
        let (path, fresh) = (dir.join("wal"), dir.join("wal.new"));
        let old = File::options()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await?;
        let size = old.metadata().await?.len();
        let mut log = Vec::new();
        if size > 0 {
            let (res, buf) = old.read_exact_at(vec![0u8; size as usize], 0).await;
            res?;
            log = buf;
        }
        old.close().await?;
        let (records, end) = decode(&log);
        let wal = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&fresh)
            .await?;
        if end > 0 {
            log.truncate(end);
            wal.write_all_at(log, 0).await.0?;
        }
        wal.sync_all().await?;
        uring_rt::fs::rename(&fresh, &path).await?;
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
            on_failure: RefCell::new(Vec::new()),
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

    /// Fails the store: no more writes (see the module docs).
    fn fail(&self) {
        self.failed.set(true);
        for (_, r) in self.queue.borrow_mut().drain(..) {
            answer(&r, false);
        }
        for w in self.on_failure.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// The writer: group commit of whatever is queued, until the store fails.
    async fn writer(self: Rc<Self>) {
        while !self.failed.get() {
            let batch: Vec<(Vec<u8>, Reply)> = self.queue.borrow_mut().drain(..).collect();
            if batch.is_empty() {
                WaitForWork(&self).await;
                continue;
            }
            let bytes: Vec<u8> = batch.iter().flat_map(|(rec, _)| rec.clone()).collect();
            let at = self.end.get();
            let (res, _) = self.wal.write_all_at(bytes.clone(), at).await;
            if let Err(e) = res {
                note(format!("store: write at {at} failed: {e}"));
                batch.iter().for_each(|(_, r)| answer(r, false));
                self.fail();
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
                    batch.iter().for_each(|(_, r)| answer(r, false));
                    self.fail();
                    continue;
                }
            }
            if self.bug != Bug::AckBeforeFsync {
                batch.iter().for_each(|(_, r)| answer(r, true));
            }
        }
    }
}

/// Waits until a `put` wakes the writer, or the store failed.
struct WaitForWork<'a>(&'a Store);

impl Future for WaitForWork<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.queue.borrow().is_empty() && !self.0.failed.get() {
            *self.0.writer.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// Waits until the store failed.
struct Failed<'a>(&'a Store);

impl Future for Failed<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.failed.get() {
            Poll::Ready(())
        } else {
            self.0.on_failure.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// The output of whichever of `a` and `b` finishes first (the other is dropped).
async fn race<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        b.as_mut().poll(cx)
    })
    .await
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
    while !store.failed.get() {
        let Some(line) = race(read_line(&conn, &mut pending), async {
            Failed(&store).await;
            None
        })
        .await
        else {
            return;
        };
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

/// Runs the store kept in `dir` on `listener` until it fails (run it again then).
///
/// # Errors
/// Opening or recovering the log, accepting; `Other` when a write or an `fsync`
/// failed (the store closed its connections).
pub async fn serve(listener: &TcpListener, dir: &Path, bug: Bug) -> io::Result<()> {
    let store = Store::open(dir, bug).await?;
    let _writer = uring_rt::spawn(store.clone().writer());
    loop {
        let accepted = race(async { Some(listener.accept().await) }, async {
            Failed(&store).await;
            None
        })
        .await;
        match accepted {
            Some(conn) => {
                let _conn = uring_rt::spawn(serve_conn(store.clone(), conn?.0));
            }
            None => return Err(io::Error::other("a write or fsync failed")),
        }
    }
}

/// [`serve`] again and again: what a supervisor does for a process that exits.
pub async fn serve_forever(listener: TcpListener, dir: &Path, bug: Bug) {
    loop {
        if let Err(e) = serve(&listener, dir, bug).await {
            note(format!("store: stopped ({e}), starting again"));
            if !uring_rt::sim::is_simulated() {
                eprintln!("kv: stopped ({e}), starting again");
            }
            uring_rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
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
        serve_forever(listener, Path::new(&dir), bug).await;
        Ok(())
    })
}
