//! Ping-pong with NAPI busy polling: the Rust version of liburing's
//! `examples/napi-busy-poll-server.c` and `napi-busy-poll-client.c` (liburing 2.15).
//!
//! ```text
//! cargo run --release -p uring-rt --example napi_busy_poll -- [MODE] [OPTIONS]
//!   MODE          server | client | both (default both: server and client on two
//!                 threads of this process, over loopback)
//!   -a ADDR       address to listen on / connect to (default 127.0.0.1)
//!   -p PORT       port (default 4444)
//!   -n PINGS      pings to send / answer (default 10000)
//!   -t USEC       NAPI busy-poll timeout in microseconds (default 50; 0: no NAPI)
//!   -u            prefer busy polling (defer the device's interrupts)
//! ```
//!
//! Each side registers NAPI on its runtime's ring (`IORING_REGISTER_NAPI`,
//! [`uring_rt::Runtime::register_napi`]) and reports the connection's NAPI id
//! (`SO_INCOMING_NAPI_ID`: loopback has none, a real NIC's receive queue has one).
//! The client sends its clock (`CLOCK_REALTIME`, as the C client) and prints the
//! round-trip times as the C client does: `rtt(us) min/avg/max/mdev`.
//!
//! As in the C pair, the pings are UDP datagrams (`recvmsg`/`sendmsg` there,
//! `recv_from`/`send_to` and a connected socket's `send`/`recv` here). Differences:
//! the runtime waits in the ring rather than spinning (the C programs' `-b`), and the
//! real-time scheduling class is not asked for. On the engine
//! backend (`URING_BACKEND=engine`) NAPI cannot be registered (the engine cannot poll
//! a device's queues from user space): the example says so and runs without it.
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use uring_rt::net::UdpSocket;
use uring_rt::{IoBuf, Runtime};

/// A ping: the sender's `CLOCK_REALTIME` in nanoseconds, 16 bytes.
const PING: usize = 16;

/// `SO_INCOMING_NAPI_ID` (asm-generic/socket.h), not in every libc crate.
const SO_INCOMING_NAPI_ID: libc::c_int = 56;

struct Options {
    mode: String,
    addr: String,
    port: u16,
    pings: usize,
    timeout_us: u64,
    prefer: bool,
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{msg}\nusage: napi_busy_poll [server|client|both] [-a ADDR] [-p PORT] [-n PINGS] [-t USEC] [-u]"
        ),
    )
}

fn parse() -> io::Result<Options> {
    let mut o = Options {
        mode: "both".into(),
        addr: "127.0.0.1".into(),
        port: 4444,
        pings: 10_000,
        timeout_us: 50,
        prefer: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| usage(&format!("{name}: a value")))
        };
        match a.as_str() {
            "server" | "client" | "both" => o.mode = a,
            "-a" => o.addr = value("-a")?,
            "-p" => o.port = value("-p")?.parse().map_err(|_| usage("-p: a port"))?,
            "-n" => o.pings = value("-n")?.parse().map_err(|_| usage("-n: a count"))?,
            "-t" => o.timeout_us = value("-t")?.parse().map_err(|_| usage("-t: µs"))?,
            "-u" => o.prefer = true,
            "-h" | "--help" => return Err(usage("")),
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    Ok(o)
}

/// A runtime with NAPI registered where the backend has it.
fn runtime(who: &str, o: &Options) -> io::Result<Runtime> {
    let rt = Runtime::new()?;
    if o.timeout_us == 0 && !o.prefer {
        println!("{who}: NAPI off (-t 0)");
        return Ok(rt);
    }
    match rt.register_napi(Duration::from_micros(o.timeout_us), o.prefer) {
        Ok(_) => println!(
            "{who}: NAPI busy poll registered on the {} ring: {} µs{}",
            rt.backend().name(),
            o.timeout_us,
            if o.prefer { ", preferred" } else { "" }
        ),
        Err(e) if rt.backend() == uring_rt::Backend::Engine => println!(
            "{who}: running without NAPI on the engine backend ({e}): the engine cannot \
             poll a network device's queues from user space"
        ),
        Err(e) => println!("{who}: running without NAPI: the kernel refused it ({e})"),
    }
    Ok(rt)
}

