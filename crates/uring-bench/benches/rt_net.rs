//! TCP and HTTP servers on `uring-rt` against tokio, monoio, compio and tokio-uring,
//! in one run, over loopback.
//!
//! `cargo bench -p uring-bench --bench rt_net`.
//!
//! **TCP ping-pong.** Each runtime serves an echo server (a task per connection:
//! read up to 16 KiB, write it all back) in a child process of its own, pinned to one
//! CPU; the load, the same client for all, runs in this process pinned to another:
//! `conns` connections, each with one message of `size` bytes in flight (closed
//! loop), sent and received on one `uring::Ring`. Every reply is compared with what was
//! sent (a sequence number and a pattern), byte for byte. A point is
//! `conns ∈ {1, 16, 64, 256}` × `size ∈ {64 B, 1 KiB, 16 KiB}`, a warm-up, then the
//! timed window: messages per second, p50/p99/p99.9 round-trip latency
//! (hdrhistogram, from the send to the last byte of the reply) and the server's CPU
//! time per message (user + system of its whole process, io_uring's kernel threads
//! included, from `/proc/PID/stat`). The runtimes, interleaved point by point:
//! - `ours`: `uring_rt` on the kernel, `ours-engine` on the engine;
//! - `tokio-ct` (current-thread), `tokio-mt1` (multi-thread, 1 worker);
//! - `monoio` (io_uring driver), `monoio-legacy` (epoll);
//! - `compio` (io_uring driver), `tokio-uring`.
//!
//! **HTTP/1.1.** "Hello, World!" with keep-alive through hyper's http1 server, on ours
//! (`uring_rt::hyper`) and on tokio current-thread (hyper-util's `TokioIo` and
//! `TokioTimer`), loaded by `wrk` (pinned like the client) at 16, 64 and 256
//! connections; a non-2xx answer or a socket error fails the bench. Skipped, with a
//! line that says so, when `wrk` is not installed.
//!
//! Targets (issue 12, 64 and 256 connections, 1 KiB): ours ≥ 1.3× tokio-ct and ≥ 1.1×
//! monoio, p99 no worse than tokio-ct's; ours on the engine ≥ 0.9× tokio-ct; HTTP ≥
//! 1.2× tokio + hyper.
//!
//! Environment: `URING_BENCH_SECS` (timed seconds per point, default 1; the issue's
//! figure is 10), `URING_BENCH_WARMUP_MS` (default 300), `URING_BENCH_ONLY=ours,tokio-ct`
//! (only these runtimes), `URING_BENCH_CONNS=64,256`, `URING_BENCH_SIZES=1024`,
//! `URING_BENCH_QUICK=1` (0.3 s per point). Without `--bench` (as `cargo test
//! --all-targets` runs it) one short point per runtime checks that everything works.
//! Writes `target/bench/rt_net.json`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use uring::types::Fd;
use uring::{Ring, opcode, sys};
use uring_bench::report;

/// The runtimes of the ping-pong, in table order.
const IMPLS: &[&str] = &[
    "ours",
    "ours-engine",
    "tokio-ct",
    "tokio-mt1",
    "monoio",
    "monoio-legacy",
    "compio",
    "tokio-uring",
];
/// Variants of ours run only when `URING_BENCH_ONLY` names them (A/B runs):
/// `ours-coop` (`defer_taskrun(false)`: `COOP_TASKRUN` instead of `DEFER_TASKRUN`),
/// `ours-no-taskrun` (`taskrun_flags(false)`), and `ours-mshot` / `ours-mshot-nobundle`
/// (the echo loop on `recv_stream_with`, one multishot receive per connection into a
/// shared pool, with receive bundles where the kernel has them, or without).
const OPT_IN: &[&str] = &[
    "ours-coop",
    "ours-no-taskrun",
    "ours-mshot",
    "ours-mshot-nobundle",
];
const CONNS: &[usize] = &[1, 16, 64, 256];
const SIZES: &[usize] = &[64, 1024, 16384];
const HTTP_CONNS: &[usize] = &[16, 64, 256];
/// The servers' read buffer.
const SERVER_BUF: usize = 16 * 1024;

