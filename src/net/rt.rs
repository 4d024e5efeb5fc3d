//! The hub's executor: one thread that runs its tasks and, when none is ready, sleeps in
//! `epoll_wait` on the readiness instance of the proxied sockets ([`super::readiness`]).
//!
//! With smol's executor, waiting went through async-io's reactor: each reactor turn made five or
//! six system calls of its own (`epoll_pwait` on its poller, `timerfd_settime`, re-arming its
//! timer and notifier fds, reading its eventfd, re-arming our epoll instance) besides the
//! `epoll_wait` that took the sockets' edges — about 1.3 per proxied GET (docs/BENCHMARKS.md).
//! Here a turn is that one `epoll_wait`, as in nginx's event loop.
//!
//! Everything else async-io does stays with async-io: timers, signals, listeners and sockets
//! not taken over by [`super::io::Stream`] are driven by its own thread, whose wake-ups reach
//! this thread through an eventfd in the same epoll instance (written only when this thread
//! sleeps). Tasks spawned with [`spawn`] from this thread run here; from any other thread,
//! [`spawn`] is `smol::spawn`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use async_task::{Runnable, Task};

use super::readiness::{Instance, WakeFd};
use crate::sync::lock;

/// Tasks run between two looks at the sockets, so a busy task cannot starve the others' I/O.
const BUDGET: usize = 256;

struct Runtime {
    queue: Mutex<VecDeque<Runnable>>,
    /// Set while the thread is (about to be) blocked in `epoll_wait`: a wake-up must write the
    /// eventfd.
    sleeping: AtomicBool,
    /// Readable when another thread woke a task here; registered in `instance`.
    wake_fd: OwnedFd,
    /// How often `wake_fd` was written: only wake-ups from other threads should.
    eventfd_writes: AtomicU64,
    instance: Arc<Instance>,
}

impl Runtime {
    fn push(&self, runnable: Runnable) {
        lock(&self.queue).push_back(runnable);
        self.notify();
    }

    fn notify(&self) {
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.eventfd_writes.fetch_add(1, Ordering::Relaxed);
            // A failed write (the counter cannot overflow at one per sleep) leaves the thread
            // asleep until its next socket event; nothing else can be done about it here.
            let _ = rustix::io::write(&self.wake_fd, &1u64.to_ne_bytes());
        }
    }

    fn pop(&self) -> Option<Runnable> {
        lock(&self.queue).pop_front()
    }

    fn is_idle(&self) -> bool {
        lock(&self.queue).is_empty()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Runtime>>> = const { RefCell::new(None) };
}

/// The readiness instance of the runtime running on this thread, if any: sockets registered from
/// here are watched by this thread's loop.
pub(crate) fn current_instance() -> Option<Arc<Instance>> {
    CURRENT.with(|c| c.borrow().as_ref().map(|rt| rt.instance.clone()))
}

/// Spawns `fut` on the runtime of this thread, or on smol's executor when there is none.
/// A panic in the task is printed and ends only that task (as with smol).
pub fn spawn<F>(fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(rt) = CURRENT.with(|c| c.borrow().clone()) else {
        return smol::spawn(fut);
    };
    let (runnable, task) = async_task::Builder::new()
        .propagate_panic(true)
        .spawn(move |_| fut, move |r| rt.push(r));
    runnable.schedule();
    task
}

/// Wakes the future `block_on` runs.
struct MainWaker {
    woken: AtomicBool,
    rt: Arc<Runtime>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.rt.notify();
    }
}

/// Clears the thread's runtime when `block_on` ends, also by a panic.
struct Enter(Arc<Runtime>);

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
        // Tasks still queued hold the runtime in their schedule function: drop them here.
        let left: Vec<Runnable> = lock(&self.0.queue).drain(..).collect();
        drop(left);
    }
}

/// Runs `fut` to completion on this thread, with the tasks it spawns. Falls back to
/// `smol::block_on` (logged) if the epoll instance or the eventfd cannot be created.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    if CURRENT.with(|c| c.borrow().is_some()) {
        // Nested: the outer loop is blocked until this returns, as with any `block_on`.
        return smol::block_on(fut);
    }
    let rt = match new_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            log::warn!("hub runtime unavailable ({e}); using smol's executor");
            return smol::block_on(fut);
        }
    };
    CURRENT.with(|c| *c.borrow_mut() = Some(rt.clone()));
    let _enter = Enter(rt.clone());
    let main = Arc::new(MainWaker {
        woken: AtomicBool::new(true),
        rt: rt.clone(),
    });
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if main.woken.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        }
        for _ in 0..BUDGET {
            match rt.pop() {
                Some(r) => {
                    r.run();
                }
                None => break,
            }
        }
        // Block only when nothing is left to run; `sleeping` is set before the last look, so
        // a wake-up from another thread either is seen here or writes the eventfd.
        rt.sleeping.store(true, Ordering::SeqCst);
        let block = rt.is_idle() && !main.woken.load(Ordering::SeqCst);
        if !block {
            rt.sleeping.store(false, Ordering::SeqCst);
        }
        let wake = WakeFd {
            fd: &rt.wake_fd,
            sleeping: &rt.sleeping,
        };
        if let Err(e) = rt.instance.turn(block, Some(&wake)) {
            // Only EBADF/EINVAL are possible here: the instance is gone, nothing can be waited
            // for any more.
            panic!("hub runtime: epoll_wait failed: {e}");
        }
    }
}

