//! The store: objects as JSON keyed by resource and `ns/name`, one global resourceVersion counter,
//! a bounded event history (compaction makes old resourceVersions expire) and watch subscribers.
//!
//! State plus a pure `commit`: every change bumps the counter, stamps the object, records an
//! [`Event`] and hands it to every subscriber, all under one lock so watches never miss events.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use smol::channel::{Receiver, Sender};

use super::errors::DoubleError;

/// Events kept for watches from an older resourceVersion; older ones are compacted away.
pub const MAX_HISTORY: usize = 100_000;
/// Events a watcher may lag behind before it is dropped (as the apiserver drops slow watchers).
pub const SUBSCRIBER_QUEUE: usize = 10_000;

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED`, `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    /// Index into the resource table.
    pub res: usize,
    /// `ns/name` or `name`.
    pub key: String,
    /// The object after the change (for DELETED: its last state, stamped with the deletion's RV).
    pub object: Arc<Value>,
    /// The object before the change (MODIFIED and DELETED).
    pub prev: Option<Arc<Value>>,
}

/// Where a new watch starts.
#[derive(Debug)]
pub struct Subscription {
    /// Live events committed after the subscription (every resource; the watcher filters).
    pub rx: Receiver<Arc<Event>>,
    /// Retained events of the resource after the requested resourceVersion.
    pub replay: Vec<Arc<Event>>,
    /// Current objects of the resource (when no resourceVersion was requested).
    pub snapshot: Vec<Arc<Value>>,
    /// The store's resourceVersion at subscription.
    pub rv: u64,
}

/// An object with its store key.
pub type Keyed = (String, Arc<Value>);

/// The store key of an object: `ns/name` for namespaced resources, `name` otherwise.
pub fn key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// All objects, the counter, the history and the subscribers.
#[derive(Debug)]
pub struct Store {
    rv: u64,
    objects: BTreeMap<(usize, String), Arc<Value>>,
    history: VecDeque<Arc<Event>>,
    /// Events at or below this resourceVersion are forgotten.
    compacted: u64,
    subscribers: Vec<Sender<Arc<Event>>>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// A copy that shares the objects but has no watchers and no history: what a dry-run write
    /// works on, so nothing it does is stored or seen by a watch.
    pub fn dry_run_copy(&self) -> Store {
        Store {
            rv: self.rv,
            objects: self.objects.clone(),
            history: VecDeque::new(),
            compacted: self.compacted,
            subscribers: Vec::new(),
        }
    }

    /// An empty store at resourceVersion 1.
    pub fn new() -> Store {
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            subscribers: Vec::new(),
        }
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The compaction point: resourceVersions below it are expired.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// One object.
    pub fn get(&self, res: usize, key: &str) -> Option<Arc<Value>> {
        self.objects.get(&(res, key.to_string())).cloned()
    }