/// Prints the socket's NAPI id, as the C programs' `reportNapi`.
fn report_napi(who: &str, s: &UdpSocket) {
    let mut id: u32 = 0;
    let mut len = size_of::<u32>() as libc::socklen_t;
    // SAFETY: `id` and `len` are valid for writes of the sizes given; the descriptor
    // is the stream's, open while `s` lives.
    let r = unsafe {
        libc::getsockopt(
            s.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            SO_INCOMING_NAPI_ID,
            (&raw mut id).cast(),
            &mut len,
        )
    };
    if r == 0 && id != 0 {
        println!("{who}: napi id: {id}");
    } else {
        println!("{who}: unassigned napi id");
    }
}

/// `CLOCK_REALTIME` in nanoseconds since the epoch.
fn now_realtime_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn encode(ns: u128) -> Vec<u8> {
    ns.to_le_bytes().to_vec()
}

fn decode_ns(b: &[u8]) -> u128 {
    u128::from_le_bytes(b[..PING].try_into().unwrap_or_default())
}

async fn server(sock: UdpSocket, pings: usize) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    for i in 0..pings {
        buf.clear();
        let (res, b) = sock.recv_from(buf).await;
        let (n, peer) = res?;
        if i == 0 {
            println!("server: first ping from {peer}");
            report_napi("server", &sock);
        }
        let (res, b) = sock.send_to(b.slice(..n), peer).await;
        res?;
        buf = b.into_inner();
    }
    Ok(())
}

async fn client(addr: SocketAddr, pings: usize) -> io::Result<()> {
    println!("client: sending {pings} pings to {addr}");
    let local: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse()
    } else {
        "0.0.0.0:0".parse()
    }
    .map_err(|_| io::Error::other("a wildcard address"))?;
    let sock = UdpSocket::bind(local).await?;
    sock.connect(addr).await?;
    let mut rtt = Vec::with_capacity(pings);
    let mut buf = Vec::with_capacity(64);
    for i in 0..pings {
        let (res, _) = sock.send(encode(now_realtime_ns())).await;
        res?;
        buf.clear();
        let (res, b) = sock.recv(buf).await;
        buf = b;
        if res? != PING {
            return Err(io::Error::other("a reply of the wrong length"));
        }
        rtt.push(now_realtime_ns().saturating_sub(decode_ns(&buf)) as f64 / 1e3);
        if i == 0 {
            report_napi("client", &sock);
        }
    }
    if rtt.is_empty() {
        return Ok(());
    }
    let n = rtt.len() as f64;
    let min = rtt.iter().copied().fold(f64::MAX, f64::min);
    let max = rtt.iter().copied().fold(f64::MIN, f64::max);
    let avg = rtt.iter().sum::<f64>() / n;
    let mdev = rtt.iter().map(|r| (r - avg).abs()).sum::<f64>() / n;
    println!(" rtt(us) min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3}");
    Ok(())
}

fn main() -> io::Result<()> {
    let o = parse()?;
    let addr: SocketAddr = format!("{}:{}", o.addr, o.port)
        .parse()
        .map_err(|_| usage("-a/-p: an IP address and a port"))?;
    match o.mode.as_str() {
        "server" => {
            let rt = runtime("server", &o)?;
            rt.block_on(async {
                let sock = UdpSocket::bind(addr).await?;
                println!("server: listening on {}", sock.local_addr()?);
                server(sock, o.pings).await
            })
        }
        "client" => runtime("client", &o)?.block_on(client(addr, o.pings)),
        _ => {
            // Both, over loopback: the server on this thread, the client on another.
            let rt = runtime("server", &o)?;
            let sock = rt.block_on(UdpSocket::bind(addr))?;
            let bound = sock.local_addr()?;
            let pings = o.pings;
            std::thread::scope(|scope| {
                let client = scope.spawn(|| -> io::Result<()> {
                    runtime("client", &o)?.block_on(client(bound, pings))
                });
                let served = rt.block_on(server(sock, pings));
                let client = client
                    .join()
                    .map_err(|_| io::Error::other("the client thread panicked"))?;
                served.and(client)
            })
        }
    }
}
