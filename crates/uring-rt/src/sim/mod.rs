//! Deterministic simulation of whole programs: several runtimes ("nodes") on one
//! thread, on the engine's deterministic mode, with one seed choosing every order,
//! fault and crash, virtual time, and replay by seed.
//!
//! A [`Sim`] runs each node's program (an `async` closure using the ordinary
//! [`fs`](crate::fs), [`time`](crate::time) and [`spawn`](crate::spawn)) on a runtime
//! of its own whose ring is an engine ring in deterministic mode. One seed decides:
//! - which node runs next, and in which order a node's runnable tasks are polled;
//! - the order in which each ring's independent requests run and complete (the
//!   engine's seeded order, within what io_uring guarantees);
//! - the faults of a [`FaultPlan`] given to every node's ring (I/O errors, short
//!   transfers, interrupted attempts, delays);
//! - when a node crashes, what of its unsynced writes survives (see below), and when
//!   it restarts.
//!
//! # Time
//! Time is virtual and the same for every node: it stands still while any node can
//! run, and when none can, it jumps to the next thing that waits for time (a sleep or
//! timeout on any node's ring, an injected delay, a restart). [`time::now`] on a node
//! says the simulated time; a simulated hour of timers runs in milliseconds.
//!
//! # Crashes
//! A crash drops the node's runtime (its tasks, and every op in flight, cancelled or
//! run to completion as the engine chooses) and then reverts the node's files to what
//! was durable, by an undo log the engine's observer keeps of every unsynced write:
//! what an `fsync` covered is kept, what it did not is lost, kept, or torn at
//! 512-byte sectors, and what a **failed** `fsync` covered is always lost, even if a
//! later `fsync` succeeds (as on Linux). `disk.rs` has the whole model and what it
//! leaves out (metadata is durable at once). After a seeded delay the node restarts:
//! its program runs again from the start, on a new runtime, over the same directory
//! ([`NodeCtx::dir`]).
//!
//! # Replay and determinism
//! A run returns a [`Report`] with a **trace hash** of every submission and completion
//! (opcode, `user_data`, offset, length, result; not fds or addresses, which differ
//! between runs of a process), crash, restart and [`note`]: two runs of one seed give
//! the same hash, which [`search`] checks on every call. A failing run returns a
//! [`Failure`] whose `Display` gives the seed, the message and the last events in a
//! readable form; `URING_SIM_SEED=<seed>` makes [`search`] (and so
//! `#[uring_rt::sim_test]`) run that seed alone.
//!
//! What would make a run differ is what comes from outside: another thread or process
//! touching a node's files or sockets, or the program reading the real clock
//! (`std::time::Instant::now()` rather than [`time::now`]), or iterating a `HashMap`
//! with a random hasher to decide what to do.
//!
//! ```no_run
//! use std::time::Duration;
//! use uring_rt::sim::Sim;
//!
//! let mut sim = Sim::new(42);
//! sim.client("sleeper", |_node| async move {
//!     uring_rt::time::sleep(Duration::from_secs(3600)).await;
//! });
//! let report = sim.run().expect("no failure");
//! assert!(report.virtual_time >= Duration::from_secs(3600));
//! ```
//!
//! [`time::now`]: crate::time::now
mod disk;
mod net;
mod rng;
mod settle;
mod trace;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uring::{Backend, EngineConfig, sys};
use uring_engine::{DetControl, Observer, OpInfo};

pub use disk::CrashLoss;
use disk::Disk;
pub use net::Network;
use net::{NodeSide, Relay};
use rng::{Rng, SimRng, derive};
use trace::{Event, Trace, What};
pub use uring_engine::{Fault, FaultCounts, FaultPlan, FaultRule};

use crate::runtime::{JoinHandle, Runtime};

type Program = Rc<dyn Fn(NodeCtx) -> Pin<Box<dyn Future<Output = ()>>>>;

/// What a node's program is given: who it is, where its files live, and how it
/// reaches the other nodes.
#[derive(Debug, Clone)]
pub struct NodeCtx {
    name: Rc<str>,
    id: usize,
    incarnation: u32,
    dir: Rc<Path>,
    listener: Rc<std::net::TcpListener>,
    peers: Rc<[(Rc<str>, std::net::SocketAddr)]>,
}

impl NodeCtx {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's index, in the order the nodes were added.
    pub fn id(&self) -> usize {
        self.id
    }

