//! Credentials a request runs with: the submitting thread's (`IORING_FEAT_CUR_PERSONALITY`)
//! or a registered personality's (`IORING_REGISTER_PERSONALITY`, `sqe->personality`),
//! as the kernel's `req->creds` and `override_creds` (`io_uring/io_uring.c`,
//! `io_issue_sqe`).
//!
//! A request issued inline runs on the thread that called `enter`, with its
//! credentials, as on the kernel. One that goes to a worker takes the submitting
//! thread's credentials along ([`capture`], when it leaves `enter` for the pool) if
//! its op checks them ([`matter_for`]: paths, sockets, sends), and the worker takes
//! them on for it if they differ from its own ([`Assumed`]), then goes back. Reading
//! them costs six system calls (5.5 µs on the 2-CPU VM this was measured on, where
//! an `IOSQE_ASYNC` NOP costs 3-4 µs of CPU in all), so reads, writes and the other
//! ops on an open file, which the kernel checked when it was opened, go without: in a
//! worker they run with the process's credentials, which differ from the submitter's
//! only in rare cases (a write clearing a set-group-ID bit, which depends on
//! `CAP_FSETID`; LSM checks on each access). Usually they do not: glibc's `setuid` family changes every thread of the
//! process, the engine's too; they differ when a thread changed its own with the
//! system calls (`setfsuid(2)`, which glibc does not spread, or a raw `setresuid`) or
//! when the request names a personality. A request naming a personality always runs
//! in a worker (the submitting thread could not come back from taking on lesser
//! credentials).
//!
//! What a worker takes on: the real, effective and saved user and group ids, the
//! file-system ids, the supplementary groups and the effective and inheritable
//! capabilities, each with its own system call (`setresuid(2)` and the rest made
//! directly: glibc's wrappers would change every thread). It keeps its permitted
//! capabilities (`PR_SET_KEEPCAPS` while it wears other credentials) so that it can
//! come back; permission checks look at the effective set, which is the request's.
//! Credentials a worker cannot take on (more privileged than the process, or any
//! change in an unprivileged process) fail the request with `-EPERM`, where the
//! kernel would have run it. Not carried: the capability bounding set, securebits and
//! LSM labels.
//!
//! While a worker wears other credentials, a change of the whole process's (glibc's
//! `setuid` family, which makes every thread change its own) reaches that worker too:
//! the worker then keeps what the change left instead of going back (which would undo
//! it), less the capabilities it kept to come back (`tests/creds_follow_diff.rs`). If the change is one the worker's
//! borrowed credentials may not make (a root process calling `setuid` while a worker
//! wears `nobody`'s), glibc aborts the process, as it does whenever one thread fails to
//! follow: a program that changes its credentials should do so with no request of
//! other credentials in flight.
//!
//! A new thread starts with the credentials of the thread that made it, so a worker
//! that a thread whose credentials differ from those the first ring was set up with
//! would start is started by a thread kept for that instead ([`spawn`]), which has the
//! process's credentials: a worker started by a thread that dropped its privileges
//! could never take on a more privileged personality.
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// One 32-bit word of each capability set (`struct __user_cap_data_struct`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// A thread's credentials, as far as the engine carries them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Creds {
    /// Real, effective and saved user ids.
    uid: [u32; 3],
    fsuid: u32,
    /// Real, effective and saved group ids.
    gid: [u32; 3],
    fsgid: u32,
    groups: Vec<u32>,
    caps: [CapData; 2],
}

/// The raw system call's result: the value, or `-errno`.
fn sys(r: libc::c_long) -> Result<libc::c_long, i32> {
    if r < 0 {
        Err(crate::op::neg_errno())
    } else {
        Ok(r)
    }
}

impl Creds {
    /// The calling thread's credentials (six or seven system calls).
    pub(crate) fn current() -> Result<Creds, i32> {
        let mut uid = [0u32; 3];
        let mut gid = [0u32; 3];
        // SAFETY: three valid u32 out-pointers each.
        unsafe {
            sys(libc::syscall(
                libc::SYS_getresuid,
                &raw mut uid[0],
                &raw mut uid[1],
                &raw mut uid[2],
            ))?;
            sys(libc::syscall(
                libc::SYS_getresgid,
                &raw mut gid[0],
                &raw mut gid[1],
                &raw mut gid[2],
            ))?;
        }
        // setfsuid(-1) changes nothing and returns the current id.
        // SAFETY: no memory arguments.
        let fsuid = unsafe { libc::syscall(libc::SYS_setfsuid, u32::MAX) } as u32;
        // SAFETY: as above.
        let fsgid = unsafe { libc::syscall(libc::SYS_setfsgid, u32::MAX) } as u32;
        let groups = current_groups()?;
        Ok(Creds {
            uid,
            fsuid,
            gid,
            fsgid,
            groups,
            caps: capget()?,
        })
    }
}

