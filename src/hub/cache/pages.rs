//! Paginated LISTs (limit/continue): pages are assembled per view and committed only once the
//! last page arrived; a page out of sequence drops what was gathered.

use std::collections::HashMap;
use std::sync::Mutex;

use super::decode::Decoded;
use crate::store::ViewKey;

/// Lists being paged through, at most this many at once.
const MAX_PENDING: usize = 64;

struct Pending {
    next: String,
    list: Decoded,
}

/// Pages gathered so far, by view.
#[derive(Default)]
pub struct Pages {
    pending: Mutex<HashMap<ViewKey, Pending>>,
}

impl Pages {
    /// Feeds one page answered to a request with `request_continue`; returns the whole list when
    /// this page completes it.
    pub fn feed(&self, view: &ViewKey, request_continue: &str, page: Decoded) -> Option<Decoded> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = if request_continue.is_empty() {
            pending.remove(view);
            page
        } else {
            let mut p = pending
                .remove(view)
                .filter(|p| p.next == request_continue)?;
            p.list.items.extend(page.items);
            p.list.continue_token = page.continue_token;
            p.list
        };
        if list.continue_token.is_empty() {
            return Some(list);
        }
        if pending.len() >= MAX_PENDING {
            log::warn!("cache: too many paginated lists in flight; not caching {view:?}");
            return None;
        }
        let next = std::mem::take(&mut list.continue_token);
        pending.insert(view.clone(), Pending { next, list });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::cache::decode::OwnedItem;

    fn page(names: &[&str], cont: &str) -> Decoded {
        Decoded {
            api_version: "v1".into(),
            kind: "PodList".into(),
            resource_version: 9,
            continue_token: cont.into(),
            items: names
                .iter()
                .map(|n| OwnedItem {
                    namespace: "d".into(),
                    name: (*n).into(),
                    resource_version: 1,
                    bytes: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn assembles_in_order_and_drops_out_of_sequence() {
        let p = Pages::default();
        let v = ViewKey::default();
        assert!(p.feed(&v, "", page(&["a"], "c1")).is_none());
        assert!(p.feed(&v, "c1", page(&["b"], "c2")).is_none());
        let all = p.feed(&v, "c2", page(&["c"], "")).expect("complete");
        assert_eq!(all.items.len(), 3);
        assert!(p.feed(&v, "", page(&["a"], "c1")).is_none());
        assert!(p.feed(&v, "zz", page(&["b"], "")).is_none(), "wrong token");
        assert!(p.feed(&v, "c1", page(&["b"], "")).is_none(), "dropped");
    }
}