    /// How many times the node crashed before this run of its program (0 at first).
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The node's own directory, kept across its crashes (removed when the run ends).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node's listening socket: on 127.0.0.1, at a port that stays the node's for
    /// the whole run (across its crashes). Other nodes reach it through the simulated
    /// network at [`addr_of`](Self::addr_of) this node's name.
    ///
    /// # Errors
    /// Duplicating the socket (`EMFILE`).
    pub fn listener(&self) -> std::io::Result<crate::net::TcpListener> {
        crate::net::TcpListener::from_std(self.listener.try_clone()?)
    }

    /// The address at which this node reaches node `name` through the simulated
    /// network (see [`Network`]); `None` for an unknown name or the node itself.
    pub fn addr_of(&self, name: &str) -> Option<std::net::SocketAddr> {
        self.peers
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|&(_, a)| a)
    }
}

/// When nodes crash and restart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crashes {
    per_step: f64,
    restart_min: Duration,
    restart_max: Duration,
    max: u32,
}

impl Default for Crashes {
    fn default() -> Self {
        Crashes {
            per_step: 0.001,
            restart_min: Duration::from_millis(10),
            restart_max: Duration::from_secs(1),
            max: u32::MAX,
        }
    }
}

impl Crashes {
    /// The default: a crash at about one step in a thousand, restarts 10 ms to 1 s
    /// later, no limit on their number.
    pub fn new() -> Crashes {
        Crashes::default()
    }

    /// The chance (0 to 1) that a node crashes before any one step of the run (a step
    /// is one turn of one node: its runnable tasks polled once, its ring entered once).
    pub fn per_step(mut self, p: f64) -> Crashes {
        self.per_step = p;
        self
    }

    /// A crashed node restarts after a delay drawn between `min` and `max`.
    pub fn restart_after(mut self, min: Duration, max: Duration) -> Crashes {
        self.restart_min = min;
        self.restart_max = max.max(min);
        self
    }

    /// At most `n` crashes in a run.
    pub fn max(mut self, n: u32) -> Crashes {
        self.max = n;
        self
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The hash of every event of the run (see the module docs).
    pub trace_hash: u64,
    /// Steps: turns of a node's loop.
    pub steps: u64,
    /// SQEs submitted, on every node.
    pub submissions: u64,
    /// Completions, on every node.
    pub completions: u64,
    /// Simulated time at the end.
    pub virtual_time: Duration,
    /// Node crashes.
    pub crashes: u32,
    /// What the crashes lost and kept, summed.
    pub loss: CrashLoss,
    /// Faults the plan injected, on every node.
    pub faults: FaultCounts,
}

/// A run that failed: a node's program panicked, the nodes deadlocked, or a limit
/// was reached. `Display` shows the seed, the message, the last events and how to
/// replay the run.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// What went wrong (a panic's message).
    pub message: String,
    /// The last events before the failure, one a line.
    pub trace: String,
    /// The run up to the failure.
    pub report: Report,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulation failed with seed {} after {} steps at {:?} of simulated time: {}",
            self.seed, self.report.steps, self.report.virtual_time, self.message
        )?;
        f.write_str(&self.trace)?;
        write!(
            f,
            "replay: URING_SIM_SEED={} (with the same test)",
            self.seed
        )
    }
}

impl std::error::Error for Failure {}

/// The state the nodes' observers share with the run (one thread uses it; the
/// engine's `Observer` must be `Send + Sync`, hence the mutex).
struct World {
    /// Simulated time, nanoseconds since the start.
    now: u64,
    trace: Trace,
    disks: Vec<Disk>,
    submissions: u64,
    completions: u64,
    /// The nodes' TCP sockets seen in ops, by `(local port, peer port)`.
    sockets: std::collections::HashMap<(u16, u16), Sock>,
    /// The same, by descriptor: `(inode, ports)`.
    socket_fds: std::collections::HashMap<std::os::fd::RawFd, (u64, (u16, u16))>,
    /// The relay's listeners, by port.
    relay_listeners: std::collections::HashMap<u16, std::os::fd::RawFd>,
}

/// A node's TCP socket.
struct Sock {
    fd: std::os::fd::RawFd,
    /// Its inode: the same descriptor number may be another socket later.
    ino: u64,
    /// Bytes the node sent on it.
    sent: u64,
    /// The node shut down its writing side.
    fin: bool,
}

type SharedWorld = Arc<Mutex<World>>;

fn lock(w: &SharedWorld) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|e| e.into_inner())
}

