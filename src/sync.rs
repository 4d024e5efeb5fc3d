//! Small helpers over std's synchronisation primitives.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, also after a thread panicked while holding it. Every lock in this crate guards data
/// that each update leaves consistent (counters, queues, maps changed in one step) and nothing
/// panics while holding one on purpose, so poisoning tells nothing worth stopping for.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
