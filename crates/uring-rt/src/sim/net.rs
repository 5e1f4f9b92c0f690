//! The network between nodes: real TCP on loopback, through a relay the simulator
//! drives, which delays, holds and cuts what passes.
//!
//! Each node has a listening socket on 127.0.0.1 for the whole run, held by the
//! simulator ([`NodeCtx::listener`](super::NodeCtx::listener) hands the node a
//! duplicate, so the port survives the node's crashes). A node reaches another at the
//! address [`NodeCtx::addr_of`](super::NodeCtx::addr_of) gives: a relay listener of
//! its own for that pair of nodes, so the relay knows who talks to whom. The relay
//! accepts, connects to the target's listener, and copies bytes both ways:
//! - each chunk it reads is delivered after a seeded latency, never before the chunk
//!   read before it on that connection (TCP keeps order within a connection; across
//!   connections, and between nodes, the latencies reorder messages);
//! - a *cut* (at a seeded chance per chunk) resets both sides of the connection: what
//!   TCP makes of lost packets that are never delivered; bytes are never dropped from
//!   the middle of a stream that goes on;
//! - a *partition* between two nodes holds every byte between them (both ways) until
//!   it heals, refuses new connections between them (reset at once), and cuts the
//!   connections that were open when it began at a seeded chance;
//! - a connection to a node that is down is reset at once (the client sees its
//!   connect succeed, then `ECONNRESET` or end of file: the relay accepted it);
//!   when a node crashes, every connection to or from it is reset, and connections
//!   queued on its listener and not yet accepted are reset too.
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use super::rng::{Rng, SimRng};
use super::settle::{self, TCP_CLOSE, TCP_ESTABLISHED};

/// What the simulator knows of a node's end of a connection, by `(local port, peer
/// port)`: its descriptor, the bytes it sent and whether it shut down its writing
/// side; or that the node closed it; or nothing (the node has not used it yet).
pub(crate) enum NodeSide {
    Open {
        fd: std::os::fd::RawFd,
        sent: u64,
        fin: bool,
    },
    Closed,
    Unknown,
}

/// Finds a node's end of a connection (see [`NodeSide`]).
pub(crate) type NodeFds<'a> = &'a dyn Fn((u16, u16)) -> NodeSide;

fn port_pair(s: &TcpStream) -> Option<(u16, u16)> {
    // The node's end: its local port is our peer's.
    Some((s.peer_addr().ok()?.port(), s.local_addr().ok()?.port()))
}

/// How the network between nodes behaves ([`Sim::network`](super::Sim::network)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    latency_min: Duration,
    latency_max: Duration,
    cut: f64,
    /// Mean time between partitions (none when zero).
    partition_every: Duration,
    partition_min: Duration,
    partition_max: Duration,
    partition_cut: f64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_min: Duration::from_micros(50),
            latency_max: Duration::from_millis(2),
            cut: 0.0,
            partition_every: Duration::ZERO,
            partition_min: Duration::from_millis(10),
            partition_max: Duration::from_secs(1),
            partition_cut: 0.5,
        }
    }
}

impl Network {
    /// The default: latencies of 50 µs to 2 ms, no cuts, no partitions.
    pub fn new() -> Network {
        Network::default()
    }

    /// Each chunk is delivered after a latency drawn between `min` and `max`.
    pub fn latency(mut self, min: Duration, max: Duration) -> Network {
        self.latency_min = min;
        self.latency_max = max.max(min);
        self
    }

    /// Cuts (resets) a connection at chance `p` (0 to 1) per chunk it carries.
    pub fn cut(mut self, p: f64) -> Network {
        self.cut = p;
        self
    }

    /// Partitions two nodes from each other about every `every` of simulated time
    /// (the gaps are drawn between 0 and twice that), each for `min` to `max`; each
    /// connection between them open when it starts is cut at chance `cut`. A
    /// partition starts at the first step at or after its time: it never makes time
    /// pass by itself.
    pub fn partitions(
        mut self,
        every: Duration,
        min: Duration,
        max: Duration,
        cut: f64,
    ) -> Network {
        self.partition_every = every;
        self.partition_min = min;
        self.partition_max = max.max(min);
        self.partition_cut = cut;
        self
    }
}