impl World {
    /// Remembers TCP socket `fd` of a node by its ports.
    fn note_socket(&mut self, fd: std::os::fd::RawFd) -> Option<&mut Sock> {
        let ino = settle::inode(fd)?;
        let key = match self.socket_fds.get(&fd) {
            Some(&(i, key)) if i == ino => key,
            _ => {
                let key = settle::ports(fd)?;
                self.socket_fds.insert(fd, (ino, key));
                key
            }
        };
        let e = self.sockets.entry(key).or_insert(Sock {
            fd,
            ino,
            sent: 0,
            fin: false,
        });
        if e.ino != ino {
            // A new socket with the same ports as one closed before.
            *e = Sock {
                fd,
                ino,
                sent: 0,
                fin: false,
            };
        }
        Some(e)
    }

    /// What is known of a node's end of a connection (see [`NodeSide`]).
    fn node_side(&self, key: (u16, u16)) -> NodeSide {
        match self.sockets.get(&key) {
            Some(s) if settle::inode(s.fd) == Some(s.ino) => NodeSide::Open {
                fd: s.fd,
                sent: s.sent,
                fin: s.fin,
            },
            Some(_) => NodeSide::Closed,
            None => NodeSide::Unknown,
        }
    }

    fn event(&mut self, node: u32, incarnation: u32, what: What) {
        let t = self.now;
        self.trace.push(Event {
            t,
            node,
            incarnation,
            what,
        });
    }
}

/// The engine observer of one incarnation of one node.
struct NodeObserver {
    node: u32,
    incarnation: u32,
    world: SharedWorld,
}

impl Observer for NodeObserver {
    fn submitted(&self, op: &OpInfo, prep_error: i32) {
        let mut w = lock(&self.world);
        w.submissions += 1;
        w.event(
            self.node,
            self.incarnation,
            What::Submit {
                opcode: op.opcode,
                user_data: op.user_data,
                offset: op.offset,
                len: op.len,
                prep_error,
            },
        );
    }

    fn issuing(&self, op: &OpInfo) {
        if matches!(
            op.opcode,
            sys::IORING_OP_WRITE | sys::IORING_OP_WRITEV | sys::IORING_OP_WRITE_FIXED
        ) {
            let mut w = lock(&self.world);
            w.disks[self.node as usize].before_write(op.fd, op.offset, op.len, op.op_flags);
        }
    }

    fn completed(&self, op: &OpInfo, res: i32, flags: u32) {
        let mut w = lock(&self.world);
        w.completions += 1;
        let disk = &mut w.disks[self.node as usize];
        match op.opcode {
            sys::IORING_OP_FSYNC => disk.synced(op.fd, res),
            sys::IORING_OP_FALLOCATE if res >= 0 => disk.metadata_changed(op.fd),
            sys::IORING_OP_FTRUNCATE if res >= 0 => disk.truncated(op.fd, op.offset),
            sys::IORING_OP_OPENAT if res >= 0 && op.op_flags & libc::O_TRUNC as u32 != 0 => {
                disk.truncated(res, 0)
            }
            // The network: count what the node sent, for the relay to wait for it
            // (settle.rs).
            sys::IORING_OP_SEND
            | sys::IORING_OP_SENDMSG
            | sys::IORING_OP_SEND_ZC
            | sys::IORING_OP_SENDMSG_ZC
                if res > 0 =>
            {
                if let Some(e) = w.note_socket(op.fd) {
                    e.sent += res as u64;
                }
            }
            sys::IORING_OP_SHUTDOWN if res == 0 && op.len >= libc::SHUT_WR as u64 => {
                if let Some(e) = w.note_socket(op.fd) {
                    e.fin = true;
                }
            }
            sys::IORING_OP_CONNECT if res == 0 => {
                let peer = settle::ports(op.fd).map(|(_, p)| p);
                w.note_socket(op.fd);
                if let Some(&l) = peer.and_then(|p| w.relay_listeners.get(&p)) {
                    settle::wait_until(|| settle::readable(l));
                }
            }
            sys::IORING_OP_ACCEPT if res >= 0 => {
                w.note_socket(res);
            }
            sys::IORING_OP_RECV | sys::IORING_OP_RECVMSG => {
                w.note_socket(op.fd);
            }
            _ => {}
        }
        w.event(
            self.node,
            self.incarnation,
            What::Complete {
                opcode: op.opcode,
                user_data: op.user_data,
                res,
                flags,
            },
        );
    }
}

thread_local! {
    /// The run and node whose program runs now, for [`note`].
    static NOTE: RefCell<Option<(SharedWorld, u32, u32)>> = const { RefCell::new(None) };
}