/// The calling thread's supplementary groups.
fn current_groups() -> Result<Vec<u32>, i32> {
    let mut groups = vec![0u32; 32];
    loop {
        // SAFETY: `groups` has room for `groups.len()` ids.
        let r = unsafe {
            libc::syscall(
                libc::SYS_getgroups,
                groups.len() as libc::c_int,
                groups.as_mut_ptr(),
            )
        };
        match sys(r) {
            Ok(n) => {
                groups.truncate(n as usize);
                return Ok(groups);
            }
            Err(e) if e == -libc::EINVAL => {
                // More than we had room for: ask how many.
                // SAFETY: size 0 writes nothing.
                let n = sys(unsafe {
                    libc::syscall(libc::SYS_getgroups, 0, std::ptr::null_mut::<u32>())
                })?;
                groups.resize(n as usize + 1, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

fn capget() -> Result<[CapData; 2], i32> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: a valid header and room for the two words of version 3.
    sys(unsafe { libc::syscall(libc::SYS_capget, &raw mut hdr, data.as_mut_ptr()) })?;
    Ok(data)
}

fn capset(data: [CapData; 2]) -> Result<(), i32> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    // SAFETY: a valid header and the two words of version 3.
    sys(unsafe { libc::syscall(libc::SYS_capset, &raw mut hdr, data.as_ptr()) }).map(drop)
}

/// `setfsuid`/`setfsgid` (`nr`) to `id`, checked: the call returns the old id, not an
/// error.
fn set_fs_id(nr: libc::c_long, id: u32) -> Result<(), i32> {
    // SAFETY: no memory arguments.
    unsafe { libc::syscall(nr, id) };
    // SAFETY: as above; -1 changes nothing and returns the id now.
    if unsafe { libc::syscall(nr, u32::MAX) } as u32 == id {
        Ok(())
    } else {
        Err(-libc::EPERM)
    }
}

/// Every permitted capability made effective (with `inheritable` kept), which lets
/// the thread change its ids.
fn regain(permitted: [u32; 2], inheritable: [u32; 2]) -> Result<(), i32> {
    capset([0, 1].map(|i| CapData {
        effective: permitted[i],
        permitted: permitted[i],
        inheritable: inheritable[i],
    }))
}

/// Makes the calling thread's credentials `to`, keeping `permitted` as its permitted
/// capabilities, and `PR_SET_KEEPCAPS` at `keep` afterwards. The thread must hold
/// `permitted` now.
fn switch(now: &Creds, to: &Creds, permitted: [u32; 2], keep: bool) -> Result<(), i32> {
    if to
        .caps
        .iter()
        .zip(permitted)
        .any(|(c, p)| c.effective & !p != 0)
    {
        return Err(-libc::EPERM);
    }
    // SAFETY: prctl with integer arguments only.
    sys(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) }.into())?;
    let inh_now = [now.caps[0].inheritable, now.caps[1].inheritable];
    regain(permitted, inh_now)?;
    if to.groups != now.groups {
        // SAFETY: `to.groups` holds that many ids.
        sys(unsafe { libc::syscall(libc::SYS_setgroups, to.groups.len(), to.groups.as_ptr()) })?;
    }
    // SAFETY: no memory arguments.
    sys(unsafe { libc::syscall(libc::SYS_setresgid, to.gid[0], to.gid[1], to.gid[2]) })?;
    set_fs_id(libc::SYS_setfsgid, to.fsgid)?;
    // SAFETY: as above.
    sys(unsafe { libc::syscall(libc::SYS_setresuid, to.uid[0], to.uid[1], to.uid[2]) })?;
    // Leaving uid 0 cleared the effective set: regain it for the fsuid.
    regain(permitted, inh_now)?;
    set_fs_id(libc::SYS_setfsuid, to.fsuid)?;
    capset([0, 1].map(|i| CapData {
        effective: to.caps[i].effective,
        permitted: permitted[i],
        inheritable: to.caps[i].inheritable,
    }))?;
    if !keep {
        // SAFETY: as above.
        sys(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) }.into())?;
    }
    Ok(())
}