fn main() {
    if let Ok(kind) = std::env::var("RT_NET_SERVER") {
        server_main(&kind);
        return;
    }
    if let Err(e) = bench() {
        eprintln!("rt_net: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------- the servers ----

/// Runs server `kind` on 127.0.0.1 (an ephemeral port, printed as `PORT n` on stdout)
/// until killed.
fn server_main(kind: &str) {
    if let Some(cpu) = std::env::var("RT_NET_CPU")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        uring_rt::pin_current_thread(cpu).expect("pin the server");
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let announce = move || {
        println!("PORT {port}");
        io::stdout().flush().unwrap();
    };
    match kind {
        "ours" | "ours-engine" => servers::ours(listener, announce, uring_rt::Runtime::builder()),
        "ours-mshot" => servers::ours_multishot(listener, announce, true),
        "ours-mshot-nobundle" => servers::ours_multishot(listener, announce, false),
        "ours-coop" => servers::ours(
            listener,
            announce,
            uring_rt::Runtime::builder().defer_taskrun(false),
        ),
        "ours-no-taskrun" => servers::ours(
            listener,
            announce,
            uring_rt::Runtime::builder().taskrun_flags(false),
        ),
        "tokio-ct" => servers::tokio(listener, announce, false),
        "tokio-mt1" => servers::tokio(listener, announce, true),
        "monoio" => servers::monoio_uring(listener, announce),
        "monoio-legacy" => servers::monoio_legacy(listener, announce),
        "compio" => servers::compio(listener, announce),
        "tokio-uring" => servers::tokio_uring(listener, announce),
        "ours-http" => servers::ours_http(listener, announce),
        "tokio-http" => servers::tokio_http(listener, announce),
        other => panic!("unknown server {other}"),
    }
}

/// The echo loop of the owned-buffer servers (ours, monoio, compio, tokio-uring) on
/// connection `$s`: read up to [`SERVER_BUF`] bytes, write them all back, until end of
/// stream or an error. Each runtime's `read` and `write_all` give the buffer back with
/// the result, in a tuple or in the tuple struct `$pair` (compio's `BufResult`).
macro_rules! echo_owned {
    ($s:ident $(, $($pair:ident)::+)?) => {{
        let mut buf = Vec::with_capacity(SERVER_BUF);
        loop {
            buf.clear();
            let $($($pair)::+)? (res, b) = $s.read(buf).await;
            match res {
                Ok(n) if n > 0 => {}
                _ => break,
            }
            let $($($pair)::+)? (res, b) = $s.write_all(b).await;
            buf = b;
            if res.is_err() {
                break;
            }
        }
    }};
}

mod servers {
    use std::convert::Infallible;
    use std::future::Future;
    use std::net::TcpListener as StdListener;

    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response};

    use super::SERVER_BUF;

    async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        Ok(Response::new(Full::new(Bytes::from_static(
            b"Hello, World!",
        ))))
    }

    /// Serves every connection of `listener` (after `announce`) with a task running
    /// `serve` on it, on a `uring_rt` runtime, until killed.
    fn ours_serve<F: Future<Output = ()> + 'static>(
        listener: StdListener,
        announce: impl FnOnce(),
        builder: uring_rt::Builder,
        serve: impl Fn(uring_rt::net::TcpStream) -> F,
    ) {
        let rt = builder.build().expect("runtime");
        rt.block_on(async {
            let listener = uring_rt::net::TcpListener::from_std(listener).unwrap();
            announce();
            loop {
                let (s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                drop(uring_rt::spawn(serve(s)));
            }
        });
    }

    pub fn ours(listener: StdListener, announce: impl FnOnce(), builder: uring_rt::Builder) {
        ours_serve(
            listener,
            announce,
            builder,
            |s| async move { echo_owned!(s) },
        );
    }

    /// The echo loop on a multishot receive: each buffer received is written back as
    /// it is, into one pool (256 buffers of 16 KiB, growing to 1024) for all
    /// connections, with receive bundles or without.
    pub fn ours_multishot(listener: StdListener, announce: impl FnOnce(), bundles: bool) {
        let pool = std::cell::OnceCell::new();
        ours_serve(listener, announce, uring_rt::Runtime::builder(), |s| {
            let pool: uring_rt::net::BufPool = pool
                .get_or_init(|| {
                    let p = uring_rt::net::BufPool::growable(256, SERVER_BUF as u32, 1024)
                        .expect("pool");
                    p.set_bundles(bundles);
                    p
                })
                .clone();
            async move {
                let mut bytes = s.recv_stream_with(&pool);
                while let Some(Ok(buf)) = bytes.next().await {
                    if s.write_all(buf).await.0.is_err() {
                        break;
                    }
                }
            }
        });
    }

    pub fn ours_http(listener: StdListener, announce: impl FnOnce()) {
        ours_serve(
            listener,
            announce,
            uring_rt::Runtime::builder(),
            |s| async move {
                let _ = http1::Builder::new()
                    .timer(uring_rt::hyper::Timer)
                    .serve_connection(uring_rt::compat::PollIo::new(s), service_fn(hello))
                    .await;
            },
        );
    }

    /// As [`ours_serve`], on a tokio runtime: current-thread, or multi-thread with
    /// one worker when `multi`.
    fn tokio_serve<F: Future<Output = ()> + Send + 'static>(
        listener: StdListener,
        announce: impl FnOnce(),
        multi: bool,
        serve: impl Fn(tokio::net::TcpStream) -> F,
    ) {
        let mut b = if multi {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(1);
            b
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let rt = b.enable_all().build().expect("tokio runtime");
        rt.block_on(async {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            announce();
            loop {
                let (s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio::spawn(serve(s));
            }
        });
    }

    pub fn tokio(listener: StdListener, announce: impl FnOnce(), multi: bool) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tokio_serve(listener, announce, multi, |mut s| async move {
            let mut buf = vec![0u8; SERVER_BUF];
            loop {
                match s.read(&mut buf).await {
                    Ok(n) if n > 0 => {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        });
    }

    pub fn tokio_http(listener: StdListener, announce: impl FnOnce()) {
        use hyper_util::rt::{TokioIo, TokioTimer};
        tokio_serve(listener, announce, false, |s| async move {
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(s), service_fn(hello))
                .await;
        });
    }

    async fn monoio_serve(listener: StdListener, announce: impl FnOnce()) {
        use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
        let listener = monoio::net::TcpListener::from_std(listener).unwrap();
        announce();
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            monoio::spawn(async move { echo_owned!(s) });
        }
    }

    pub fn monoio_uring(listener: StdListener, announce: impl FnOnce()) {
        let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(1024)
            .build()
            .expect("monoio io_uring runtime");
        rt.block_on(monoio_serve(listener, announce));
    }

    pub fn monoio_legacy(listener: StdListener, announce: impl FnOnce()) {
        // The epoll driver accepts with accept(2): a blocking listener would block it.
        listener.set_nonblocking(true).unwrap();
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("monoio legacy runtime");
        rt.block_on(monoio_serve(listener, announce));
    }

    pub fn compio(listener: StdListener, announce: impl FnOnce()) {
        use compio::io::{AsyncRead, AsyncWriteExt};
        let rt = compio::runtime::Runtime::new().expect("compio runtime");
        rt.block_on(async {
            let listener = compio::net::TcpListener::from_std(listener).unwrap();
            announce();
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                compio::runtime::spawn(async move { echo_owned!(s, compio::BufResult) }).detach();
            }
        });
    }

    pub fn tokio_uring(listener: StdListener, announce: impl FnOnce()) {
        tokio_uring::start(async {
            let listener = tokio_uring::net::TcpListener::from_std(listener);
            announce();
            loop {
                let (s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio_uring::spawn(async move { echo_owned!(s) });
            }
        });
    }
}

// ---------------------------------------------------------- CPUs and processes ----

/// CPU time of process `pid` so far: the sum over its threads (io_uring's and the
/// runtimes' worker threads included) of the time each spent on a CPU, from
/// `/proc/PID/task/TID/schedstat` (nanoseconds, unlike `stat`'s clock ticks).
fn process_cpu(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// A server child process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(kind: &str, cpu: Option<usize>) -> io::Result<Server> {
        let (server_kind, backend) = match kind {
            "ours-engine" => ("ours", Some("engine")),
            "ours"
            | "ours-http"
            | "ours-coop"
            | "ours-no-taskrun"
            | "ours-mshot"
            | "ours-mshot-nobundle" => (kind, Some("kernel")),
            _ => (kind, None),
        };
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.env("RT_NET_SERVER", server_kind)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(cpu) = cpu {
            cmd.env("RT_NET_CPU", cpu.to_string());
        }
        match backend {
            Some(b) => cmd.env("URING_BACKEND", b),
            None => cmd.env_remove("URING_BACKEND"),
        };
        let mut child = cmd.spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| io::Error::other(format!("server {kind} said {line:?}")))?;
        Ok(Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    fn cpu(&self) -> Duration {
        process_cpu(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ the client ----

/// One connection of the client.
struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    inb: Vec<u8>,
    sent: usize,
    got: usize,
    start: Instant,
    seq: u64,
    done: bool,
}

impl Conn {
    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// The next message: the sequence number at both ends of a fixed pattern.
    fn next_message(&mut self, now: Instant) {
        self.seq += 1;
        let tag = self.seq.to_le_bytes();
        let n = self.out.len();
        let k = n.min(8);
        self.out[..k].copy_from_slice(&tag[..k]);
        if n >= 16 {
            self.out[n - 8..].copy_from_slice(&tag);
        }
        self.sent = 0;
        self.got = 0;
        self.start = now;
    }
}

/// What one point measured.
struct Point {
    messages: u64,
    secs: f64,
    hist: Histogram<u64>,
    server_cpu: Duration,
    client_cpu: Duration,
}

const UD_RECV: u64 = 1;

fn push(ring: &mut Ring, sqe: &uring::Sqe) {
    loop {
        // SAFETY: the SQE points into a connection's `out` or `inb` buffer, which lives
        // (unmoved: the Vec is never resized) until the run ends, after the last CQE.
        if unsafe { ring.submission().push(sqe) }.is_ok() {
            return;
        }
        ring.submit().expect("submit");
    }
}

fn push_send(ring: &mut Ring, i: usize, c: &Conn) {
    let rest = &c.out[c.sent..];
    let sqe = opcode::Send::new(Fd(c.fd()), rest.as_ptr(), rest.len() as u32)
        .build()
        .user_data((i as u64) << 1);
    push(ring, &sqe);
}

fn push_recv(ring: &mut Ring, i: usize, c: &mut Conn) {
    let fd = c.fd();
    let rest = &mut c.inb[c.got..];
    let sqe = opcode::Recv::new(Fd(fd), rest.as_mut_ptr(), rest.len() as u32)
        .build()
        .user_data((i as u64) << 1 | UD_RECV);
    push(ring, &sqe);
}

/// Runs `conns` connections of ping-pong with `size`-byte messages against `server`:
/// `warmup`, then `window` timed.
fn ping_pong(
    server: &Server,
    conns: usize,
    size: usize,
    warmup: Duration,
    window: Duration,
) -> io::Result<Point> {
    let mut cs = Vec::with_capacity(conns);
    for i in 0..conns {
        let stream = TcpStream::connect(server.addr)?;
        stream.set_nodelay(true)?;
        let out: Vec<u8> = (0..size).map(|j| ((i * 7 + j) % 251) as u8).collect();
        cs.push(Conn {
            stream,
            out,
            inb: vec![0; size],
            sent: 0,
            got: 0,
            start: Instant::now(),
            seq: 0,
            done: false,
        });
    }
    let entries = (2 * conns).next_power_of_two().max(64) as u32;
    let mut ring = Ring::builder()
        .build_preferring(
            entries,
            &[
                sys::IORING_SETUP_SINGLE_ISSUER | sys::IORING_SETUP_DEFER_TASKRUN,
                sys::IORING_SETUP_COOP_TASKRUN,
                0,
            ],
        )
        .map_err(io::Error::from)?;
    let begin = Instant::now();
    let t0 = begin + warmup;
    let t1 = t0 + window;
    for (i, c) in cs.iter_mut().enumerate() {
        c.next_message(begin);
        push_send(&mut ring, i, c);
        push_recv(&mut ring, i, c);
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    let mut messages = 0u64;
    let mut cpu0 = None;
    let mut cpu1 = None;
    let mut active = conns;
    let mut cqes = Vec::with_capacity(2 * conns);
    while active > 0 {
        ring.submit_and_wait(1)
            .or_else(|e| match e.raw_os_error() {
                Some(libc::EINTR | libc::EAGAIN | libc::EBUSY) => Ok(0),
                _ => Err(e),
            })?;
        cqes.clear();
        cqes.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        let now = Instant::now();
        if cpu0.is_none() && now >= t0 {
            cpu0 = Some((server.cpu(), uring_bench::thread_cpu_time(), now));
        }
        if cpu1.is_none() && now >= t1 {
            cpu1 = Some((server.cpu(), uring_bench::thread_cpu_time(), now));
        }
        for &(ud, res) in &cqes {
            let i = (ud >> 1) as usize;
            let c = &mut cs[i];
            if res < 0 {
                return Err(io::Error::from_raw_os_error(-res));
            }
            let n = res as usize;
            if ud & UD_RECV == 0 {
                c.sent += n;
                if n == 0 {
                    return Err(io::Error::other("send wrote nothing"));
                }
                if c.sent < size {
                    push_send(&mut ring, i, c);
                }
                continue;
            }
            if n == 0 {
                return Err(io::Error::other(format!(
                    "connection {i}: the server closed it (seq {})",
                    c.seq
                )));
            }
            c.got += n;
            if c.got < size {
                push_recv(&mut ring, i, c);
                continue;
            }
            if c.inb != c.out {
                return Err(io::Error::other(format!(
                    "connection {i}: reply {} differs from the message",
                    c.seq
                )));
            }
            if now >= t0 && now < t1 {
                messages += 1;
                let ns = now.duration_since(c.start).as_nanos() as u64;
                hist.record(ns.max(1)).expect("in range");
            }
            if now < t1 {
                c.next_message(now);
                push_send(&mut ring, i, c);
                push_recv(&mut ring, i, c);
            } else if !c.done {
                c.done = true;
                active -= 1;
            }
        }
    }
    let (Some((s0, c0, w0)), Some((s1, c1, w1))) = (cpu0, cpu1) else {
        return Err(io::Error::other("the window was never reached"));
    };
    Ok(Point {
        messages,
        secs: w1.duration_since(w0).as_secs_f64(),
        hist,
        server_cpu: s1.saturating_sub(s0),
        client_cpu: c1.saturating_sub(c0),
    })
}

// --------------------------------------------------------------------- wrk -------

/// What `wrk` measured.
struct WrkResult {
    rate: f64,
    p50_us: f64,
    p99_us: f64,
    requests: u64,
}

fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A wrk duration such as `123.45us` in microseconds.
fn wrk_time_us(s: &str) -> Option<f64> {
    let (num, mul) = if let Some(v) = s.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * mul)
}

fn run_wrk(addr: SocketAddr, conns: usize, secs: u64) -> io::Result<WrkResult> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
            &format!("http://{addr}/"),
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(io::Error::other(format!("wrk failed: {text}")));
    }
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(io::Error::other(format!("wrk saw errors:\n{text}")));
    }
    let mut r = WrkResult {
        rate: 0.0,
        p50_us: 0.0,
        p99_us: 0.0,
        requests: 0,
    };
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["Requests/sec:", v] => r.rate = v.parse().unwrap_or(0.0),
            ["50%", v] => r.p50_us = wrk_time_us(v).unwrap_or(0.0),
            ["99%", v] => r.p99_us = wrk_time_us(v).unwrap_or(0.0),
            [n, "requests", "in", ..] => r.requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    if r.rate == 0.0 {
        return Err(io::Error::other(format!(
            "no rate in wrk's output:\n{text}"
        )));
    }
    Ok(r)
}

// ------------------------------------------------------------------ the bench ----

fn env_secs(name: &str) -> Option<f64> {
    let v = std::env::var(name).ok()?;
    match v.parse::<f64>() {
        Ok(s) if s > 0.0 => Some(s),
        _ => panic!("{name}={v:?} is not a positive number"),
    }
}

fn env_usizes(name: &str) -> Option<Vec<usize>> {
    report::env_list(name).map(|l| {
        l.iter()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name}: {v:?} is not a number"))
            })
            .collect()
    })
}