/// Adds a line to the trace of the simulation this runs in (and to its hash): what
/// the program did, in its own words ("ack put k=3"). Does nothing outside a
/// simulation.
pub fn note(msg: impl fmt::Display) {
    NOTE.with(|n| {
        if let Some((w, node, inc)) = &*n.borrow() {
            lock(w).event(*node, *inc, What::Note(msg.to_string()));
        }
    });
}

/// Whether this code runs inside a simulation's node.
pub fn is_simulated() -> bool {
    NOTE.with(|n| n.borrow().is_some())
}

/// Sets [`NOTE`] for the life of the guard.
struct NoteGuard;

impl NoteGuard {
    fn new(w: &SharedWorld, node: u32, inc: u32) -> NoteGuard {
        NOTE.with(|n| *n.borrow_mut() = Some((w.clone(), node, inc)));
        NoteGuard
    }
}

impl Drop for NoteGuard {
    fn drop(&mut self) {
        let _ = NOTE.try_with(|n| n.borrow_mut().take());
    }
}

struct NodeSpec {
    name: Rc<str>,
    program: Program,
    client: bool,
    crashable: bool,
}

/// A node that runs.
struct Live {
    /// Dropped before the runtime (it holds the engine).
    ctl: DetControl,
    task: JoinHandle<()>,
    rt: Runtime,
    /// The engine's clock and the run's when it started.
    engine_t0: u64,
    run_t0: u64,
}

struct Node {
    spec: NodeSpec,
    dir: Rc<Path>,
    live: Option<Live>,
    incarnation: u32,
    /// May make progress: it ran something, or something happened since it was idle.
    dirty: bool,
    finished: bool,
    restart_at: Option<u64>,
}

/// A simulation: nodes, faults, crashes; [`run`](Self::run) runs it once with its seed.
pub struct Sim {
    seed: u64,
    nodes: Vec<NodeSpec>,
    faults: Option<FaultPlan>,
    crashes: Option<Crashes>,
    network: Network,
    time_limit: Duration,
    step_limit: u64,
    keep_events: usize,
    at_end: Vec<Box<dyn FnOnce()>>,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field(
                "nodes",
                &self.nodes.iter().map(|n| &*n.name).collect::<Vec<_>>(),
            )
            .field("faults", &self.faults.as_ref().map(ToString::to_string))
            .field("crashes", &self.crashes)
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A simulation with `seed`, no nodes, no faults, no crashes; a limit of one
    /// simulated day and a million steps.
    pub fn new(seed: u64) -> Sim {
        Sim {
            seed,
            nodes: Vec::new(),
            faults: None,
            crashes: None,
            network: Network::new(),
            time_limit: Duration::from_secs(86_400),
            step_limit: 1_000_000,
            keep_events: 200,
            at_end: Vec::new(),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Adds a node that runs `program` until the run ends (a server): the run ends
    /// when every [`client`](Self::client) has finished. A server crashes when
    /// [`crashes`](Self::crashes) says so, and runs `program` again when it restarts.
    pub fn node<F, Fut>(&mut self, name: &str, program: F) -> &mut Sim
    where
        F: Fn(NodeCtx) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.add(name, program, false)
    }

    /// Adds a node whose program's end is awaited: the run ends when every client's
    /// program has returned. Clients do not crash.
    pub fn client<F, Fut>(&mut self, name: &str, program: F) -> &mut Sim
    where
        F: Fn(NodeCtx) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.add(name, program, true)
    }

