//! Group commit: writers hand their batch to the OS, then wait for one fdatasync that covers
//! every batch written within the coalescing window. Each batch is still durable before its
//! call returns; bursts share one sync (fewer, larger writes: flash wear).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use fjall::{Database, PersistMode};

/// Write tickets handed out and synced.
#[derive(Default)]
struct Epochs {
    /// Tickets handed out (one per committed batch).
    written: u64,
    /// Every ticket up to this one is on the medium.
    synced: u64,
    /// The last sync failed: waiters are told so.
    failed: bool,
    stop: bool,
}

struct Shared {
    epochs: Mutex<Epochs>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Epochs> {
        self.epochs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Handle of the sync thread; dropping it stops the thread after a last sync.
pub(crate) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread: it syncs `window` after the first write of a quiet period.
    pub(crate) fn start(db: Database, window: Duration) -> std::io::Result<Syncer> {
        let shared = Arc::new(Shared {
            epochs: Mutex::new(Epochs::default()),
            changed: Condvar::new(),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("yurt-cache-sync".into())
            .spawn(move || run(&s, &db, window))?;
        Ok(Syncer {
            shared,
            thread: Some(thread),
        })
    }

    /// Waits until the batch just committed is on the medium; `false` if that sync failed.
    pub(crate) fn wait_durable(&self) -> bool {
        let mut e = self.shared.lock();
        e.written += 1;
        let ticket = e.written;
        self.shared.changed.notify_all();
        while e.synced < ticket && !e.stop {
            if e.failed {
                return false;
            }
            e = self
                .shared
                .changed
                .wait(e)
                .unwrap_or_else(|p| p.into_inner());
        }
        e.synced >= ticket
    }
}

fn run(s: &Shared, db: &Database, window: Duration) {
    loop {
        let mut e = s.lock();
        while e.written == e.synced && !e.stop {
            e = s.changed.wait(e).unwrap_or_else(|p| p.into_inner());
        }
        if e.written == e.synced {
            return; // stopping, nothing left
        }
        let stopping = e.stop;
        drop(e);
        if !stopping {
            std::thread::sleep(window); // gather the rest of the burst
        }
        let upto = s.lock().written;
        let ok = db.persist(PersistMode::SyncData);
        let mut e = s.lock();
        match ok {
            Ok(()) => {
                e.synced = e.synced.max(upto);
                e.failed = false;
            }
            Err(err) => {
                log::error!("cache: syncing the journal failed: {err}");
                e.failed = true;
            }
        }
        s.changed.notify_all();
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("cache: the sync thread panicked");
            }
        }
    }
}