fn new_runtime() -> std::io::Result<Arc<Runtime>> {
    let instance = Instance::new()?;
    let wake_fd = rustix::event::eventfd(
        0,
        rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
    )?;
    instance.watch_wake_fd(&wake_fd)?;
    Ok(Arc::new(Runtime {
        queue: Mutex::new(VecDeque::new()),
        sleeping: AtomicBool::new(false),
        wake_fd,
        eventfd_writes: AtomicU64::new(0),
        instance,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed setup step in a test should panic where it happens
mod tests {
    use super::*;
    use std::time::Duration;

    /// `f()` on a thread of its own; panics if it has not returned within 10 s (a runtime that
    /// missed a wake-up sleeps forever).
    fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the runtime never finished: a wake-up was lost")
    }

    /// Tasks spawned from the runtime's thread run on it, and `block_on` returns their results.
    #[test]
    fn spawned_tasks_run_on_the_runtime_thread() {
        let (here, ids) = bounded(|| {
            let here = std::thread::current().id();
            let ids = block_on(async {
                let tasks: Vec<_> = (0..100)
                    .map(|i| spawn(async move { (i, std::thread::current().id()) }))
                    .collect();
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await);
                }
                out
            });
            (here, ids)
        });
        assert_eq!(ids.len(), 100);
        for (i, (n, id)) in ids.into_iter().enumerate() {
            assert_eq!(n, i);
            assert_eq!(id, here, "task {i} ran on another thread");
        }
        // Off the runtime, `spawn` is smol's.
        let off = smol::block_on(spawn(async { std::thread::current().id() }));
        assert_ne!(off, here);
    }

    /// A wake-up from another thread while the runtime sleeps in `epoll_wait` (the eventfd
    /// path), many times over, and async-io's timers (driven by its own thread) still fire.
    #[test]
    fn wake_ups_from_other_threads_and_timers_arrive() {
        let got = bounded(|| {
            block_on(async {
                let (tx, rx) = smol::channel::bounded::<u32>(1);
                let feeder = std::thread::spawn(move || {
                    for i in 0..200 {
                        if i % 20 == 0 {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        smol::block_on(tx.send(i)).unwrap();
                    }
                });
                let sum = spawn(async move {
                    let mut sum = 0;
                    while let Ok(i) = rx.recv().await {
                        sum += i;
                    }
                    sum
                });
                let started = std::time::Instant::now();
                smol::Timer::after(Duration::from_millis(30)).await;
                assert!(started.elapsed() >= Duration::from_millis(30));
                let sum = sum.await;
                feeder.join().unwrap();
                sum
            })
        });
        assert_eq!(got, (0..200).sum::<u32>());
    }

    /// Socket edges the runtime takes itself wake their tasks without a system call: the
    /// eventfd is for wake-ups from other threads only. (A `sleeping` flag left set while the
    /// turn hands out its edges made every one of them write it: 0.33 writes and 0.27 reads per
    /// proxied GET.)
    #[test]
    fn edges_taken_by_the_runtime_never_write_its_eventfd() {
        use smol::io::{AsyncReadExt, AsyncWriteExt};
        const ROUNDS: usize = 200;
        let writes = bounded(|| {
            block_on(async {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let peer = std::thread::spawn(move || {
                    let (mut s, _) = listener.accept().unwrap();
                    let mut buf = [0u8; 4];
                    for _ in 0..ROUNDS {
                        std::io::Read::read_exact(&mut s, &mut buf).unwrap();
                        std::io::Write::write_all(&mut s, b"pong").unwrap();
                    }
                });
                let tcp = std::net::TcpStream::connect(addr).unwrap();
                let mut s = crate::net::io::Stream::from_std(tcp).unwrap();
                let mut buf = [0u8; 4];
                for _ in 0..ROUNDS {
                    s.write_all(b"ping").await.unwrap();
                    // Each answer arrives while the runtime waits in epoll_wait.
                    s.read_exact(&mut buf).await.unwrap();
                    assert_eq!(&buf, b"pong");
                }
                peer.join().unwrap();
                CURRENT.with(|c| {
                    let c = c.borrow();
                    c.as_ref().unwrap().eventfd_writes.load(Ordering::Relaxed)
                })
            })
        });
        assert_eq!(
            writes, 0,
            "eventfd written for wake-ups of the runtime's own turns"
        );
    }

    /// A panicking task ends alone; the runtime and the other tasks go on.
    #[test]
    fn a_panicking_task_does_not_stop_the_runtime() {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let out = bounded(|| {
            block_on(async move {
                spawn(async move {
                    flag.store(true, Ordering::SeqCst);
                    panic!("test: a task that panics");
                })
                .detach();
                spawn(async {
                    smol::Timer::after(Duration::from_millis(10)).await;
                    7
                })
                .await
            })
        });
        assert!(ran.load(Ordering::SeqCst), "the panicking task never ran");
        assert_eq!(out, 7);
    }
}