    fn add<F, Fut>(&mut self, name: &str, program: F, client: bool) -> &mut Sim
    where
        F: Fn(NodeCtx) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.nodes.push(NodeSpec {
            name: name.into(),
            program: Rc::new(move |cx| Box::pin(program(cx))),
            client,
            crashable: !client,
        });
        self
    }

    /// Injects the faults of `plan` into every node's ring, each with its own
    /// generator seeded from the run's seed. The plan's counts sum them all.
    pub fn faults(&mut self, plan: FaultPlan) -> &mut Sim {
        self.faults = Some(plan);
        self
    }

    /// Crashes and restarts the (server) nodes as `crashes` says.
    pub fn crashes(&mut self, crashes: Crashes) -> &mut Sim {
        self.crashes = Some(crashes);
        self
    }

    /// How the network between the nodes behaves (latency, cuts, partitions).
    pub fn network(&mut self, network: Network) -> &mut Sim {
        self.network = network;
        self
    }

    /// Fails the run if the clients have not finished after this much simulated time.
    pub fn time_limit(&mut self, limit: Duration) -> &mut Sim {
        self.time_limit = limit;
        self
    }

    /// Fails the run after this many steps (a livelock: tasks that keep waking
    /// each other without end).
    pub fn step_limit(&mut self, limit: u64) -> &mut Sim {
        self.step_limit = limit;
        self
    }

    /// How many of the last events a [`Failure`] shows (default 200).
    pub fn keep_events(&mut self, n: usize) -> &mut Sim {
        self.keep_events = n;
        self
    }

    /// Runs `check` once the clients finished (a panic in it fails the run): for an
    /// invariant over what the nodes left behind.
    pub fn at_end(&mut self, check: impl FnOnce() + 'static) -> &mut Sim {
        self.at_end.push(Box::new(check));
        self
    }

    /// Runs the simulation once.
    ///
    /// # Errors
    /// A [`Failure`]: a node's program (or an [`at_end`](Self::at_end) check)
    /// panicked, no node could ever run again while a client had not finished
    /// (deadlock), or a limit was reached.
    pub fn run(self) -> Result<Report, Box<Failure>> {
        let keep = std::env::var("URING_SIM_TRACE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.keep_events);
        let world: SharedWorld = Arc::new(Mutex::new(World {
            now: 0,
            trace: Trace::new(keep),
            disks: self.nodes.iter().map(|_| Disk::default()).collect(),
            submissions: 0,
            completions: 0,
            sockets: Default::default(),
            socket_fds: Default::default(),
            relay_listeners: Default::default(),
        }));
        let names: Vec<String> = self.nodes.iter().map(|n| n.name.to_string()).collect();
        let relay = match Relay::new(self.network, names.clone()) {
            Ok(r) => r,
            Err(e) => {
                return Err(Box::new(Failure {
                    seed: self.seed,
                    message: format!("the simulated network: {e}"),
                    trace: String::new(),
                    report: Report::default(),
                }));
            }
        };
        lock(&world).relay_listeners = relay.listener_fds().into_iter().collect();
        let root = TempRoot::new();
        let mut run = Run {
            seed: self.seed,
            rng: Rng::new(derive(self.seed, u64::MAX)),
            world: world.clone(),
            nodes: Vec::new(),
            faults: self.faults,
            crashes: self.crashes,
            crash_count: 0,
            loss: CrashLoss::default(),
            steps: 0,
            base: Instant::now(),
            relay,
            peer_names: self.nodes.iter().map(|n| n.name.clone()).collect(),
        };
        for (i, spec) in self.nodes.into_iter().enumerate() {
            let dir: Rc<Path> = root.path.join(format!("{i}-{}", spec.name)).into();
            let _ = std::fs::create_dir_all(&dir);
            run.nodes.push(Node {
                spec,
                dir,
                live: None,
                incarnation: 0,
                dirty: true,
                finished: false,
                restart_at: None,
            });
        }
        let time_limit = self.time_limit.as_nanos().min(u128::from(u64::MAX)) as u64;
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let r = run.main_loop(time_limit, self.step_limit);
            if r.is_ok() {
                // Checks run with the nodes stopped.
                run.stop_all();
                for check in self.at_end {
                    check();
                }
            }
            r
        }));
        let message = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(m)) => Some(m),
            Err(payload) => Some(panic_message(&*payload)),
        };
        // The nodes are dropped here, even after a panic: their rings must be drained
        // before the directory goes.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| run.stop_all()));
        let report = run.report();
        drop(run);
        drop(root);
        match message {
            None => Ok(report),
            Some(message) => Err(Box::new(Failure {
                seed: self.seed,
                message,
                trace: lock(&world).trace.render(&names),
                report,
            })),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}

/// The run's directory, removed on drop.
struct TempRoot {
    path: PathBuf,
}

impl TempRoot {
    /// Under `URING_SIM_DIR`, else `/dev/shm` where it exists (a tmpfs: the
    /// simulation models durability itself, a real `fsync` to a disk would only cost
    /// time), else the temporary directory.
    fn new() -> TempRoot {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "uring-sim-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let bases = match std::env::var_os("URING_SIM_DIR") {
            Some(d) => vec![PathBuf::from(d)],
            None => vec![PathBuf::from("/dev/shm"), std::env::temp_dir()],
        };
        // The first base where the directory can be made (a container may have no
        // writable /dev/shm).
        for base in &bases {
            let path = base.join(&name);
            let _ = std::fs::remove_dir_all(&path);
            if std::fs::create_dir_all(&path).is_ok() {
                return TempRoot { path };
            }
        }
        TempRoot {
            path: bases[0].join(&name),
        }
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One run's state.
struct Run {
    seed: u64,
    rng: Rng,
    world: SharedWorld,
    nodes: Vec<Node>,
    faults: Option<FaultPlan>,
    crashes: Option<Crashes>,
    crash_count: u32,
    loss: CrashLoss,
    steps: u64,
    /// The instant simulated time 0 stands for on the nodes' clocks.
    base: Instant,
    relay: Relay,
    peer_names: Vec<Rc<str>>,
}

impl Run {
    fn now(&self) -> u64 {
        lock(&self.world).now
    }

