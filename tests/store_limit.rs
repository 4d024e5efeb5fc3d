//! The size limit: past `max_cache_bytes` new views and growth are refused with a typed error,
//! the views already stored stay whole, and one log line is written per crossing.
#![cfg(feature = "edge")]

use std::sync::atomic::{AtomicUsize, Ordering};

use yurt::store::{
    Applied, Committed, Encoding, Event, Gvr, Item, ListMeta, Store, StoreConfig, StoreError,
    ViewKey,
};

/// Counts warnings that say the cache is full (this binary has one test, so nothing else logs).
struct FullLines;

static FULL_LINES: AtomicUsize = AtomicUsize::new(0);

impl log::Log for FullLines {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.level() == log::Level::Warn && record.args().to_string().contains("cache full") {
            FULL_LINES.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn flush(&self) {}
}

fn view(name: &str) -> ViewKey {
    ViewKey {
        component: "kubelet".into(),
        gvr: Gvr::new("", "v1", "pods"),
        label_selector: format!("app={name}"),
        ..ViewKey::default()
    }
}

fn meta(rv: u64) -> ListMeta {
    ListMeta {
        api_version: "v1".into(),
        kind: "PodList".into(),
        resource_version: rv,
        encoding: Encoding::Protobuf,
    }
}

fn obj<'a>(name: &'a str, rv: u64, bytes: &'a [u8]) -> Item<'a> {
    Item {
        namespace: "ns",
        name,
        resource_version: rv,
        bytes,
    }
}

fn names(store: &Store, v: &ViewKey) -> Vec<String> {
    let (_, items) = store.list(v).expect("list").expect("cached");
    items.into_iter().map(|i| i.name).collect()
}

#[test]
fn the_size_limit_refuses_growth_and_logs_once_per_crossing() {
    log::set_logger(&FullLines).expect("first logger");
    log::set_max_level(log::LevelFilter::Warn);
    let dir = std::env::temp_dir().join(format!("yurt-store-limit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = StoreConfig {
        max_cache_bytes: 1000,
        ..StoreConfig::default()
    };
    let store = Store::open(&dir, &cfg).expect("open");
    let (a, b, c) = (view("a"), view("b"), view("c"));
    let big = [0u8; 500];
    let a_items = [obj("a1", 1, &big[..300]), obj("a2", 1, &big[..300])];
    assert_eq!(
        store.commit_list(&a, &meta(1), &a_items).ok(),
        Some(Committed::Stored)
    );

    // A new view past the limit: refused, typed, one line; the refusal repeats without a line.
    for _ in 0..3 {
        let r = store.commit_list(&b, &meta(1), &[obj("b1", 1, &big)]);
        assert!(
            matches!(
                r,
                Err(StoreError::Full {
                    used: 600,
                    adding: 500,
                    limit: 1000
                })
            ),
            "{r:?}"
        );
    }
    assert!(store.list(&b).expect("list").is_none());
    assert_eq!(FULL_LINES.load(Ordering::SeqCst), 1);

    // Growth by watch events is refused too, and the view's later bursts with it (they would
    // build on a state it never held), until the next list; the view stays as it was.
    let grow = [Event::Put(obj("a3", 2, &big))];
    assert!(matches!(
        store.apply(&a, &grow),
        Err(StoreError::Full { .. })
    ));
    let shrink = [Event::Delete {
        namespace: "ns",
        name: "a1",
        resource_version: 3,
    }];
    assert!(matches!(
        store.apply(&a, &shrink),
        Err(StoreError::Full { .. })
    ));
    assert_eq!(names(&store, &a), ["a1", "a2"]);
    assert_eq!(FULL_LINES.load(Ordering::SeqCst), 1);

    // A smaller relist is always taken, frees room, and lets events through again.
    let a_small = [obj("a1", 4, &big[..300])];
    assert_eq!(
        store.commit_list(&a, &meta(4), &a_small).ok(),
        Some(Committed::Stored)
    );
    assert!(matches!(store.apply(&a, &shrink), Ok(Applied::Updated(_))));
    assert_eq!(store.used_bytes(), 300);
    assert_eq!(
        store.commit_list(&b, &meta(1), &[obj("b1", 1, &big)]).ok(),
        Some(Committed::Stored)
    );

    // Crossing again after space was freed: one more line.
    assert!(matches!(
        store.commit_list(&c, &meta(1), &[obj("c1", 1, &big)]),
        Err(StoreError::Full { .. })
    ));
    assert_eq!(FULL_LINES.load(Ordering::SeqCst), 2);

    // The count survives a restart (it is recomputed from the views).
    drop(store);
    let store = Store::open(&dir, &cfg).expect("reopen");
    assert_eq!(store.used_bytes(), 800);
    assert!(matches!(
        store.commit_list(&c, &meta(1), &[obj("c1", 1, &big)]),
        Err(StoreError::Full { .. })
    ));
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
