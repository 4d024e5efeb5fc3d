//! Edge-triggered readiness for the sockets of proxied connections.
//!
//! async-io registers interest one-shot: every time a read or a write has to wait, it re-arms the
//! socket with an `epoll_ctl`, about 2.5 per proxied request on the hub (docs/BENCHMARKS.md),
//! where nginx (edge-triggered) makes none. Here a socket is registered once, edge-triggered for
//! both directions, on an epoll instance of our own. The hub's own runtime ([`super::rt`]) has
//! one and waits on it directly; elsewhere a process-wide instance is a single source in
//! async-io's reactor, watched by one driver task: one re-arm per reactor turn serves every socket
//! that became ready in that turn.
//!
//! A socket's readiness is a counter per direction that the driver bumps on every edge, and a
//! flag that stays once the peer closed the direction or the socket failed. A stream reads the
//! counter before an I/O call; when the call comes back short or with `EAGAIN`, it waits until
//! the counter moves past that value (or the flag is set). An edge that arrives between the call and the wait has
//! already moved the counter, so it is never lost; a waker is stored before the counter is checked
//! the second time, and the driver bumps the counter before taking the waker.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::sync::lock;
use rustix::event::epoll;
use smol::Async;

/// One direction of a socket.
#[derive(Clone, Copy)]
pub enum Dir {
    Read = 0,
    Write = 1,
}

/// What the driver knows of one registered socket.
#[derive(Default)]
struct Source {
    ticks: [AtomicU64; 2],
    /// Per direction: the peer closed it (read side) or the socket failed. Unlike data, this
    /// stays: a read that returned the last bytes before the end of the stream came back short,
    /// and no further edge will announce the end itself.
    closed: [AtomicBool; 2],
    wakers: [Mutex<Option<Waker>>; 2],
}

impl Source {
    /// Records an edge in `dir` (one that stays if `closed`) and wakes whoever waits for it.
    fn bump(&self, dir: Dir, closed: bool) {
        if closed {
            self.closed[dir as usize].store(true, Ordering::Release);
        }
        self.ticks[dir as usize].fetch_add(1, Ordering::AcqRel);
        let waker = lock(&self.wakers[dir as usize]).take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Registered sockets by slot; a key is `generation << 32 | slot`, so an event for a socket that
/// was dropped (and whose slot was reused) finds a different generation and is ignored.
#[derive(Default)]
struct Slots {
    entries: Vec<(u32, Option<Arc<Source>>)>,
    free: Vec<u32>,
}

/// An epoll instance with its registered sockets: the process-wide one, driven by a task on
/// async-io's reactor, or one per [`super::rt`] runtime, whose thread waits on it itself.
pub(crate) struct Instance {
    epoll: OwnedFd,
    slots: Mutex<Slots>,
}

/// Events taken from the epoll instance per `epoll_wait`.
const BATCH: usize = 64;

/// The key of a runtime's eventfd; never a slot's (slot `u32::MAX` is never handed out).
const WAKE_KEY: u64 = u64::MAX;

impl Instance {
    pub(crate) fn new() -> io::Result<Arc<Instance>> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        Ok(Arc::new(Instance {
            epoll,
            slots: Mutex::new(Slots::default()),
        }))
    }

    /// Adds a runtime's eventfd, edge-triggered: [`Instance::turn`] returns when it is written.
    pub(crate) fn watch_wake_fd(&self, fd: &OwnedFd) -> io::Result<()> {
        let flags = epoll::EventFlags::IN | epoll::EventFlags::ET;
        epoll::add(&self.epoll, fd, epoll::EventData::new_u64(WAKE_KEY), flags)?;
        Ok(())
    }

    /// Takes the instance's events and hands them to the sockets' waiters: waits for the first
    /// if `block`, then takes whatever else is there without waiting. With a runtime's `wake`,
    /// its `sleeping` flag is cleared as soon as the wait returns (the wake-ups this turn hands
    /// out are then not announced on the eventfd again), and the eventfd is read empty when it
    /// is among the events.
    pub(crate) fn turn(&self, block: bool, wake: Option<&WakeFd<'_>>) -> rustix::io::Result<()> {
        let mut buf = [const { MaybeUninit::<epoll::Event>::uninit() }; BATCH];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut timeout = if block { None } else { Some(&zero) };
        loop {
            let events = match epoll::wait(&self.epoll, &mut buf[..], timeout) {
                Ok((events, _)) => events,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e),
            };
            if let Some(w) = wake {
                w.sleeping.store(false, Ordering::SeqCst);
            }
            let n = events.len();
            // Sources are taken under the lock and woken after it: a waker dropped by waking
            // may drop the last reference to a stream, whose deregistration takes the lock.
            let mut ready = [const { None::<(Arc<Source>, epoll::EventFlags)> }; BATCH];
            let mut taken = 0;
            {
                let slots = lock(&self.slots);
                for ev in events.iter() {
                    let key = ev.data.u64();
                    if key == WAKE_KEY {
                        if let Some(w) = wake {
                            let mut count = [0u8; 8];
                            let _ = rustix::io::read(w.fd, &mut count);
                        }
                        continue;
                    }
                    let (slot, gen) = ((key & 0xffff_ffff) as usize, (key >> 32) as u32);
                    if let Some((g, Some(src))) = slots.entries.get(slot) {
                        if *g == gen {
                            ready[taken] = Some((src.clone(), ev.flags));
                            taken += 1;
                        }
                    }
                }
            }
            for (src, flags) in ready[..taken].iter_mut().filter_map(Option::take) {
                dispatch(&src, flags);
            }
            if n < BATCH {
                return Ok(());
            }
            timeout = Some(&zero);
        }
    }
}