    fn main_loop(&mut self, time_limit: u64, step_limit: u64) -> Result<(), String> {
        for i in 0..self.nodes.len() {
            self.start(i)?;
        }
        loop {
            if self.nodes.iter().all(|n| !n.spec.client || n.finished) {
                return Ok(());
            }
            if self.steps >= step_limit {
                return Err(format!(
                    "{step_limit} steps and the clients have not finished (a livelock?)"
                ));
            }
            if self.network_step() {
                for n in &mut self.nodes {
                    n.dirty = true;
                }
            }
            let dirty: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].dirty && self.nodes[i].live.is_some())
                .collect();
            if dirty.is_empty() {
                self.advance_time(time_limit)?;
                continue;
            }
            if self.maybe_crash() {
                continue;
            }
            let i = dirty[self.rng.below(dirty.len() as u64) as usize];
            self.step(i)?;
        }
    }

    /// The relay's turn: partitions, connections, bytes due.
    fn network_step(&mut self) -> bool {
        let now = self.now();
        let up: Vec<bool> = self.nodes.iter().map(|n| n.live.is_some()).collect();
        let world = self.world.clone();
        let mut log = |line: String| lock(&world).event(u32::MAX, 0, What::Note(line));
        let fds = |key| lock(&world).node_side(key);
        self.relay
            .maybe_partition(now, self.nodes.len(), &mut self.rng, &fds, &mut log);
        self.relay.step(now, &up, &mut self.rng, &fds, &mut log)
    }

    /// Starts (or restarts) node `i`.
    fn start(&mut self, i: usize) -> Result<(), String> {
        let node = &mut self.nodes[i];
        let inc = node.incarnation;
        let label = (i as u64) << 32 | u64::from(inc);
        let observer = Arc::new(NodeObserver {
            node: i as u32,
            incarnation: inc,
            world: self.world.clone(),
        });
        let mut config = EngineConfig::new()
            .deterministic(derive(self.seed, label))
            .observer(observer);
        if let Some(plan) = &self.faults {
            config = config.faults(plan.clone().seed(derive(self.seed ^ 0xfa17, label)));
        }
        let rt = Runtime::builder()
            .backend_exact(Backend::Engine)
            .engine_config(config)
            .build()
            .map_err(|e| format!("node {}: runtime: {e}", node.spec.name))?;
        let ctl = {
            let driver = rt.context().driver.borrow();
            let fd = driver.ring().and_then(|r| r.fd()).map(|fd| fd.as_raw_fd());
            fd.and_then(DetControl::of)
        }
        .ok_or_else(|| format!("node {}: no deterministic engine ring", node.spec.name))?;
        let now = lock(&self.world).now;
        rt.context()
            .clock
            .set(self.base + Duration::from_nanos(now));
        let listener = self
            .relay
            .listener(i)
            .map_err(|e| format!("node {}: listener: {e}", node.spec.name))?;
        let peers: Vec<(Rc<str>, std::net::SocketAddr)> = self
            .peer_names
            .iter()
            .enumerate()
            .filter_map(|(j, name)| Some((name.clone(), self.relay.addr(i, j)?)))
            .collect();
        let ctx = NodeCtx {
            name: node.spec.name.clone(),
            id: i,
            incarnation: inc,
            dir: node.dir.clone(),
            listener: Rc::new(listener),
            peers: peers.into(),
        };
        let program = node.spec.program.clone();
        let _note = NoteGuard::new(&self.world, i as u32, inc);
        lock(&self.world).event(i as u32, inc, What::Start);
        let task = rt.enter(|| crate::spawn(program(ctx)));
        node.live = Some(Live {
            engine_t0: ctl.now(),
            run_t0: now,
            ctl,
            task,
            rt,
        });
        node.dirty = true;
        node.finished = false;
        node.restart_at = None;
        Ok(())
    }

    /// One turn of node `i`.
    fn step(&mut self, i: usize) -> Result<(), String> {
        self.steps += 1;
        let now = self.now();
        let node = &mut self.nodes[i];
        let Some(live) = node.live.as_ref() else {
            return Ok(());
        };
        let _note = NoteGuard::new(&self.world, i as u32, node.incarnation);
        live.rt
            .context()
            .clock
            .set(self.base + Duration::from_nanos(now));
        let before = {
            let w = lock(&self.world);
            w.submissions + w.completions
        };
        // Requests whose fd became ready (another node wrote to a socket), or that
        // are due, run first; then the node's tasks, and its ring once.
        live.ctl.run();
        let rng = &mut self.rng;
        let (polled, runnable) = live
            .rt
            .turn_now(&mut |ids| rng.shuffle(ids))
            .map_err(|e| format!("node {}: the ring failed: {e}", node.spec.name))?;
        let after = {
            let w = lock(&self.world);
            w.submissions + w.completions
        };
        if live.task.is_finished() {
            node.finished = true;
        }
        if polled > 0 || runnable || after != before {
            // Progress here may let any node progress (a message, a socket).
            for n in &mut self.nodes {
                n.dirty = true;
            }
        } else {
            self.nodes[i].dirty = false;
        }
        Ok(())
    }

    /// Nothing can run: moves time to the next thing that waits for it.
    fn advance_time(&mut self, time_limit: u64) -> Result<(), String> {
        let now = self.now();
        let mut next: Option<u64> = None;
        let mut fds = false;
        for n in &self.nodes {
            if let Some(live) = &n.live {
                if let Some(t) = live.ctl.next_event() {
                    let g = live.run_t0 + t.saturating_sub(live.engine_t0);
                    next = Some(next.map_or(g, |x| x.min(g)));
                }
                fds |= live.ctl.waits_on_fds();
            }
            if let Some(t) = n.restart_at {
                next = Some(next.map_or(t, |x| x.min(t)));
            }
        }
        if let Some(t) = self.relay.next_event() {
            next = Some(next.map_or(t, |x| x.min(t)));
        }
        let Some(t) = next else {
            let waiting: Vec<&str> = self
                .nodes
                .iter()
                .filter(|n| n.spec.client && !n.finished)
                .map(|n| &*n.spec.name)
                .collect();
            return Err(format!(
                "deadlock: no node can run and nothing waits for time{}; clients not finished: {}",
                if fds { " (requests wait on fds)" } else { "" },
                waiting.join(", ")
            ));
        };
        let t = t.max(now);
        if t > time_limit {
            return Err(format!(
                "the clients did not finish within the time limit ({:?})",
                Duration::from_nanos(time_limit)
            ));
        }
        lock(&self.world).now = t;
        for i in 0..self.nodes.len() {
            if self.nodes[i].restart_at.is_some_and(|r| r <= t) {
                self.start(i)?;
            }
            let node = &mut self.nodes[i];
            if let Some(live) = &node.live {
                let _note = NoteGuard::new(&self.world, i as u32, node.incarnation);
                live.rt
                    .context()
                    .clock
                    .set(self.base + Duration::from_nanos(t));
                live.ctl.advance(live.engine_t0 + (t - live.run_t0));
            }
            node.dirty = true;
        }
        Ok(())
    }

    /// Crashes a node if the seed says so; returns whether it did.
    fn maybe_crash(&mut self) -> bool {
        let Some(c) = self.crashes else { return false };
        if self.crash_count >= c.max || !self.rng.chance(c.per_step) {
            return false;
        }
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].spec.crashable && self.nodes[i].live.is_some())
            .collect();
        if up.is_empty() {
            return false;
        }
        let i = up[self.rng.below(up.len() as u64) as usize];
        self.crash_count += 1;
        self.stop(i);
        {
            let world = self.world.clone();
            let mut log = |line: String| lock(&world).event(u32::MAX, 0, What::Note(line));
            let fds = |key| lock(&world).node_side(key);
            self.relay.node_down(i, &fds, &mut log);
        }
        let loss = {
            let mut w = lock(&self.world);
            let loss = w.disks[i].crash(&mut self.rng);
            let inc = self.nodes[i].incarnation;
            w.event(i as u32, inc, What::Crash(loss));
            loss
        };
        self.loss.files += loss.files;
        self.loss.sectors_lost += loss.sectors_lost;
        self.loss.sectors_kept += loss.sectors_kept;
        let delay = self.rng.between(
            c.restart_min.as_nanos() as u64,
            c.restart_max.as_nanos() as u64,
        );
        let restart = self.now() + delay;
        let node = &mut self.nodes[i];
        node.incarnation += 1;
        node.restart_at = Some(restart);
        node.dirty = false;
        true
    }

    /// Drops node `i`'s runtime: its tasks are dropped, its ops cancelled and drained.
    fn stop(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(live) = node.live.take() {
            let _note = NoteGuard::new(&self.world, i as u32, node.incarnation);
            let Live { ctl, task, rt, .. } = live;
            drop(task);
            drop(ctl);
            drop(rt);
        }
    }

    fn stop_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i);
        }
    }

    fn report(&self) -> Report {
        let w = lock(&self.world);
        Report {
            seed: self.seed,
            trace_hash: w.trace.hash(),
            steps: self.steps,
            submissions: w.submissions,
            completions: w.completions,
            virtual_time: Duration::from_nanos(w.now),
            crashes: self.crash_count,
            loss: self.loss,
            faults: self
                .faults
                .as_ref()
                .map(FaultPlan::counts)
                .unwrap_or_default(),
        }
    }
}