fn bench() -> io::Result<()> {
    let test = report::test_mode();
    let secs = if test {
        0.05
    } else if report::quick() {
        0.3
    } else {
        env_secs("URING_BENCH_SECS").unwrap_or(1.0)
    };
    let warmup = Duration::from_millis(if test {
        20
    } else {
        report::env_number("URING_BENCH_WARMUP_MS").unwrap_or(300)
    });
    let window = Duration::from_secs_f64(secs);
    let only = report::env_list("URING_BENCH_ONLY");
    let impls: Vec<&str> = IMPLS
        .iter()
        .chain(OPT_IN)
        .copied()
        .filter(|i| match &only {
            Some(o) => o.iter().any(|x| x == i),
            None => !OPT_IN.contains(i),
        })
        .collect();
    let conns_list = env_usizes("URING_BENCH_CONNS")
        .unwrap_or_else(|| if test { vec![1, 16] } else { CONNS.to_vec() });
    let sizes = env_usizes("URING_BENCH_SIZES")
        .unwrap_or_else(|| if test { vec![1024] } else { SIZES.to_vec() });

    let cpus = uring_rt::allowed_cpus();
    let (server_cpu, client_cpu) = match cpus.as_slice() {
        [] => (None, None),
        [one] => (Some(*one), Some(*one)),
        [a, b, ..] => (Some(*a), Some(*b)),
    };
    let machine = report::machine();
    if let Some(cpu) = client_cpu {
        uring_rt::pin_current_thread(cpu)?;
    }
    let keys = [
        "URING_BENCH_SECS",
        "URING_BENCH_WARMUP_MS",
        "URING_BENCH_ONLY",
        "URING_BENCH_CONNS",
        "URING_BENCH_SIZES",
        "URING_BENCH_QUICK",
    ];
    let command = format!(
        "{}cargo bench -p uring-bench --bench rt_net",
        uring_bench::settings(&keys)
    );
    println!("## rt_net: loopback TCP ping-pong and HTTP/1.1, one run\n");
    report::print_machine(&command, &machine);
    println!(
        "- server on CPU {server_cpu:?}, client (and wrk) on CPU {client_cpu:?}; \
         {secs} s per point after {} ms of warm-up\n",
        warmup.as_millis()
    );

    // Every server runs for the whole bench; idle ones cost nothing.
    let mut servers = Vec::new();
    for &kind in &impls {
        match Server::start(kind, server_cpu) {
            Ok(s) => servers.push((kind, s)),
            Err(e) => println!("- {kind}: SKIPPED, the server did not start: {e}"),
        }
    }
    let mut points = Vec::new();
    for &size in &sizes {
        for &conns in &conns_list {
            // Runtimes interleaved at each point, so that the machine's load at that
            // moment weighs on all of them.
            for (kind, server) in &servers {
                let p = ping_pong(server, conns, size, warmup, window)
                    .map_err(|e| io::Error::other(format!("{kind} {conns}x{size}: {e}")))?;
                let rate = p.messages as f64 / p.secs;
                let per = |d: Duration| d.as_secs_f64() * 1e6 / p.messages.max(1) as f64;
                points.push(json!({
                    "impl": kind, "conns": conns, "size": size,
                    "messages": p.messages, "secs": p.secs, "rate": rate,
                    "p50_us": p.hist.value_at_quantile(0.5) as f64 / 1e3,
                    "p99_us": p.hist.value_at_quantile(0.99) as f64 / 1e3,
                    "p999_us": p.hist.value_at_quantile(0.999) as f64 / 1e3,
                    "server_cpu_us_per_msg": per(p.server_cpu),
                    "client_cpu_busy": p.client_cpu.as_secs_f64() / p.secs,
                }));
            }
        }
    }
    print_tables(&points, &impls, &conns_list, &sizes);
    let ratios = ratios(&points, &conns_list, &sizes);
    println!("\n### Ratios (rate, and p99 latency where named)\n");
    for (k, v) in ratios.as_object().into_iter().flatten() {
        println!("- {k}: {:.2}", v.as_f64().unwrap_or(0.0));
    }
    drop(servers);

    // HTTP through hyper, loaded by wrk.
    let mut http = Vec::new();
    if !wrk_available() {
        println!("\n### HTTP/1.1: SKIPPED — `wrk` is not installed (apt-get install wrk)");
    } else if only.is_some() && !impls.contains(&"ours") {
        println!("\n### HTTP/1.1: skipped (URING_BENCH_ONLY leaves ours out)");
    } else {
        let wrk_secs = secs.round().max(1.0) as u64;
        let http_conns: &[usize] = if test { &[16] } else { HTTP_CONNS };
        let mut hs = Vec::new();
        for kind in ["ours-http", "tokio-http"] {
            hs.push((kind, Server::start(kind, server_cpu)?));
        }
        println!(
            "\n### HTTP/1.1 hello world, hyper http1 with keep-alive, wrk -t1 -d{wrk_secs}s\n"
        );
        println!("| conns | server | requests/s | p50 µs | p99 µs | server CPU µs/req |");
        println!("|---:|---|---:|---:|---:|---:|");
        for &conns in http_conns {
            for (kind, server) in &hs {
                let c0 = server.cpu();
                let r = run_wrk(server.addr, conns, wrk_secs)?;
                let cpu = server.cpu().saturating_sub(c0);
                let cpu_per = cpu.as_secs_f64() * 1e6 / r.requests.max(1) as f64;
                println!(
                    "| {conns} | {kind} | {:.0} | {:.0} | {:.0} | {cpu_per:.2} |",
                    r.rate, r.p50_us, r.p99_us
                );
                http.push(json!({
                    "impl": kind, "conns": conns, "rate": r.rate, "requests": r.requests,
                    "p50_us": r.p50_us, "p99_us": r.p99_us, "server_cpu_us_per_req": cpu_per,
                }));
            }
        }
        for &conns in http_conns {
            let rate = |k: &str| {
                http.iter()
                    .find(|p| p["impl"] == k && p["conns"] == conns)
                    .and_then(|p| p["rate"].as_f64())
            };
            if let (Some(a), Some(b)) = (rate("ours-http"), rate("tokio-http")) {
                println!("- HTTP ours/tokio+hyper @{conns}: {:.2}", a / b);
            }
        }
    }

    if test {
        println!("\n(test mode: no JSON written)");
        return Ok(());
    }
    let report = json!({
        "bench": "rt_net",
        "command": command,
        "machine": machine,
        "load_at_end": report::loadavg(),
        "secs_per_point": secs,
        "warmup_ms": warmup.as_millis() as u64,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "points": points,
        "ratios": ratios,
        "http": http,
    });
    if only.is_none() {
        let path = report::write_json(env!("CARGO_TARGET_TMPDIR"), "rt_net", &report)?;
        println!("\nwrote {}", path.display());
    } else {
        println!("\n(URING_BENCH_ONLY set: no JSON written)");
    }
    Ok(())
}

