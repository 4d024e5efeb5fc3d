//! The store against a real fjall database: list swaps, watch events, GET fallback,
//! per-component isolation, the size limit, hostile names, GC helpers and file modes.
#![cfg(feature = "edge")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use yurt::store::{
    Applied, Committed, Encoding, Event, Gvr, Item, ListMeta, Store, StoreConfig, StoreError,
    SyncPolicy, ViewKey,
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("yurt-store-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Path) -> Store {
    Store::open(dir, &StoreConfig::default()).expect("open store")
}

fn view(component: &str, ns: &str, fields: &str) -> ViewKey {
    ViewKey {
        component: component.into(),
        gvr: Gvr::new("", "v1", "pods"),
        namespace: ns.into(),
        field_selector: fields.into(),
        ..ViewKey::default()
    }
    .normalized()
}

fn meta(rv: u64) -> ListMeta {
    ListMeta {
        api_version: "v1".into(),
        kind: "PodList".into(),
        resource_version: rv,
        encoding: Encoding::Json,
    }
}

fn item<'a>(name: &'a str, rv: u64, bytes: &'a [u8]) -> Item<'a> {
    Item {
        namespace: "ns",
        name,
        resource_version: rv,
        bytes,
    }
}

/// (name, rv, bytes) of every object of the view, in store order.
fn contents(store: &Store, v: &ViewKey) -> Vec<(String, u64, Vec<u8>)> {
    let (_, items) = store.list(v).expect("list").expect("view cached");
    items
        .into_iter()
        .map(|i| (i.name.clone(), i.resource_version, i.bytes().to_vec()))
        .collect()
}

fn row(name: &str, rv: u64, bytes: &[u8]) -> (String, u64, Vec<u8>) {
    (name.into(), rv, bytes.to_vec())
}

#[test]
fn commit_list_replaces_the_whole_membership() {
    let dir = TempDir::new("swap");
    let store = open(&dir.0);
    let v = view("kubelet", "", "spec.nodeName=n1");
    let first = [
        item("a", 1, b"A1"),
        item("b", 2, b"B2"),
        item("c", 3, b"C3"),
    ];
    assert_eq!(
        store.commit_list(&v, &meta(10), &first).ok(),
        Some(Committed::Stored)
    );
    let second = [item("d", 12, b"D12"), item("b", 11, b"B11")];
    assert_eq!(
        store.commit_list(&v, &meta(20), &second).ok(),
        Some(Committed::Stored)
    );
    assert_eq!(
        contents(&store, &v),
        vec![row("b", 11, b"B11"), row("d", 12, b"D12")]
    );
    let (m, _) = store.list(&v).expect("list").expect("cached");
    assert_eq!((m.resource_version, m.count, m.bytes), (20, 2, 6));
    assert_eq!((m.kind.as_str(), m.encoding), ("PodList", Encoding::Json));
    assert_eq!(store.used_bytes(), 6);
    // An empty list empties the view but keeps it cached.
    store.commit_list(&v, &meta(21), &[]).expect("commit");
    assert_eq!(contents(&store, &v), vec![]);
    drop(store);
    let store = open(&dir.0);
    let (m, items) = store
        .list(&v)
        .expect("list")
        .expect("still cached after reopen");
    assert_eq!((m.resource_version, m.count, items.len()), (21, 0, 0));
}

#[test]
fn an_older_list_never_replaces_a_newer_one() {
    let dir = TempDir::new("stale");
    let store = open(&dir.0);
    let v = view("kubelet", "", "");
    store
        .commit_list(&v, &meta(20), &[item("a", 20, b"new")])
        .expect("commit");
    let r = store.commit_list(&v, &meta(15), &[item("a", 15, b"old")]);
    assert_eq!(r.ok(), Some(Committed::Stale { current: 20 }));
    assert_eq!(contents(&store, &v), vec![row("a", 20, b"new")]);
}