/// What [`search`] found over its seeds.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Steps, submissions and completions summed over the seeds.
    pub steps: u64,
    /// SQEs submitted, summed.
    pub submissions: u64,
    /// Completions, summed.
    pub completions: u64,
    /// Crashes, summed.
    pub crashes: u64,
    /// Faults injected, summed.
    pub faults: u64,
    /// Real time the runs took.
    pub elapsed: Duration,
}

/// The seeds [`search`] runs: `URING_SIM_SEED=N` alone; otherwise `count` seeds
/// (`URING_SIM_SEEDS` overrides it) from a base that `URING_SIM_SEED_BASE` sets
/// (default 0, so a suite runs the same seeds every time; `random` picks one and
/// prints it).
///
/// # Panics
/// On a malformed variable.
pub fn seeds(count: u64) -> Vec<u64> {
    let parse = |var: &str| -> Option<u64> {
        let v = std::env::var(var).ok()?;
        let v = v.trim();
        if var == "URING_SIM_SEED_BASE" && v == "random" {
            let base = Rng::mix(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
                    ^ u64::from(std::process::id()) << 32,
            );
            eprintln!("uring_rt::sim: URING_SIM_SEED_BASE={base}");
            return Some(base);
        }
        let n = match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => v.parse(),
        };
        match n {
            Ok(n) => Some(n),
            Err(_) => panic!("{var}={v:?}: expected a number"),
        }
    };
    if let Some(s) = parse("URING_SIM_SEED") {
        return vec![s];
    }
    let count = parse("URING_SIM_SEEDS").unwrap_or(count);
    let base = parse("URING_SIM_SEED_BASE").unwrap_or(0);
    (0..count).map(|i| base.wrapping_add(i)).collect()
}

