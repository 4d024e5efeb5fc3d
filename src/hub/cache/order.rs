//! A watch's events continue the LIST the client made before it: they are applied only once
//! the view holds the state the watch started from (its `resourceVersion`). The LIST is
//! committed by another writer, which may still be decoding it when the first events come;
//! applying them first would leave a gap (events between the old view and the LIST) that the
//! LIST, then older than the view, could no longer fill.

use std::time::{Duration, Instant};

use crate::store::{Store, ViewKey};

/// How long a watch's events wait for the LIST they follow before the stream is not cached.
pub const WAIT_FOR_LIST: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(5);

/// Whether the view holds everything up to `from`, waiting up to [`WAIT_FOR_LIST`] (blocking:
/// call it on the blocking pool). A watch without a resourceVersion (or `0`) has nothing to
/// wait for.
pub fn caught_up(store: &Store, view: &ViewKey, from: Option<u64>) -> bool {
    caught_up_within(store, view, from, WAIT_FOR_LIST)
}

fn caught_up_within(store: &Store, view: &ViewKey, from: Option<u64>, wait: Duration) -> bool {
    let Some(from) = from.filter(|rv| *rv > 0) else {
        return true;
    };
    let deadline = Instant::now() + wait;
    loop {
        match store.scan(view) {
            Ok(Some((m, _))) if m.resource_version >= from => return true,
            Err(_) => return false,
            _ => {}
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Encoding, Gvr, ListMeta, StoreConfig};

    fn commit(store: &Store, view: &ViewKey, rv: u64) {
        let meta = ListMeta {
            api_version: "v1".into(),
            kind: "PodList".into(),
            resource_version: rv,
            encoding: Encoding::Json,
        };
        store.commit_list(view, &meta, &[]).expect("commit");
    }

    #[test]
    fn events_wait_for_the_list_they_follow() {
        let dir = std::env::temp_dir().join(format!("yurt-order-{}", std::process::id()));
        let store = std::sync::Arc::new(Store::open(&dir, &StoreConfig::default()).expect("open"));
        let view = ViewKey {
            component: "kubelet".into(),
            gvr: Gvr::new("", "v1", "pods"),
            ..ViewKey::default()
        };
        let short = Duration::from_millis(50);
        assert!(caught_up_within(&store, &view, None, short));
        assert!(caught_up_within(&store, &view, Some(0), short));
        assert!(
            !caught_up_within(&store, &view, Some(7), short),
            "never listed"
        );
        commit(&store, &view, 5);
        assert!(caught_up_within(&store, &view, Some(5), short));
        assert!(
            !caught_up_within(&store, &view, Some(7), short),
            "older view"
        );
        let (s, v) = (store.clone(), view.clone());
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            commit(&s, &v, 7);
        });
        assert!(caught_up_within(
            &store,
            &view,
            Some(7),
            Duration::from_secs(5)
        ));
        late.join().expect("commit thread");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