#[test]
fn duplicates_in_a_list_keep_the_highest_resource_version() {
    let dir = TempDir::new("dup");
    let store = open(&dir.0);
    let v = view("kubelet", "", "");
    let items = [
        item("a", 5, b"five"),
        item("a", 9, b"nine"),
        item("a", 7, b"seven"),
    ];
    store.commit_list(&v, &meta(9), &items).expect("commit");
    assert_eq!(contents(&store, &v), vec![row("a", 9, b"nine")]);
}

#[test]
fn watch_events_follow_resource_versions() {
    let dir = TempDir::new("apply");
    let store = open(&dir.0);
    let v = view("kubelet", "", "spec.nodeName=n1");
    store
        .commit_list(&v, &meta(10), &[item("a", 10, b"a10"), item("b", 8, b"b8")])
        .expect("commit");
    let burst = [
        Event::Put(item("a", 9, b"a9")), // older: ignored
        Event::Put(item("c", 11, b"c11")),
        Event::Delete {
            namespace: "ns",
            name: "b",
            resource_version: 12,
        },
        Event::Put(item("a", 13, b"a13")),
        Event::Bookmark {
            resource_version: 15,
        },
    ];
    let Ok(Applied::Updated(stats)) = store.apply(&v, &burst) else {
        panic!("view is cached, events must apply");
    };
    assert_eq!((stats.stored, stats.deleted, stats.ignored), (2, 1, 1));
    assert_eq!(stats.resource_version, 15);
    assert_eq!(
        contents(&store, &v),
        vec![row("a", 13, b"a13"), row("c", 11, b"c11")]
    );
    let (m, _) = store.list(&v).expect("list").expect("cached");
    assert_eq!((m.resource_version, m.count, m.bytes), (15, 2, 6));
    // A bookmark never moves the view back.
    store
        .apply(
            &v,
            &[Event::Bookmark {
                resource_version: 3,
            }],
        )
        .expect("apply");
    assert_eq!(
        store
            .list(&v)
            .expect("list")
            .map(|(m, _)| m.resource_version),
        Some(15)
    );
}

#[test]
fn events_for_a_view_never_listed_are_ignored() {
    let dir = TempDir::new("notcached");
    let store = open(&dir.0);
    let v = view("kubelet", "", "spec.nodeName=n1");
    let r = store.apply(&v, &[Event::Put(item("a", 1, b"a"))]);
    assert_eq!(r.ok(), Some(Applied::NotCached));
    assert!(store.list(&v).expect("list").is_none());
    assert!(store.views().expect("views").is_empty());
}

#[test]
fn get_falls_back_to_any_view_of_the_component_newest_wins() {
    let dir = TempDir::new("get");
    let store = open(&dir.0);
    let gvr = Gvr::new("", "v1", "pods");
    let by_node = view("kubelet", "", "spec.nodeName=n1");
    let all_ns = view("kubelet", "ns", "");
    let elsewhere = view("kubelet", "other", "");
    store
        .commit_list(&by_node, &meta(5), &[item("p", 5, b"p5")])
        .expect("commit");
    store
        .commit_list(&all_ns, &meta(7), &[item("p", 7, b"p7")])
        .expect("commit");
    let got = store
        .get("kubelet", &gvr, "ns", "p")
        .expect("get")
        .expect("found");
    assert_eq!((got.resource_version, got.bytes()), (7, &b"p7"[..]));
    // A GET's own view counts too, and loses to a newer copy in a list.
    let mut own = view("kubelet", "ns", "");
    own.name = "p".into();
    store
        .put_object(&own, &meta(6), &item("p", 6, b"p6"))
        .expect("put");
    assert_eq!(
        store
            .get("kubelet", &gvr, "ns", "p")
            .expect("get")
            .map(|i| i.resource_version),
        Some(7)
    );
    store.drop_view(&all_ns).expect("drop");
    assert_eq!(
        store
            .get("kubelet", &gvr, "ns", "p")
            .expect("get")
            .map(|i| i.resource_version),
        Some(6)
    );
    assert!(store
        .get("kubelet", &gvr, "ns", "missing")
        .expect("get")
        .is_none());
    // Other namespaces' and other resources' views are not consulted.
    store
        .commit_list(&elsewhere, &meta(8), &[])
        .expect("commit");
    assert!(store
        .get("kubelet", &Gvr::new("", "v1", "nodes"), "ns", "p")
        .expect("get")
        .is_none());
}