/// A runtime's way to be woken from other threads while it waits in [`Instance::turn`].
pub(crate) struct WakeFd<'a> {
    /// An eventfd registered with [`Instance::watch_wake_fd`].
    pub fd: &'a OwnedFd,
    /// Set by the runtime before it waits; wakers write `fd` only while it is set.
    pub sleeping: &'a AtomicBool,
}

/// Turns one epoll event of a socket into edges of its directions.
fn dispatch(src: &Source, flags: epoll::EventFlags) {
    let failed = flags.intersects(epoll::EventFlags::ERR | epoll::EventFlags::HUP);
    let read_closed = failed || flags.contains(epoll::EventFlags::RDHUP);
    if read_closed || flags.intersects(epoll::EventFlags::IN | epoll::EventFlags::PRI) {
        src.bump(Dir::Read, read_closed);
    }
    if failed || flags.contains(epoll::EventFlags::OUT) {
        src.bump(Dir::Write, failed);
    }
}

/// The process-wide instance, created (and its driver spawned) on first use.
fn global() -> io::Result<&'static Arc<Instance>> {
    static GLOBAL: OnceLock<Result<Arc<Instance>, String>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let instance =
                Instance::new().map_err(|e| format!("cannot create an epoll instance: {e}"))?;
            let watch = instance
                .epoll
                .try_clone()
                .and_then(Async::new)
                .map_err(|e| format!("cannot watch the epoll instance: {e}"))?;
            smol::spawn(drive(instance.clone(), watch)).detach();
            Ok(instance)
        })
        .as_ref()
        .map_err(|e| io::Error::other(e.clone()))
}

/// Waits (on async-io's reactor) for the instance to have events, then hands them out.
async fn drive(instance: Arc<Instance>, watch: Async<OwnedFd>) {
    loop {
        if let Err(e) = watch.readable().await {
            log::error!("socket readiness: waiting for the epoll instance failed: {e}");
            return;
        }
        if let Err(e) = instance.turn(false, None) {
            log::error!("socket readiness: epoll_wait failed: {e}");
            return;
        }
    }
}

/// A socket registered with an epoll instance; deregistered on drop.
pub struct Registration {
    key: u64,
    source: Arc<Source>,
    instance: Arc<Instance>,
}

impl Registration {
    /// Registers `fd` (non-blocking) for edges in both directions: with the instance of the
    /// [`super::rt`] runtime of this thread, or the process-wide one.
    pub fn new(fd: impl AsFd) -> io::Result<Registration> {
        let instance = match super::rt::current_instance() {
            Some(i) => i,
            None => global()?.clone(),
        };
        Registration::with(instance, fd)
    }