thread_local! {
    /// A worker's own credentials as last seen (read again before taking on others,
    /// since glibc's `setuid` family may have changed them meanwhile).
    static OWN: RefCell<Option<Creds>> = const { RefCell::new(None) };
}

/// A worker wearing a request's credentials until this is dropped.
pub(crate) struct Assumed {
    /// What to go back to, and whether `PR_SET_KEEPCAPS` was set before.
    back: Option<(Creds, bool)>,
    /// What the worker was made to wear: if it wears something else when it goes
    /// back, the process changed its credentials meanwhile.
    now: Option<Creds>,
}

impl Assumed {
    /// Takes on `creds` for one request if the calling worker's differ; `-EPERM` (or
    /// the failing call's error) if it cannot, having gone back to its own.
    pub(crate) fn take_on(creds: Option<&Creds>) -> Result<Assumed, i32> {
        let none = Assumed {
            back: None,
            now: None,
        };
        let Some(to) = creds else { return Ok(none) };
        if OWN.with(|o| o.borrow().as_ref() == Some(to)) {
            return Ok(none);
        }
        let own = Creds::current()?;
        OWN.with(|o| *o.borrow_mut() = Some(own.clone()));
        if own == *to {
            return Ok(none);
        }
        // SAFETY: prctl with integer arguments only.
        let keep = unsafe { libc::prctl(libc::PR_GET_KEEPCAPS, 0, 0, 0, 0) } == 1;
        let permitted = [own.caps[0].permitted, own.caps[1].permitted];
        match switch(&own, to, permitted, true) {
            Ok(()) => {
                // What the thread has now: `to`, but for the permitted set it kept.
                let mut set = to.clone();
                for (c, p) in set.caps.iter_mut().zip(permitted) {
                    c.permitted = p;
                }
                Ok(Assumed {
                    back: Some((own, keep)),
                    now: Some(set),
                })
            }
            Err(err) => {
                let failed = Assumed {
                    back: Some((own, keep)),
                    now: Creds::current().ok(),
                };
                drop(failed);
                Err(if err == -libc::EPERM {
                    err
                } else {
                    -libc::EPERM
                })
            }
        }
    }
}

impl Drop for Assumed {
    fn drop(&mut self) {
        let Some((own, keep)) = self.back.take() else {
            return;
        };
        let Ok(now) = Creds::current() else {
            OWN.with(|o| *o.borrow_mut() = None);
            return;
        };
        if self.now.take().is_some_and(|set| set != now) {
            // The process changed every thread's credentials meanwhile (glibc's
            // `setuid` family), this one's too: going back to the old ones would undo
            // that. Keep what the change left, less the permitted capabilities kept
            // only to come back, which the change would have cleared without
            // `PR_SET_KEEPCAPS` if it left no uid 0.
            OWN.with(|o| *o.borrow_mut() = None);
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, i32::from(keep), 0, 0, 0) };
            if now.uid.iter().all(|&u| u != 0) {
                let _ = capset([CapData::default(); 2]);
            }
            return;
        }
        let permitted = [own.caps[0].permitted, own.caps[1].permitted];
        if switch(&now, &own, permitted, keep).is_err() {
            // Not expected (the worker kept its permitted capabilities): the worker's
            // credentials are wrong now, so it must not believe them its own.
            OWN.with(|o| *o.borrow_mut() = None);
            eprintln!("uring-engine: a worker could not take back its own credentials");
        }
    }
}

/// Whether a worker must run `opcode` with the submitting thread's credentials: ops
/// that resolve paths, make or bind or connect sockets, or send (a Unix socket's
/// receiver may be told the sender's ids). The rest act on a file already open.
pub(crate) const fn matter_for(opcode: u8) -> bool {
    use uring_sys as sys;
    matches!(
        opcode,
        sys::IORING_OP_OPENAT
            | sys::IORING_OP_OPENAT2
            | sys::IORING_OP_STATX
            | sys::IORING_OP_RENAMEAT
            | sys::IORING_OP_UNLINKAT
            | sys::IORING_OP_MKDIRAT
            | sys::IORING_OP_SYMLINKAT
            | sys::IORING_OP_LINKAT
            | sys::IORING_OP_SETXATTR
            | sys::IORING_OP_GETXATTR
            | sys::IORING_OP_FSETXATTR
            | sys::IORING_OP_FGETXATTR
            | sys::IORING_OP_SOCKET
            | sys::IORING_OP_BIND
            | sys::IORING_OP_CONNECT
            | sys::IORING_OP_SEND
            | sys::IORING_OP_SENDMSG
            | sys::IORING_OP_SEND_ZC
            | sys::IORING_OP_SENDMSG_ZC
    )
}