#[test]
fn put_object_keeps_the_newest_and_checks_its_name() {
    let dir = TempDir::new("put");
    let store = open(&dir.0);
    let mut own = view("kubelet", "", "");
    own.gvr = Gvr::new("", "v1", "nodes");
    own.name = "n1".into();
    let node = |rv, bytes| Item {
        namespace: "",
        name: "n1",
        resource_version: rv,
        bytes,
    };
    store
        .put_object(&own, &meta(9), &node(9, &b"n9"[..]))
        .expect("put");
    let older = store.put_object(&own, &meta(8), &node(8, &b"n8"[..]));
    assert_eq!(older.ok(), Some(Committed::Stale { current: 9 }));
    let wrong = Item {
        name: "n2",
        ..node(10, &b"x"[..])
    };
    assert!(matches!(
        store.put_object(&own, &meta(10), &wrong),
        Err(StoreError::Invalid(_))
    ));
    let got = store
        .get("kubelet", &own.gvr, "", "n1")
        .expect("get")
        .expect("found");
    assert_eq!(got.bytes(), b"n9");
}

#[test]
fn components_never_see_each_other() {
    let dir = TempDir::new("iso");
    let store = open(&dir.0);
    let gvr = Gvr::new("", "v1", "pods");
    let kubelet = view("kubelet", "", "");
    store
        .commit_list(&kubelet, &meta(3), &[item("p", 3, b"secret")])
        .expect("commit");
    for other in ["kube-proxy", "kube", "kubelet2", "", "Kubelet"] {
        assert!(
            store.get(other, &gvr, "ns", "p").expect("get").is_none(),
            "{other:?}"
        );
        assert!(
            store.list(&view(other, "", "")).expect("list").is_none(),
            "{other:?}"
        );
        assert!(
            store.views_for(other, &gvr).expect("views").is_empty(),
            "{other:?}"
        );
        let r = store.apply(&view(other, "", ""), &[Event::Put(item("p", 4, b"x"))]);
        assert_eq!(r.ok(), Some(Applied::NotCached));
    }
    assert_eq!(store.views_for("kubelet", &gvr).expect("views").len(), 1);
    assert_eq!(contents(&store, &kubelet), vec![row("p", 3, b"secret")]);
}

#[test]
fn hostile_names_are_just_bytes() {
    let dir = TempDir::new("names");
    let store = open(&dir.0);
    let gvr = Gvr::new("", "v1", "pods");
    let long = "n".repeat(253);
    let names = [
        "a/b",
        "..",
        "../../etc/passwd",
        "nul\0x",
        "ünï☃",
        long.as_str(),
    ];
    let v = view("kubelet", "", "metadata.name=a\\,b");
    let items: Vec<Item> = names
        .iter()
        .map(|n| Item {
            namespace: n,
            name: n,
            resource_version: 1,
            bytes: n.as_bytes(),
        })
        .collect();
    store.commit_list(&v, &meta(1), &items).expect("commit");
    let (m, stored) = store.list(&v).expect("list").expect("cached");
    assert_eq!(m.count, names.len() as u64);
    for n in names {
        let got = store
            .get("kubelet", &gvr, n, n)
            .expect("get")
            .expect("stored");
        assert_eq!(
            (got.namespace.as_str(), got.name.as_str(), got.bytes()),
            (n, n, n.as_bytes())
        );
    }
    assert!(stored
        .iter()
        .all(|i| i.namespace == i.name && i.bytes() == i.name.as_bytes()));
    let entries: Vec<_> = walk(&dir.0);
    assert!(entries
        .iter()
        .all(|p| !p.to_string_lossy().contains("passwd")));
    assert!(store.views().expect("views").iter().any(|(k, _)| *k == v));
}