fn find<'a>(points: &'a [Value], kind: &str, conns: usize, size: usize) -> Option<&'a Value> {
    points
        .iter()
        .find(|p| p["impl"] == kind && p["conns"] == conns && p["size"] == size)
}

fn print_tables(points: &[Value], impls: &[&str], conns: &[usize], sizes: &[usize]) {
    let tables: [(&str, &str, f64); 4] = [
        ("Messages per second (thousands)", "rate", 1e-3),
        ("p99 round trip (µs)", "p99_us", 1.0),
        ("p50 / p99.9 round trip (µs)", "p50_us", 1.0),
        ("Server CPU per message (µs)", "server_cpu_us_per_msg", 1.0),
    ];
    for (title, key, scale) in tables {
        println!("\n### {title}\n");
        print!("| conns × size |");
        for i in impls {
            print!(" {i} |");
        }
        println!();
        print!("|---|");
        for _ in impls {
            print!("---:|");
        }
        println!();
        for &size in sizes {
            for &c in conns {
                print!("| {c} × {size} |");
                for i in impls {
                    match find(points, i, c, size) {
                        Some(p) if key == "p50_us" => print!(
                            " {:.0} / {:.0} |",
                            p["p50_us"].as_f64().unwrap_or(0.0),
                            p["p999_us"].as_f64().unwrap_or(0.0)
                        ),
                        Some(p) => print!(" {:.1} |", p[key].as_f64().unwrap_or(0.0) * scale),
                        None => print!(" – |"),
                    }
                }
                println!();
            }
        }
    }
    println!("\nClient CPU busy (fraction of the window) at each point, ours:");
    for &size in sizes {
        for &c in conns {
            if let Some(p) = find(points, "ours", c, size) {
                print!(
                    " {c}×{size}: {:.2};",
                    p["client_cpu_busy"].as_f64().unwrap_or(0.0)
                );
            }
        }
    }
    println!();
}

