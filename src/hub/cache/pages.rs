//! Paginated LISTs (limit/continue): each page streams into the same [`ListWriter`], parked here
//! between pages; the LIST commits only once the last page arrived. A page out of sequence, or
//! a new first page of the view, drops what was gathered (the view stays as it was).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::store::{ListWriter, ViewKey};

/// Lists being paged through, at most this many at once.
const MAX_PENDING: usize = 64;
/// A list whose next page did not come within this long is dropped.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// How long a next page's writer waits for the previous page's writer to finish with it: a
/// client asks for the next page as soon as it has read one, often before the cache has.
const WAIT_FOR_PAGE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(5);

struct Pending {
    next: String,
    writer: ListWriter,
    since: Instant,
}

enum Slot {
    /// A page of the view is being written by the [`Page`] with this id.
    Writing(u64),
    /// Waiting for the page asked with `next`.
    Parked(Box<Pending>),
}

type Slots = Arc<Mutex<HashMap<ViewKey, Slot>>>;

fn lock(slots: &Slots) -> MutexGuard<'_, HashMap<ViewKey, Slot>> {
    slots.lock().unwrap_or_else(|p| p.into_inner())
}

/// Lists between their pages, by view.
#[derive(Default)]
pub struct Pages {
    slots: Slots,
    ids: AtomicU64,
}

/// One page being written. Until it is parked (or dropped, when its LIST ends or is given
/// up), the writer of the view's next page waits for it.
pub struct Page {
    slots: Slots,
    view: ViewKey,
    id: u64,
}

impl Drop for Page {
    fn drop(&mut self) {
        let mut slots = lock(&self.slots);
        if matches!(slots.get(&self.view), Some(Slot::Writing(id)) if *id == self.id) {
            slots.remove(&self.view);
        }
    }
}

impl Pages {
    fn writing(&self, slots: &mut HashMap<ViewKey, Slot>, view: &ViewKey) -> Page {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        slots.insert(view.clone(), Slot::Writing(id));
        Page {
            slots: self.slots.clone(),
            view: view.clone(),
            id,
        }
    }

    /// A first page of `view` arrived: whatever was gathered for it before is dropped.
    pub fn first(&self, view: &ViewKey) -> Page {
        let mut slots = lock(&self.slots);
        let gone = slots.remove(view);
        let page = self.writing(&mut slots, view);
        drop(slots);
        drop(gone); // outside the lock: dropping a writer only marks its LIST given up
        page
    }

    /// The writer of `view`'s LIST if `request_continue` is the token its last page gave,
    /// waiting (up to [`WAIT_FOR_PAGE`]) while that page is still being written.
    pub async fn next(&self, view: &ViewKey, request_continue: &str) -> Option<(ListWriter, Page)> {
        let deadline = Instant::now() + WAIT_FOR_PAGE;
        while self.being_written(view) {
            if Instant::now() >= deadline {
                return None;
            }
            smol::Timer::after(POLL).await;
        }
        let mut slots = lock(&self.slots);
        if !matches!(slots.get(view), Some(Slot::Parked(_))) {
            return None; // gone, or a new first page began meanwhile
        }
        let Some(Slot::Parked(p)) = slots.remove(view) else {
            return None;
        };
        if p.next != request_continue || p.since.elapsed() >= MAX_WAIT {
            drop(slots);
            return None; // out of sequence: the gathered pages are dropped
        }
        let page = self.writing(&mut slots, view);
        Some((p.writer, page))
    }

    fn being_written(&self, view: &ViewKey) -> bool {
        matches!(lock(&self.slots).get(view), Some(Slot::Writing(_)))
    }

    /// Parks `writer` until the page asked with `next` arrives.
    pub fn park(&self, page: Page, next: String, writer: ListWriter) {
        let mut slots = lock(&self.slots);
        if !matches!(slots.get(&page.view), Some(Slot::Writing(id)) if *id == page.id) {
            return; // a newer first page of the view took over
        }
        slots.retain(|_, s| !matches!(s, Slot::Parked(p) if p.since.elapsed() >= MAX_WAIT));
        let parked = slots
            .values()
            .filter(|s| matches!(s, Slot::Parked(_)))
            .count();
        if parked >= MAX_PENDING {
            log::warn!(
                "cache: too many paginated lists in flight; not caching {:?}",
                page.view
            );
            return; // dropping `page` clears its slot
        }
        let since = Instant::now();
        slots.insert(
            page.view.clone(),
            Slot::Parked(Box::new(Pending {
                next,
                writer,
                since,
            })),
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
        let next = |token: &str| smol::block_on(p.next(&v, token));
        p.park(
            p.first(&v),
            "c1".into(),
            store.begin_list(&v).expect("begin"),
        );
        assert!(next("zz").is_none(), "wrong token drops the list");
        assert!(next("c1").is_none(), "and it is gone");
        p.park(
            p.first(&v),
            "c1".into(),
            store.begin_list(&v).expect("free again"),
        );
        let (w, page) = next("c1").expect("right token");
        p.park(page, "c2".into(), w);
        drop(p.first(&v));
        assert!(next("c2").is_none(), "a new first page dropped it");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_next_page_waits_for_the_page_before_it() {
        let dir = std::env::temp_dir().join(format!("yurt-pages-wait-{}", std::process::id()));
        let store = Store::open(&dir, &StoreConfig::default()).expect("open");
        let (p, v) = (Arc::new(Pages::default()), ViewKey::default());
        let page = p.first(&v);
        let w = store.begin_list(&v).expect("begin");
        let (p2, v2) = (p.clone(), v.clone());
        let asker = std::thread::spawn(move || smol::block_on(p2.next(&v2, "c1")).is_some());
        std::thread::sleep(Duration::from_millis(100));
        p.park(page, "c1".into(), w); // the first page's writer was slower than the client
        assert!(
            asker.join().expect("thread"),
            "the next page got the writer"
        );
        // A page that ends without parking (cut short) lets a waiting next page go at once.
        drop(p.first(&v));
        assert!(smol::block_on(p.next(&v, "c1")).is_none());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