    /// Records a change: bumps the resourceVersion, stamps `obj`, stores or removes it, keeps the
    /// event and hands it to every subscriber. Returns the stamped object.
    pub fn commit(&mut self, kind: EventType, res: usize, key: &str, mut obj: Value) -> Arc<Value> {
        self.rv += 1;
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        }
        let obj = Arc::new(obj);
        let map_key = (res, key.to_string());
        let prev = match kind {
            EventType::Deleted => self.objects.remove(&map_key),
            _ => self.objects.insert(map_key, obj.clone()),
        };
        let ev = Arc::new(Event {
            rv: self.rv,
            kind,
            res,
            key: key.to_string(),
            object: obj.clone(),
            prev,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > MAX_HISTORY {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // A full queue means a stuck watcher: drop it, its stream then ends.
        self.subscribers.retain(|s| s.try_send(ev.clone()).is_ok());
        obj
    }

    /// Forgets the history up to now: later requests for an older resourceVersion get 410.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
        self.history.clear();
    }

    /// The objects of `res` as they were at resourceVersion `at` (now when `None`), in key order,
    /// with the resourceVersion they are consistent with.
    pub fn snapshot(&self, res: usize, at: Option<u64>) -> Result<(u64, Vec<Keyed>), DoubleError> {
        let current = self
            .objects
            .range((res, String::new())..)
            .take_while(|((r, _), _)| *r == res)
            .map(|((_, k), v)| (k.clone(), v.clone()));
        let Some(at) = at else {
            return Ok((self.rv, current.collect()));
        };
        if at > self.rv {
            return Err(DoubleError::TooLargeResourceVersion {
                requested: at,
                current: self.rv,
            });
        }
        if at < self.compacted {
            return Err(DoubleError::Expired(
                "The resourceVersion for the provided list is too old.".into(),
            ));
        }
        let mut map: BTreeMap<String, Arc<Value>> = current.collect();
        for ev in self.history.iter().rev().take_while(|e| e.rv > at) {
            if ev.res != res {
                continue;
            }
            match (&ev.kind, &ev.prev) {
                (EventType::Added, _) => {
                    map.remove(&ev.key);
                }
                (_, Some(prev)) => {
                    map.insert(ev.key.clone(), prev.clone());
                }
                (_, None) => {}
            }
        }
        Ok((at, map.into_iter().collect()))
    }

    /// Starts a watch of `res`: from resourceVersion `from` (replaying retained events after it;
    /// `Err(Expired)` if those are compacted away) or, for `None`, from the current objects.
    pub fn subscribe(
        &mut self,
        res: usize,
        from: Option<u64>,
    ) -> Result<Subscription, DoubleError> {
        let (replay, snapshot) = match from {
            Some(rv) if rv < self.compacted => {
                return Err(DoubleError::Expired(
                    "The resourceVersion for the provided watch is too old.".into(),
                ))
            }
            Some(rv) => (
                self.history
                    .iter()
                    .filter(|e| e.rv > rv && e.res == res)
                    .cloned()
                    .collect(),
                Vec::new(),
            ),
            None => (
                Vec::new(),
                self.snapshot(res, None)?
                    .1
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect(),
            ),
        };
        let (tx, rx) = smol::channel::bounded(SUBSCRIBER_QUEUE);
        self.subscribers.push(tx);
        Ok(Subscription {
            rx,
            replay,
            snapshot,
            rv: self.rv,
        })
    }

    /// Number of live watch subscriptions (closed ones are pruned first).
    pub fn watchers(&mut self) -> usize {
        self.subscribers.retain(|s| !s.is_closed());
        self.subscribers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(name: &str, v: i32) -> Value {
        json!({"metadata": {"name": name, "namespace": "d"}, "data": {"v": v}})
    }

    fn names(s: &(u64, Vec<(String, Arc<Value>)>)) -> Vec<String> {
        s.1.iter()
            .map(|(k, o)| format!("{k}={}", o["data"]["v"]))
            .collect()
    }

    #[test]
    fn commits_stamp_decimal_resource_versions() {
        let mut st = Store::new();
        let a = st.commit(EventType::Added, 0, "d/a", obj("a", 1));
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        assert_eq!(st.rv(), 2);
        assert_eq!(st.get(0, "d/a").as_deref(), Some(&*a));
        assert!(st.get(1, "d/a").is_none());
    }

    #[test]
    fn snapshots_roll_back_history() {
        let mut st = Store::new();
        st.commit(EventType::Added, 0, "d/a", obj("a", 1)); // 2
        st.commit(EventType::Added, 0, "d/b", obj("b", 1)); // 3
        st.commit(EventType::Added, 1, "d/x", obj("x", 1)); // 4
        st.commit(EventType::Modified, 0, "d/a", obj("a", 2)); // 5
        let b = st.get(0, "d/b").expect("b");
        st.commit(EventType::Deleted, 0, "d/b", (*b).clone()); // 6
        assert_eq!(names(&st.snapshot(0, None).expect("now")), vec!["d/a=2"]);
        assert_eq!(
            names(&st.snapshot(0, Some(5)).expect("5")),
            vec!["d/a=2", "d/b=1"]
        );
        assert_eq!(
            names(&st.snapshot(0, Some(4)).expect("4")),
            vec!["d/a=1", "d/b=1"]
        );
        assert_eq!(names(&st.snapshot(0, Some(2)).expect("2")), vec!["d/a=1"]);
        assert_eq!(st.snapshot(0, Some(1)).expect("1").1.len(), 0);
        assert!(matches!(
            st.snapshot(0, Some(7)),
            Err(DoubleError::TooLargeResourceVersion { .. })
        ));
        st.compact();
        assert!(matches!(
            st.snapshot(0, Some(5)),
            Err(DoubleError::Expired(_))
        ));
        assert_eq!(names(&st.snapshot(0, Some(6)).expect("6")), vec!["d/a=2"]);
    }

    #[test]
    fn subscriptions_replay_and_go_live() {
        let mut st = Store::new();
        st.commit(EventType::Added, 0, "d/a", obj("a", 1)); // 2
        st.commit(EventType::Added, 1, "d/x", obj("x", 1)); // 3
        let sub = st.subscribe(0, Some(1)).expect("subscribes");
        assert_eq!(sub.replay.iter().map(|e| e.rv).collect::<Vec<_>>(), vec![2]);
        assert_eq!(sub.rv, 3);
        let now = st.subscribe(0, None).expect("subscribes");
        assert_eq!(now.snapshot.len(), 1);
        st.commit(EventType::Modified, 0, "d/a", obj("a", 2));
        let ev = sub.rx.try_recv().expect("live event");
        assert_eq!((ev.rv, ev.kind), (4, EventType::Modified));
        assert_eq!(
            ev.prev.as_ref().map(|p| p["data"]["v"].clone()),
            Some(json!(1))
        );
        assert_eq!(st.watchers(), 2);
        drop(now);
        assert_eq!(st.watchers(), 1);
        st.compact();
        assert!(matches!(
            st.subscribe(0, Some(3)),
            Err(DoubleError::Expired(_))
        ));
        assert!(st.subscribe(0, Some(4)).is_ok());
    }
}
