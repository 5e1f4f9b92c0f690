//! `IORING_SETUP_SQPOLL`: a thread that polls the SQ so the application submits
//! without a system call (`io_uring/sqpoll.c`). It sleeps after `sq_thread_idle`
//! milliseconds without work, setting `IORING_SQ_NEED_WAKEUP`; `io_uring_enter` with
//! `IORING_ENTER_SQ_WAKEUP` wakes it.
use std::sync::atomic::{Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uring_sys as sys;

use crate::engine::Engine;

/// How long the thread spins after work before it starts napping.
const SPIN: Duration = Duration::from_micros(50);
/// The nap between looks at the SQ during the idle time.
const NAP: Duration = Duration::from_micros(100);

#[derive(Default)]
struct State {
    /// A wake-up was asked for since the thread last looked.
    woken: bool,
    stop: bool,
}

/// The SQ poll thread of one ring.
pub(crate) struct SqPoll {
    idle: Duration,
    cpu: Option<u32>,
    state: Arc<(Mutex<State>, Condvar)>,
    /// Signalled when the thread consumed SQEs (for `IORING_ENTER_SQ_WAIT`).
    space: Arc<(Mutex<u64>, Condvar)>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl SqPoll {
    pub(crate) fn new(p: &sys::io_uring_params) -> SqPoll {
        let idle = if p.sq_thread_idle == 0 {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(p.sq_thread_idle as u64)
        };
        SqPoll {
            idle,
            cpu: (p.flags & sys::IORING_SETUP_SQ_AFF != 0).then_some(p.sq_thread_cpu),
            state: Arc::default(),
            space: Arc::default(),
            handle: Mutex::new(None),
        }
    }

    /// Starts the thread (once the engine is shared).
    pub(crate) fn start(&self, engine: &Arc<Engine>) -> std::io::Result<()> {
        let weak = Arc::downgrade(engine);
        let (state, space, idle, cpu) =
            (self.state.clone(), self.space.clone(), self.idle, self.cpu);
        let h = std::thread::Builder::new()
            .name("uring-sqpoll".into())
            .spawn(move || run(weak, state, space, idle, cpu))?;
        *self.handle.lock().expect("sqpoll") = Some(h);
        Ok(())
    }

    /// `IORING_ENTER_SQ_WAKEUP`.
    pub(crate) fn wake(&self) {
        let (m, c) = &*self.state;
        m.lock().expect("sqpoll").woken = true;
        c.notify_all();
    }

    /// `IORING_ENTER_SQ_WAIT`: returns once the SQ has a free entry.
    pub(crate) fn wait_for_space(&self, e: &Engine) {
        let (m, c) = &*self.space;
        let mut g = m.lock().expect("sqpoll");
        while e.rings.sq_tail().wrapping_sub(e.rings.sq_head()) >= e.rings.sq_entries {
            self.wake();
            g = c
                .wait_timeout(g, Duration::from_millis(10))
                .expect("sqpoll")
                .0;
        }
    }

    pub(crate) fn stop(&self) {
        {
            let (m, c) = &*self.state;
            m.lock().expect("sqpoll").stop = true;
            c.notify_all();
        }
        if let Some(h) = self.handle.lock().expect("sqpoll").take()
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
    }
}

fn run(
    engine: Weak<Engine>,
    state: Arc<(Mutex<State>, Condvar)>,
    space: Arc<(Mutex<u64>, Condvar)>,
    idle: Duration,
    cpu: Option<u32>,
) {
    // The kernel's io threads take no signals (see wq.rs).
    crate::wq::block_signals(false);
    if let Some(cpu) = cpu {
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET on it is in range for cpu < 1024.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if (cpu as usize) < 1024 {
                libc::CPU_SET(cpu as usize, &mut set);
                libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }
    let mut last_work = Instant::now();
    loop {
        let Some(e) = engine.upgrade() else { return };
        if state.0.lock().expect("sqpoll").stop {
            return;
        }
        let pending = e.rings.sq_tail().wrapping_sub(e.rings.sq_head());
        if pending > 0 {
            e.submit(pending);
            let (m, c) = &*space;
            *m.lock().expect("sqpoll") += 1;
            c.notify_all();
            last_work = Instant::now();
            continue;
        }
        if last_work.elapsed() < idle {
            drop(e);
            // The kernel's thread spins through its idle time; a thread of ours
            // shares the CPUs with the application, so it spins a little, then
            // polls with short naps (a new SQE waits at most a nap).
            if last_work.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(NAP);
            }
            continue;
        }
        // Going to sleep: announce it, then look at the tail once more. The full
        // fence pairs with the application's fence between its tail store and its
        // read of the flags (liburing's `io_uring_smp_mb()` in `sq_ring_needs_enter`):
        // either it sees NEED_WAKEUP and wakes us, or we see its new tail.
        e.rings.set_sq_flag(sys::IORING_SQ_NEED_WAKEUP);
        fence(Ordering::SeqCst);
        if e.rings.sq_tail() != e.rings.sq_head() {
            e.rings.clear_sq_flag(sys::IORING_SQ_NEED_WAKEUP);
            continue;
        }
        drop(e);
        let (m, c) = &*state;
        let mut g = m.lock().expect("sqpoll");
        while !g.woken && !g.stop {
            g = c.wait(g).expect("sqpoll");
        }
        g.woken = false;
        drop(g);
        if let Some(e) = engine.upgrade() {
            e.rings.clear_sq_flag(sys::IORING_SQ_NEED_WAKEUP);
        }
        last_work = Instant::now();
    }
}