#[test]
fn objects_outside_the_view_are_refused_whole() {
    let dir = TempDir::new("outside");
    let store = open(&dir.0);
    let v = view("kubelet", "ns", "");
    let stray = Item {
        namespace: "other",
        ..item("x", 1, b"x")
    };
    let r = store.commit_list(&v, &meta(1), &[item("a", 1, b"a"), stray]);
    assert!(matches!(r, Err(StoreError::Invalid(_))));
    assert!(store.list(&v).expect("list").is_none());
}

#[test]
fn gc_helpers_remove_objects_and_views() {
    let dir = TempDir::new("gc");
    let store = open(&dir.0);
    let v = view("kubelet", "", "spec.nodeName=n1");
    let items = [item("keep", 1, b"kk"), item("gone", 1, b"ggg")];
    store.commit_list(&v, &meta(4), &items).expect("commit");
    assert_eq!(
        store.retain_objects(&v, |_, name| name == "keep").ok(),
        Some(1)
    );
    let (m, _) = store.list(&v).expect("list").expect("cached");
    assert_eq!((m.resource_version, m.count, m.bytes), (4, 1, 2));
    assert_eq!(contents(&store, &v), vec![row("keep", 1, b"kk")]);
    assert_eq!(store.drop_view(&v).ok(), Some(true));
    assert_eq!(store.drop_view(&v).ok(), Some(false));
    assert!(store.list(&v).expect("list").is_none());
    assert_eq!(store.used_bytes(), 0);
}

#[test]
fn drop_view_at_spares_a_view_committed_since() {
    let dir = TempDir::new("gc-at");
    let store = open(&dir.0);
    let v = view("kubelet", "", "spec.nodeName=n1");
    store
        .commit_list(&v, &meta(4), &[item("a", 1, b"aa")])
        .expect("commit");
    store
        .commit_list(&v, &meta(6), &[item("a", 5, b"aaa")])
        .expect("commit");
    assert_eq!(store.drop_view_at(&v, 4).ok(), Some(false), "newer now");
    assert_eq!(contents(&store, &v), vec![row("a", 5, b"aaa")]);
    assert_eq!(store.drop_view_at(&v, 6).ok(), Some(true));
    assert!(store.list(&v).expect("list").is_none());
    assert_eq!(store.drop_view_at(&v, 6).ok(), Some(false), "already gone");
    assert_eq!(store.used_bytes(), 0);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Asserts the cache directory tree is private: directories 0700, files 0600.
fn assert_private(dir: &Path) {
    let paths = walk(dir);
    assert!(paths.len() > 3, "expected fjall files in {}", dir.display());
    for p in paths {
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode() & 0o777;
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", p.display());
    }
}

#[test]
fn cache_files_are_private() {
    let dir = TempDir::new("perms");
    let store = open(&dir.0);
    assert_private(&dir.0);
    store
        .commit_list(&view("kubelet", "", ""), &meta(1), &[item("a", 1, b"a")])
        .expect("commit");
    drop(store);
    let _store = open(&dir.0);
    assert_private(&dir.0);
}

#[test]
fn a_second_open_of_the_same_cache_is_an_error_not_a_panic() {
    let dir = TempDir::new("lock");
    let _store = open(&dir.0);
    assert!(matches!(
        Store::open(&dir.0, &StoreConfig::default()),
        Err(StoreError::Engine(_))
    ));
}

#[test]
fn coalesced_sync_keeps_data_across_reopen() {
    let dir = TempDir::new("coalesce");
    let cfg = StoreConfig {
        sync: SyncPolicy::CoalesceMs(20),
        ..StoreConfig::default()
    };
    let v = view("kubelet", "", "");
    {
        let store = Store::open(&dir.0, &cfg).expect("open");
        store
            .commit_list(&v, &meta(2), &[item("a", 2, b"a2")])
            .expect("commit");
        // Many threads committing at once share syncs, and each returns only once synced.
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (store, v) = (&store, &v);
                s.spawn(move || {
                    for n in 0..5 {
                        let rv = 3 + t * 5 + n;
                        let e = [Event::Bookmark {
                            resource_version: rv,
                        }];
                        store.apply(v, &e).expect("apply");
                    }
                });
            }
        });
    }
    let store = Store::open(&dir.0, &cfg).expect("reopen");
    assert_eq!(contents(&store, &v), vec![row("a", 2, b"a2")]);
    let (m, _) = store.list(&v).expect("list").expect("cached");
    assert_eq!(
        m.resource_version, 22,
        "every acknowledged bookmark survived"
    );
}