/// One direction of a connection.
#[derive(Default)]
struct Pipe {
    /// Chunks with the time they are due.
    chunks: VecDeque<(u64, Vec<u8>)>,
    /// When the last chunk is due (chunks go in order).
    last: u64,
    /// The source ended: when to shut down the destination's write side.
    eof: Option<u64>,
    eof_done: bool,
}

struct Conn {
    id: u64,
    /// The node's end of each leg, `(local port, peer port)`.
    keys: [Option<(u16, u16)>; 2],
    /// `[from, to]`: who connected, and to whom.
    nodes: [usize; 2],
    /// The relay's sockets: to `from` (index 0), to `to` (index 1).
    legs: [TcpStream; 2],
    /// Index 0 carries `from → to`, index 1 `to → from`.
    pipes: [Pipe; 2],
    /// Bytes the relay wrote on each leg.
    written: [u64; 2],
    /// Per leg, what the node's end was seen to have sent and whether its end of
    /// stream (or close) was seen: `settle` waits only for what is new.
    seen: [(u64, bool); 2],
}

/// What the relay did, for the trace.
pub(crate) type Log<'a> = &'a mut dyn FnMut(String);

pub(crate) struct Relay {
    cfg: Network,
    names: Vec<String>,
    /// Each node's listening socket (the simulator's copy).
    listeners: Vec<TcpListener>,
    /// `(from, to, listener)`: the relay's listener for each ordered pair of nodes.
    pairs: Vec<(usize, usize, TcpListener)>,
    conns: Vec<Conn>,
    next_id: u64,
    /// `(a, b, until)`: nodes `a` and `b` cannot talk until then.
    partitions: Vec<(usize, usize, u64)>,
    /// When the next partition starts.
    next_partition: Option<u64>,
    /// The read buffer.
    buf: Vec<u8>,
}

fn reset(s: &TcpStream) {
    // SO_LINGER with a zero timeout: the close sends a RST, not a FIN.
    let _ = rustix::net::sockopt::set_socket_linger(s, Some(Duration::ZERO));
}

/// Resets both legs of `c` and waits until the nodes' ends have seen it.
fn reset_conn(c: Conn, fds: NodeFds<'_>) {
    reset(&c.legs[0]);
    reset(&c.legs[1]);
    drop(c.legs);
    for key in c.keys.into_iter().flatten() {
        if let NodeSide::Open { fd, .. } = fds(key) {
            settle::wait_until(|| settle::tcp_state(fd).is_none_or(|st| st == TCP_CLOSE));
        }
    }
}

/// Waits until the node's end `key` received `written` bytes, and with `fin` until it
/// saw the end of the stream.
fn flushed(key: Option<(u16, u16)>, written: u64, fin: bool, fds: NodeFds<'_>) {
    let Some(key) = key else { return };
    if let NodeSide::Open { fd, .. } = fds(key) {
        settle::wait_until(|| {
            settle::received(fd).is_none_or(|n| n >= written)
                && (!fin || settle::tcp_state(fd).is_none_or(|st| st != TCP_ESTABLISHED))
        });
    }
}

fn loopback() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0))
}

impl Relay {
    pub(crate) fn new(cfg: Network, names: Vec<String>) -> std::io::Result<Relay> {
        let nodes = names.len();
        let mut listeners = Vec::new();
        for _ in 0..nodes {
            listeners.push(loopback()?);
        }
        let mut pairs = Vec::new();
        for from in 0..nodes {
            for to in 0..nodes {
                if from != to {
                    let l = loopback()?;
                    l.set_nonblocking(true)?;
                    pairs.push((from, to, l));
                }
            }
        }
        Ok(Relay {
            cfg,
            names,
            listeners,
            pairs,
            conns: Vec::new(),
            next_id: 0,
            partitions: Vec::new(),
            next_partition: None,
            buf: Vec::new(),
        })
    }

    /// A duplicate of node `i`'s listening socket.
    pub(crate) fn listener(&self, i: usize) -> std::io::Result<TcpListener> {
        self.listeners[i].try_clone()
    }

    /// Where node `from` connects to reach node `to`.
    pub(crate) fn addr(&self, from: usize, to: usize) -> Option<SocketAddr> {
        self.pairs
            .iter()
            .find(|p| p.0 == from && p.1 == to)
            .and_then(|p| p.2.local_addr().ok())
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        self.partitions
            .iter()
            .any(|&(x, y, _)| (x, y) == (a, b) || (x, y) == (b, a))
    }