/// The submitting thread's credentials, for a request leaving `enter` for a worker.
pub(crate) fn capture() -> Option<Arc<Creds>> {
    Creds::current().ok().map(Arc::new)
}

/// A ring's registered personalities (`IORING_REGISTER_PERSONALITY`): ids from 1, the
/// next one after the last given out, as the kernel's `xa_alloc_cyclic`.
#[derive(Default)]
pub(crate) struct Personalities {
    inner: Mutex<(BTreeMap<u16, Arc<Creds>>, u16)>,
}

impl Personalities {
    /// Registers the calling thread's credentials; the id, or `-EBUSY` when every id
    /// is taken.
    pub(crate) fn register(&self) -> Result<u16, i32> {
        let creds = Arc::new(Creds::current()?);
        let mut g = self.inner.lock().expect("personalities");
        let (map, next) = &mut *g;
        let start = (*next).max(1);
        let mut id = start;
        while map.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(1);
            if id == start {
                return Err(-libc::EBUSY);
            }
        }
        map.insert(id, creds);
        *next = id.checked_add(1).unwrap_or(1);
        Ok(id)
    }

    /// Drops personality `id`; `-EINVAL` if there is none.
    pub(crate) fn unregister(&self, id: u32) -> Result<(), i32> {
        let id = u16::try_from(id).map_err(|_| -libc::EINVAL)?;
        let mut g = self.inner.lock().expect("personalities");
        g.0.remove(&id).map(drop).ok_or(-libc::EINVAL)
    }

    /// The credentials of personality `id`, for a request naming it; `-EINVAL` if
    /// there is none. Out of line: preparation of every other request passes by.
    #[cold]
    #[inline(never)]
    pub(crate) fn get(&self, id: u16) -> Result<Arc<Creds>, i32> {
        let g = self.inner.lock().expect("personalities");
        g.0.get(&id).cloned().ok_or(-libc::EINVAL)
    }
}

/// A thread to start with the process's credentials, and where its handle goes.
type Job = (
    std::thread::Builder,
    Box<dyn FnOnce() + Send>,
    Sender<std::io::Result<JoinHandle<()>>>,
);

/// The thread that starts workers for foreign credentials, and the credentials of the
/// thread that started it (the first ring's setup).
static FACTORY: OnceLock<(Mutex<Sender<Job>>, Option<Creds>)> = OnceLock::new();

/// Starts, once per process, the thread that starts workers with the process's
/// credentials: called where a ring is set up.
pub(crate) fn start_factory() {
    FACTORY.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        // Should it fail to start, `spawn` finds the channel closed and starts workers
        // from the submitting thread.
        let _ = std::thread::Builder::new()
            .name("uring-spawner".into())
            .spawn(move || factory(rx));
        (Mutex::new(tx), Creds::current().ok())
    });
}

fn factory(rx: Receiver<Job>) {
    crate::wq::block_signals(false);
    while let Ok((builder, f, reply)) = rx.recv() {
        let _ = reply.send(builder.spawn(f));
    }
}

/// Starts a worker: from the calling thread, or, when its credentials differ from
/// those the process set its first ring up with, from the factory thread, so that the
/// worker has the process's credentials rather than the caller's. (Reading the
/// caller's costs a few microseconds, against tens for starting a thread.)
pub(crate) fn spawn(
    builder: std::thread::Builder,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let Some((tx, setup)) = FACTORY.get() else {
        return builder.spawn(f);
    };
    if Creds::current().ok() == *setup {
        return builder.spawn(f);
    }
    let (reply, back) = mpsc::channel();
    let sent = tx
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((builder, Box::new(f), reply));
    match sent {
        Ok(()) => back
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::from_raw_os_error(libc::EAGAIN))),
        // The factory is gone: start it here.
        Err(mpsc::SendError((builder, f, _))) => builder.spawn(f),
    }
}