/// Runs a simulation for each of [`seeds(count)`](seeds), built by `setup` on a fresh
/// [`Sim`], and stops at the first failure. The first seed runs twice and its two
/// trace hashes must agree (determinism is checked, not assumed).
///
/// # Errors
/// The first [`Failure`] (a determinism failure too: two runs of the first seed that
/// differ).
pub fn search(count: u64, setup: impl Fn(&mut Sim)) -> Result<Summary, Box<Failure>> {
    let start = Instant::now();
    let mut sum = Summary::default();
    let run_one = |seed: u64| {
        let mut sim = Sim::new(seed);
        setup(&mut sim);
        sim.run()
    };
    for (k, seed) in seeds(count).into_iter().enumerate() {
        let report = run_one(seed)?;
        if k == 0 {
            let again = run_one(seed)?;
            if again.trace_hash != report.trace_hash {
                return Err(Box::new(Failure {
                    seed,
                    message: format!(
                        "not deterministic: two runs of seed {seed} differ (trace hashes {:#x} and {:#x}, {} and {} steps)",
                        report.trace_hash, again.trace_hash, report.steps, again.steps
                    ),
                    trace: String::new(),
                    report,
                }));
            }
        }
        sum.seeds += 1;
        sum.steps += report.steps;
        sum.submissions += report.submissions;
        sum.completions += report.completions;
        sum.crashes += u64::from(report.crashes);
        let f = report.faults;
        sum.faults += f.errors + f.shorts + f.eintr + f.delays;
    }
    sum.elapsed = start.elapsed();
    Ok(sum)
}

/// [`search`], panicking with the failure (its seed, trace and how to replay it): the
/// body of `#[uring_rt::sim_test]`.
///
/// # Panics
/// On the first failing seed.
pub fn check(test: &str, count: u64, setup: impl Fn(&mut Sim)) -> Summary {
    match search(count, setup) {
        Ok(s) => s,
        Err(f) => panic!("{test}: {f}"),
    }
}