/// The ratios the targets name, and the same for every point.
fn ratios(points: &[Value], conns: &[usize], sizes: &[usize]) -> Value {
    let mut out = serde_json::Map::new();
    let pairs = [
        ("ours/tokio-ct", "ours", "tokio-ct", "rate"),
        ("ours/tokio-mt1", "ours", "tokio-mt1", "rate"),
        ("ours/monoio", "ours", "monoio", "rate"),
        ("ours/monoio-legacy", "ours", "monoio-legacy", "rate"),
        ("ours/compio", "ours", "compio", "rate"),
        ("ours/tokio-uring", "ours", "tokio-uring", "rate"),
        ("ours-engine/tokio-ct", "ours-engine", "tokio-ct", "rate"),
        ("p99 ours/tokio-ct", "ours", "tokio-ct", "p99_us"),
    ];
    for &size in sizes {
        for &c in conns {
            for (name, a, b, key) in pairs {
                let (Some(pa), Some(pb)) = (find(points, a, c, size), find(points, b, c, size))
                else {
                    continue;
                };
                let (Some(x), Some(y)) = (pa[key].as_f64(), pb[key].as_f64()) else {
                    continue;
                };
                if y > 0.0 {
                    out.insert(format!("{name} @{c}x{size}"), json!(x / y));
                }
            }
        }
    }
    Value::Object(out)
}
