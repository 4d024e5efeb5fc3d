//! Interval sync: one thread that fdatasyncs the journal every N ms if anything was written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fjall::{Database, PersistMode};

/// Handle of the sync thread; dropping it stops the thread after a last sync.
pub(crate) struct Syncer {
    dirty: Arc<AtomicBool>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread.
    pub(crate) fn start(db: Database, every: Duration) -> std::io::Result<Syncer> {
        let dirty = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let flag = Arc::clone(&dirty);
        let thread = std::thread::Builder::new()
            .name("yurt-cache-sync".into())
            .spawn(move || loop {
                let last = !matches!(stopped.recv_timeout(every), Err(RecvTimeoutError::Timeout));
                if flag.swap(false, Ordering::AcqRel) {
                    if let Err(e) = db.persist(PersistMode::SyncData) {
                        log::error!("cache: syncing the journal failed: {e}");
                    }
                }
                if last {
                    return;
                }
            })?;
        Ok(Syncer {
            dirty,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Notes that a write is waiting for the next sync.
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("cache: the sync thread panicked");
            }
        }
    }
}