    /// Registers `fd` with `instance`.
    fn with(instance: Arc<Instance>, fd: impl AsFd) -> io::Result<Registration> {
        let source = Arc::new(Source::default());
        let key = {
            let mut slots = lock(&instance.slots);
            let slot = match slots.free.pop() {
                Some(s) => s,
                None => {
                    slots.entries.push((0, None));
                    (slots.entries.len() - 1) as u32
                }
            };
            let entry = &mut slots.entries[slot as usize];
            entry.0 = entry.0.wrapping_add(1);
            entry.1 = Some(source.clone());
            (u64::from(entry.0) << 32) | u64::from(slot)
        };
        let flags = epoll::EventFlags::IN
            | epoll::EventFlags::OUT
            | epoll::EventFlags::RDHUP
            | epoll::EventFlags::ET;
        epoll::add(&instance.epoll, fd, epoll::EventData::new_u64(key), flags)?;
        let reg = Registration {
            key,
            source,
            instance,
        };
        Ok(reg)
    }

    /// The edge count of `dir`: read it before an I/O call that may come back short.
    pub fn tick(&self, dir: Dir) -> u64 {
        self.source.ticks[dir as usize].load(Ordering::Acquire)
    }

    /// Ready once an edge in `dir` arrived after the count was `seen`, or the direction is
    /// closed.
    pub fn poll_edge(&self, dir: Dir, seen: u64, cx: &mut Context<'_>) -> Poll<()> {
        let i = dir as usize;
        let moved = || {
            self.source.closed[i].load(Ordering::Acquire)
                || self.source.ticks[i].load(Ordering::Acquire) != seen
        };
        if moved() {
            return Poll::Ready(());
        }
        {
            let mut slot = lock(&self.source.wakers[i]);
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        if moved() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // The socket's fd is closed right after this (it is not duplicated), which removes it
        // from the epoll instance; freeing the slot makes any event still queued for it stale.
        let mut slots = lock(&self.instance.slots);
        let slot = (self.key & 0xffff_ffff) as u32;
        if let Some(entry) = slots.entries.get_mut(slot as usize) {
            if u64::from(entry.0) == self.key >> 32 {
                entry.1 = None;
                slots.free.push(slot);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed setup step in a test should panic where it happens
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::task::Wake;
    use std::time::Duration;

    /// A waker that owns a registration: dropping the waker deregisters that socket.
    struct OwnsRegistration(#[allow(dead_code)] Registration);

    impl Wake for OwnsRegistration {
        fn wake(self: Arc<Self>) {}
    }

    /// Waking a socket's waiter may drop the last reference to another socket of the same
    /// instance, whose deregistration takes the slots' lock: the turn must not hold it then.
    #[test]
    fn a_waker_that_deregisters_a_socket_when_dropped_does_not_deadlock() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let instance = Instance::new().unwrap();
            let (a, mut a_peer) = UnixStream::pair().unwrap();
            let (b, _b_peer) = UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            let reg_a = Registration::with(instance.clone(), &a).unwrap();
            let reg_b = Registration::with(instance.clone(), &b).unwrap();
            // Take the edges of the registrations themselves first.
            instance.turn(false, None).unwrap();
            let waker = Waker::from(Arc::new(OwnsRegistration(reg_b)));
            let seen = reg_a.tick(Dir::Read);
            let pending = reg_a.poll_edge(Dir::Read, seen, &mut Context::from_waker(&waker));
            assert!(pending.is_pending(), "no data was sent yet");
            // The only reference to `reg_b` is now the waker stored for `a`.
            drop(waker);
            std::io::Write::write_all(&mut a_peer, b"x").unwrap();
            instance.turn(true, None).unwrap();
            let _ = tx.send(reg_a.tick(Dir::Read) != seen);
        });
        let woke = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the turn deadlocked on the slots' lock");
        assert!(woke, "the edge of `a` was not recorded");
    }
}