#[test]
fn a_20_mib_object_round_trips() {
    let dir = TempDir::new("big");
    let store = open(&dir.0);
    let v = view("kubelet", "", "");
    let big: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    store
        .commit_list(&v, &meta(1), &[item("huge", 1, &big)])
        .expect("commit");
    drop(store);
    let store = open(&dir.0);
    let (m, items) = store.list(&v).expect("list").expect("cached");
    assert_eq!((m.bytes, items.len()), (big.len() as u64, 1));
    assert!(
        items[0].bytes() == big.as_slice(),
        "20 MiB object changed on the way"
    );
}

#[test]
fn keys_too_long_to_store_are_refused_not_truncated() {
    let dir = TempDir::new("longkey");
    let store = open(&dir.0);
    let v = view(
        "kubelet",
        "",
        &format!("metadata.name={}", "x".repeat(20_000)),
    );
    let r = store.commit_list(&v, &meta(1), &[item("a", 1, b"a")]);
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert!(store.list(&v).expect("list").is_none());
    let ok = view("kubelet", "", "");
    let long_name = "n".repeat(17_000);
    let r = store.commit_list(&ok, &meta(1), &[item(&long_name, 1, b"a")]);
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert!(store.list(&ok).expect("list").is_none());
    let gvr = Gvr::new("", "v1", "pods");
    assert!(store
        .get("kubelet", &gvr, "ns", &long_name)
        .expect("get")
        .is_none());
}

#[test]
fn the_store_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
    let dir = TempDir::new("threads");
    let store = std::sync::Arc::new(open(&dir.0));
    // One view per writer: a view's events come in resourceVersion order (one watch's order),
    // and an event at or below the view's resourceVersion is already in it.
    let views: Vec<ViewKey> = (0..4)
        .map(|t| view("kubelet", "", &format!("spec.nodeName=n{t}")))
        .collect();
    for v in &views {
        store
            .commit_list(v, &meta(1), &[item("a", 1, b"a")])
            .expect("commit");
    }
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let (store, v) = (std::sync::Arc::clone(&store), views[t as usize].clone());
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let rv = 2 + i * 4 + t;
                    let name = format!("t{t}");
                    let ev = Event::Put(Item {
                        namespace: "ns",
                        name: &name,
                        resource_version: rv,
                        bytes: b"x",
                    });
                    store.apply(&v, &[ev]).expect("apply");
                    let (m, items) = store.list(&v).expect("list").expect("cached");
                    assert_eq!(m.count, items.len() as u64, "a reader saw half a batch");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread");
    }
    for (t, v) in views.iter().enumerate() {
        let (m, items) = store.list(v).expect("list").expect("cached");
        assert_eq!(
            (items.len(), m.resource_version),
            (2, 2 + 49 * 4 + t as u64)
        );
    }
}
