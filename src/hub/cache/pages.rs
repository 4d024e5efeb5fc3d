//! Paginated LISTs (limit/continue): each page streams into the same [`ListWriter`], parked here
//! between pages; the LIST commits only once the last page arrived. A page out of sequence, or
//! a new first page of the view, drops what was gathered (the view stays as it was).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::{ListWriter, ViewKey};

/// Lists being paged through, at most this many at once.
const MAX_PENDING: usize = 64;
/// A list whose next page did not come within this long is dropped.
const MAX_WAIT: Duration = Duration::from_secs(300);

struct Pending {
    next: String,
    writer: ListWriter,
    since: Instant,
}

/// Lists waiting for their next page, by view.
#[derive(Default)]
pub struct Pages {
    pending: Mutex<HashMap<ViewKey, Pending>>,
}

impl Pages {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ViewKey, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A first page of `view` arrived: whatever was gathered for it before is dropped.
    pub fn forget(&self, view: &ViewKey) {
        let gone = self.lock().remove(view);
        drop(gone); // outside the lock: dropping a writer only marks its LIST given up
    }

    /// The writer of `view`'s LIST if `request_continue` is the token its last page gave.
    pub fn take(&self, view: &ViewKey, request_continue: &str) -> Option<ListWriter> {
        let p = self.lock().remove(view)?;
        (p.next == request_continue && p.since.elapsed() < MAX_WAIT).then_some(p.writer)
    }

    /// Parks `writer` until the page asked with `next` arrives.
    pub fn park(&self, view: &ViewKey, next: String, writer: ListWriter) {
        let mut pending = self.lock();
        pending.retain(|_, p| p.since.elapsed() < MAX_WAIT);
        if pending.len() >= MAX_PENDING {
            log::warn!("cache: too many paginated lists in flight; not caching {view:?}");
            return;
        }
        let since = Instant::now();
        pending.insert(
            view.clone(),
            Pending {
                next,
                writer,
                since,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreConfig};

    #[test]
    fn pages_continue_in_sequence_only() {
        let dir = std::env::temp_dir().join(format!("yurt-pages-{}", std::process::id()));
        let store = Store::open(&dir, &StoreConfig::default()).expect("open");
        let (p, v) = (Pages::default(), ViewKey::default());
        p.park(&v, "c1".into(), store.begin_list(&v).expect("begin"));
        assert!(p.take(&v, "zz").is_none(), "wrong token drops the list");
        assert!(p.take(&v, "c1").is_none(), "and it is gone");
        p.park(&v, "c1".into(), store.begin_list(&v).expect("free again"));
        let w = p.take(&v, "c1").expect("right token");
        p.park(&v, "c2".into(), w);
        p.forget(&v);
        assert!(p.take(&v, "c2").is_none(), "a new first page dropped it");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
