//! LISTs streamed into the store in chunks (`Store::begin_list`): invisible until finished, given
//! up cleanly, one per view, events meanwhile held and replayed, GC meanwhile cancels, any order
//! of objects, and views read back in kube-apiserver's (etcd's) order.
#![cfg(feature = "edge")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use yurt::store::{
    Applied, Committed, Encoding, Event, Gvr, Item, ListMeta, Store, StoreConfig, StoreError,
    ViewKey,
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("yurt-list-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }

    fn open(&self) -> Store {
        Store::open(&self.0, &StoreConfig::default()).expect("open store")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn view() -> ViewKey {
    ViewKey {
        component: "kubelet".into(),
        gvr: Gvr::new("", "v1", "pods"),
        field_selector: "spec.nodeName=n1".into(),
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

/// Objects `(namespace, name, rv, bytes)`.
type Obj = (String, String, u64, Vec<u8>);

fn obj(ns: &str, name: &str, rv: u64) -> Obj {
    let bytes = format!("{{\"name\":\"{name}\",\"rv\":{rv}}}").into_bytes();
    (ns.into(), name.into(), rv, bytes)
}

fn items(objs: &[Obj]) -> Vec<Item<'_>> {
    objs.iter()
        .map(|(namespace, name, rv, bytes)| Item {
            namespace,
            name,
            resource_version: *rv,
            bytes,
        })
        .collect()
}

/// (namespace/name, rv) of the view, in the order the store gives them.
fn contents(store: &Store) -> Vec<(String, u64)> {
    let (_, items) = store.list(&view()).expect("list").expect("view cached");
    items
        .into_iter()
        .map(|i| (format!("{}/{}", i.namespace, i.name), i.resource_version))
        .collect()
}

fn names(objs: &[Obj]) -> Vec<(String, u64)> {
    objs.iter()
        .map(|(ns, n, rv, _)| (format!("{ns}/{n}"), *rv))
        .collect()
}

fn pods(n: usize, rv: u64) -> Vec<Obj> {
    let mut v: Vec<Obj> = (0..n)
        .map(|i| obj("default", &format!("pod-{i}"), rv))
        .collect();
    v.sort_by(|a, b| format!("{}/{}", a.0, a.1).cmp(&format!("{}/{}", b.0, b.1)));
    v
}

#[test]
fn a_list_is_invisible_until_finished() {
    let dir = TempDir::new("invisible");
    let store = dir.open();
    let first = pods(50, 5);
    store
        .commit_list(&view(), &meta(10), &items(&first))
        .expect("first");
    let mut second = pods(40, 5); // the last ten are gone
    second[3] = obj("default", &second[3].1.clone(), 11); // one changed
    second.push(obj("kube-system", "new", 12));
    let mut w = store.begin_list(&view()).expect("begin");
    for chunk in second.chunks(7) {
        w.push(&store, &items(chunk)).expect("push");
        assert_eq!(
            contents(&store),
            names(&first),
            "half a list is never visible"
        );
    }
    assert_eq!(w.count(), 41);
    assert_eq!(
        w.finish(&store, &meta(20)).expect("finish"),
        Committed::Stored
    );
    assert_eq!(contents(&store), names(&second));
    let (m, _) = store.list(&view()).expect("list").expect("cached");
    assert_eq!((m.resource_version, m.count), (20, 41));
    drop(store);
    let again = dir.open();
    assert_eq!(contents(&again), names(&second), "the same after reopening");
}

#[test]
fn a_list_given_up_leaves_the_old_view_and_is_purged() {
    let dir = TempDir::new("abandon");
    let store = dir.open();
    let first = pods(20, 5);
    store
        .commit_list(&view(), &meta(10), &items(&first))
        .expect("first");
    let mut w = store.begin_list(&view()).expect("begin");
    w.push(&store, &items(&pods(30, 9))).expect("push");
    drop(w); // the response was cut short
    assert_eq!(contents(&store), names(&first));
    // A crash instead: the pending record survives the reopen, and the next LIST purges.
    let mut w = store.begin_list(&view()).expect("begin again");
    w.push(&store, &items(&pods(25, 9))).expect("push");
    std::mem::forget(w);
    drop(store);
    let store = dir.open();
    assert_eq!(contents(&store), names(&first));
    let third = pods(3, 30);
    store
        .commit_list(&view(), &meta(30), &items(&third))
        .expect("third");
    assert_eq!(
        contents(&store),
        names(&third),
        "nothing of the given-up lists shows"
    );
}

#[test]
fn one_list_per_view_at_a_time() {
    let dir = TempDir::new("busy");
    let store = dir.open();
    let w = store.begin_list(&view()).expect("begin");
    assert!(matches!(store.begin_list(&view()), Err(StoreError::Busy)));
    let other = ViewKey {
        label_selector: "app=x".into(),
        ..view()
    };
    assert!(store.begin_list(&other).is_ok(), "other views are free");
    drop(w);
    assert!(
        store.begin_list(&view()).is_ok(),
        "free again once given up"
    );
}

#[test]
fn events_during_a_list_are_held_and_only_newer_ones_replayed() {
    let dir = TempDir::new("defer");
    let store = dir.open();
    store
        .commit_list(&view(), &meta(10), &items(&pods(3, 5)))
        .expect("first");
    let mut w = store.begin_list(&view()).expect("begin");
    let (old_put, new_put) = (
        obj("default", "gone-before", 15),
        obj("default", "pod-1", 25),
    );
    let older = items(std::slice::from_ref(&old_put));
    let newer = items(std::slice::from_ref(&new_put));
    let events = [
        Event::Put(older[0]),
        Event::Put(newer[0]),
        Event::Delete {
            namespace: "default",
            name: "pod-2",
            resource_version: 26,
        },
    ];
    assert_eq!(
        store.apply(&view(), &events).expect("apply"),
        Applied::Deferred
    );
    assert_eq!(
        contents(&store),
        names(&pods(3, 5)),
        "held, not applied yet"
    );
    let listed = pods(3, 20);
    w.push(&store, &items(&listed)).expect("push");
    w.finish(&store, &meta(20)).expect("finish");
    // The list is at 20: the put at 15 is older (already reflected), the rest comes after.
    let want = vec![
        ("default/pod-0".to_string(), 20),
        ("default/pod-1".to_string(), 25),
    ];
    assert_eq!(contents(&store), want);
    let (m, _) = store.list(&view()).expect("list").expect("cached");
    assert_eq!((m.resource_version, m.count), (26, 2));
}

#[test]
fn events_held_for_a_list_that_never_ends_are_applied_to_the_old_view() {
    let dir = TempDir::new("defer-abandon");
    let store = dir.open();
    store
        .commit_list(&view(), &meta(10), &items(&pods(2, 5)))
        .expect("first");
    let w = store.begin_list(&view()).expect("begin");
    let add = obj("default", "late", 30);
    let add_items = items(std::slice::from_ref(&add));
    store
        .apply(&view(), &[Event::Put(add_items[0])])
        .expect("apply");
    drop(w);
    // The next write of the view settles the given-up list first.
    store
        .apply(
            &view(),
            &[Event::Bookmark {
                resource_version: 31,
            }],
        )
        .expect("apply");
    let mut want = names(&pods(2, 5));
    want.insert(0, ("default/late".into(), 30));
    assert_eq!(contents(&store), want);
}

#[test]
fn gc_during_a_list_cancels_it() {
    let dir = TempDir::new("gc");
    let store = dir.open();
    store
        .commit_list(&view(), &meta(10), &items(&pods(4, 5)))
        .expect("first");
    let mut w = store.begin_list(&view()).expect("begin");
    w.push(&store, &items(&pods(6, 20))).expect("push");
    assert!(store.drop_view(&view()).expect("drop"));
    assert_eq!(
        w.finish(&store, &meta(20)).expect("finish"),
        Committed::Cancelled
    );
    assert!(
        store.list(&view()).expect("list").is_none(),
        "dropped stays dropped"
    );
    assert_eq!(store.used_bytes(), 0);
}

#[test]
fn objects_in_any_order_with_duplicates_give_the_same_view() {
    let dir = TempDir::new("order");
    let store = dir.open();
    store
        .commit_list(&view(), &meta(10), &items(&pods(12, 5)))
        .expect("first");
    let mut shuffled = pods(10, 7);
    shuffled.reverse();
    shuffled.swap(2, 7);
    shuffled.push(obj("default", "pod-3", 6)); // an older duplicate loses
    shuffled.push(obj("default", "pod-4", 9)); // a newer one wins
    let mut w = store.begin_list(&view()).expect("begin");
    for chunk in shuffled.chunks(3) {
        w.push(&store, &items(chunk)).expect("push");
    }
    w.finish(&store, &meta(20)).expect("finish");
    let mut want = pods(10, 7);
    for o in &mut want {
        if o.1 == "pod-4" {
            o.2 = 9;
        }
    }
    assert_eq!(contents(&store), names(&want));
    let (m, _) = store.list(&view()).expect("list").expect("cached");
    let bytes: u64 = want.iter().map(|o| o.3.len() as u64).sum();
    assert_eq!((m.count, m.bytes), (10, bytes));
}

#[test]
fn views_read_back_in_etcd_key_order() {
    let dir = TempDir::new("etcd-order");
    let store = dir.open();
    let objs = vec![
        obj("kube-system", "a", 1),
        obj("kube", "z", 1),
        obj("default", "pod-10", 1),
        obj("default", "pod-2", 1),
        obj("default", "pod-1", 1),
    ];
    store
        .commit_list(&view(), &meta(10), &items(&objs))
        .expect("commit");
    let got: Vec<String> = contents(&store).into_iter().map(|(n, _)| n).collect();
    // etcd sorts "namespace/name" as bytes: '-' (0x2d) before '/' (0x2f).
    assert_eq!(
        got,
        [
            "default/pod-1",
            "default/pod-10",
            "default/pod-2",
            "kube-system/a",
            "kube/z"
        ]
    );
}