    fn latency(&self, rng: &mut Rng) -> u64 {
        rng.between(
            self.cfg.latency_min.as_nanos() as u64,
            self.cfg.latency_max.as_nanos() as u64,
        )
    }

    /// Accepts, reads and delivers what can be without time passing. Returns whether
    /// anything happened.
    pub(crate) fn step(
        &mut self,
        now: u64,
        up: &[bool],
        rng: &mut Rng,
        fds: NodeFds<'_>,
        log: Log<'_>,
    ) -> bool {
        self.settle(fds);
        let mut progress = false;
        self.partitions.retain(|&(a, b, until)| {
            let keep = until > now;
            if !keep {
                log(format!(
                    "net: partition {}<->{} healed",
                    self.names[a], self.names[b]
                ));
            }
            keep
        });
        // One poll(2) says which listeners and connections have something.
        let mut pfds: Vec<libc::pollfd> = self
            .pairs
            .iter()
            .map(|(_, _, l)| std::os::fd::AsRawFd::as_raw_fd(l))
            .chain(
                self.conns
                    .iter()
                    .flat_map(|c| c.legs.iter().map(std::os::fd::AsRawFd::as_raw_fd)),
            )
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: a valid array of `pfds.len()` pollfds, no timeout.
        unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0) };
        let npairs = self.pairs.len();
        let ready_legs: Vec<u64> = self
            .conns
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let r = |d: usize| pfds[npairs + 2 * k + d].revents != 0;
                debug_assert!(c.legs.len() == 2);
                u64::from(r(0)) | u64::from(r(1)) << 1
            })
            .collect();
        let ids: Vec<u64> = self.conns.iter().map(|c| c.id).collect();
        // New connections.
        let ready_pairs: Vec<bool> = pfds[..npairs].iter().map(|p| p.revents != 0).collect();
        for (p, _) in ready_pairs.iter().enumerate().filter(|(_, r)| **r) {
            loop {
                let (from, to) = (self.pairs[p].0, self.pairs[p].1);
                let accepted = self.pairs[p].2.accept();
                let s = match accepted {
                    Ok((s, _)) => s,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                };
                progress = true;
                let id = self.next_id;
                self.next_id += 1;
                if !up[to] || self.partitioned(from, to) {
                    log(format!(
                        "net: conn {id} {}->{} refused (down or partitioned)",
                        self.names[from], self.names[to]
                    ));
                    reset(&s);
                    continue;
                }
                let target = self.listeners[to].local_addr();
                let other = target.and_then(TcpStream::connect);
                match other {
                    Ok(t) => {
                        let ok = s.set_nonblocking(true).is_ok()
                            && t.set_nonblocking(true).is_ok()
                            && s.set_nodelay(true).is_ok()
                            && t.set_nodelay(true).is_ok();
                        if !ok {
                            reset(&s);
                            reset(&t);
                            continue;
                        }
                        log(format!(
                            "net: conn {id} {}->{} open",
                            self.names[from], self.names[to]
                        ));
                        self.conns.push(Conn {
                            id,
                            keys: [port_pair(&s), port_pair(&t)],
                            nodes: [from, to],
                            legs: [s, t],
                            pipes: [Pipe::default(), Pipe::default()],
                            written: [0; 2],
                            seen: [(0, false); 2],
                        });
                    }
                    Err(e) => {
                        log(format!(
                            "net: conn {id} {}->{} failed: {e}",
                            self.names[from], self.names[to]
                        ));
                        reset(&s);
                    }
                }
            }
        }
        // Reads, then deliveries.
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(64 * 1024, 0);
        let mut i = 0;
        while i < self.conns.len() {
            let mut cut = false;
            // Connections polled above, by id (new ones were not: try them).
            let ready = match ids.binary_search(&self.conns[i].id) {
                Ok(k) => ready_legs[k],
                Err(_) => 0b11,
            };
            for dir in 0..2 {
                if self.conns[i].pipes[dir].eof.is_some() || ready & (1 << dir) == 0 {
                    continue;
                }
                loop {
                    let r = (&self.conns[i].legs[dir]).read(&mut buf);
                    let lat = match r {
                        Ok(_) => self.latency(rng),
                        Err(_) => 0,
                    };
                    let c = &mut self.conns[i];
                    let pipe = &mut c.pipes[dir];
                    match r {
                        Ok(0) => {
                            progress = true;
                            pipe.last = pipe.last.max(now + lat);
                            pipe.eof = Some(pipe.last);
                            let d = dirname(&self.names, c, dir);
                            log(format!("net: conn {} {d}: end of stream", c.id));
                            break;
                        }
                        Ok(n) => {
                            progress = true;
                            if rng.chance(self.cfg.cut) {
                                cut = true;
                                break;
                            }
                            pipe.last = pipe.last.max(now + lat);
                            pipe.chunks.push_back((pipe.last, buf[..n].to_vec()));
                            let due = (pipe.last - now) / 1000;
                            log(format!(
                                "net: conn {} {}: {n} bytes sent, due at +{due}us",
                                c.id,
                                dirname(&self.names, c, dir),
                            ));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => {
                            progress = true;
                            cut = true;
                            break;
                        }
                    }
                }
                if cut {
                    break;
                }
            }
            if !cut {
                let held = self.partitioned(self.conns[i].nodes[0], self.conns[i].nodes[1]);
                if !held {
                    match self.deliver(i, now, fds, log) {
                        Ok(p) => progress |= p,
                        Err(()) => cut = true,
                    }
                }
            }
            let c = &self.conns[i];
            if cut {
                progress = true;
                log(format!(
                    "net: conn {} {} cut",
                    c.id,
                    dirname(&self.names, c, 0)
                ));
                let c = self.conns.swap_remove(i);
                reset_conn(c, fds);
                continue;
            }
            if c.pipes.iter().all(|p| p.eof_done) {
                self.conns.swap_remove(i);
                continue;
            }
            i += 1;
        }
        self.buf = buf;
        // `swap_remove` changed the order: keep it by id, so what follows does not
        // depend on which connection closed.
        self.conns.sort_by_key(|c| c.id);
        progress
    }

    /// Writes what is due on connection `i`. `Err` when a destination failed.
    fn deliver(&mut self, i: usize, now: u64, fds: NodeFds<'_>, log: Log<'_>) -> Result<bool, ()> {
        let mut progress = false;
        let names = &self.names;
        let c = &mut self.conns[i];
        for dir in 0..2 {
            let dest = &c.legs[1 - dir];
            let key = c.keys[1 - dir];
            let written = &mut c.written[1 - dir];
            let pipe = &mut c.pipes[dir];
            while let Some((due, chunk)) = pipe.chunks.front_mut() {
                if *due > now {
                    break;
                }
                match (&*dest).write(chunk) {
                    Ok(n) => {
                        progress = true;
                        *written += n as u64;
                        flushed(key, *written, false, fds);
                        chunk.drain(..n);
                        if chunk.is_empty() {
                            pipe.chunks.pop_front();
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return Err(()),
                }
            }
            if pipe.chunks.is_empty() && !pipe.eof_done && pipe.eof.is_some_and(|t| t <= now) {
                pipe.eof_done = true;
                progress = true;
                let _ = dest.shutdown(Shutdown::Write);
                flushed(key, *written, true, fds);
                let d = dirname(names, c, dir);
                log(format!("net: conn {} {d}: end of stream delivered", c.id));
            }
        }
        Ok(progress)
    }

    /// Waits until what the nodes sent on their ends of the connections arrived, and
    /// the ends they closed are seen closed (see `settle.rs`).
    fn settle(&mut self, fds: NodeFds<'_>) {
        for c in &mut self.conns {
            for ((leg, key), seen) in c.legs.iter().zip(c.keys).zip(&mut c.seen) {
                let Some(key) = key else { continue };
                if seen.1 {
                    continue;
                }
                let me = std::os::fd::AsRawFd::as_raw_fd(leg);
                let fin = match fds(key) {
                    NodeSide::Open { sent, fin, .. } => {
                        if sent > seen.0 {
                            settle::wait_until(|| settle::received(me).is_none_or(|n| n >= sent));
                            seen.0 = sent;
                        }
                        fin
                    }
                    NodeSide::Closed => true,
                    NodeSide::Unknown => false,
                };
                if fin {
                    settle::wait_until(|| {
                        settle::tcp_state(me).is_none_or(|st| st != TCP_ESTABLISHED)
                    });
                    seen.1 = true;
                }
            }
        }
    }

    /// The relay's listener ports and descriptors (a node's `connect` waits until
    /// its connection is queued there).
    pub(crate) fn listener_fds(&self) -> Vec<(u16, std::os::fd::RawFd)> {
        self.pairs
            .iter()
            .filter_map(|(_, _, l)| {
                Some((
                    l.local_addr().ok()?.port(),
                    std::os::fd::AsRawFd::as_raw_fd(l),
                ))
            })
            .collect()
    }

    /// The next time something is due: a chunk or an end of stream not held by a
    /// partition, or a partition's end.
    pub(crate) fn next_event(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut at = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        for c in &self.conns {
            if self.partitioned(c.nodes[0], c.nodes[1]) {
                continue;
            }
            for p in &c.pipes {
                if let Some((t, _)) = p.chunks.front() {
                    at(*t);
                } else if let (Some(t), false) = (p.eof, p.eof_done) {
                    at(t);
                }
            }
        }
        for &(_, _, until) in &self.partitions {
            at(until);
        }
        next
    }

    /// Starts a partition if one is due, and draws when the next one is.
    pub(crate) fn maybe_partition(
        &mut self,
        now: u64,
        nodes: usize,
        rng: &mut Rng,
        fds: NodeFds<'_>,
        log: Log<'_>,
    ) {
        let every = self.cfg.partition_every.as_nanos() as u64;
        if nodes < 2 || every == 0 {
            return;
        }
        match self.next_partition {
            None => {
                self.next_partition = Some(now + rng.between(0, 2 * every));
                return;
            }
            Some(t) if t > now => return,
            Some(_) => self.next_partition = Some(now + rng.between(0, 2 * every)),
        }
        let a = rng.below(nodes as u64) as usize;
        let b = (a + 1 + rng.below(nodes as u64 - 1) as usize) % nodes;
        let until = now
            + rng.between(
                self.cfg.partition_min.as_nanos() as u64,
                self.cfg.partition_max.as_nanos() as u64,
            );
        log(format!(
            "net: partition {}<->{} for {}ms",
            self.names[a],
            self.names[b],
            (until - now) / 1_000_000
        ));
        self.partitions.push((a, b, until));
        let mut i = 0;
        while i < self.conns.len() {
            let c = &self.conns[i];
            let between = c.nodes == [a, b] || c.nodes == [b, a];
            if between && rng.chance(self.cfg.partition_cut) {
                log(format!(
                    "net: conn {} {} cut by the partition",
                    c.id,
                    dirname(&self.names, c, 0)
                ));
                let c = self.conns.remove(i);
                reset_conn(c, fds);
            } else {
                i += 1;
            }
        }
    }

    /// Node `i` crashed: its connections are reset, and those queued on its listener.
    pub(crate) fn node_down(&mut self, i: usize, fds: NodeFds<'_>, log: Log<'_>) {
        let mut k = 0;
        while k < self.conns.len() {
            if self.conns[k].nodes.contains(&i) {
                let c = self.conns.remove(k);
                log(format!(
                    "net: conn {} {} reset (node down)",
                    c.id,
                    dirname(&self.names, &c, 0)
                ));
                reset_conn(c, fds);
            } else {
                k += 1;
            }
        }
        // The listener is in blocking mode (the node's duplicate shares the flag):
        // accept only what poll says is there.
        let l = &self.listeners[i];
        loop {
            let mut pfd = libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(l),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, no timeout.
            let n = unsafe { libc::poll(&mut pfd, 1, 0) };
            if n <= 0 {
                break;
            }
            match l.accept() {
                Ok((s, _)) => reset(&s),
                Err(_) => break,
            }
        }
    }
}

/// `from->to` of direction `dir` of `c`, by name.
fn dirname(names: &[String], c: &Conn, dir: usize) -> String {
    let (a, b) = if dir == 0 {
        (c.nodes[0], c.nodes[1])
    } else {
        (c.nodes[1], c.nodes[0])
    };
    format!("{}->{}", names[a], names[b])
}
