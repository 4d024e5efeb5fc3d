//! The pure part of applying watch events: a view's state in, the planned changes out.
//!
//! No I/O here: the caller looks objects up and writes the plan in one batch. Rules (DESIGN.md,
//! "The cache"): a view at resourceVersion R holds the upstream's state at R, so an event at or
//! below R is already in it and changes nothing (a late event of an older watch never brings
//! back a deleted object); a put never replaces an object with a higher or equal
//! resourceVersion; a delete removes the object unless it was re-created later; a bookmark only
//! moves the view's resourceVersion; the view's resourceVersion never goes down.

use std::collections::BTreeMap;

use super::{StoreError, ViewKey, ViewMeta};

/// One object as the upstream sent it, already decoded by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// `metadata.namespace`, `""` for cluster-scoped objects.
    pub namespace: &'a str,
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.resourceVersion` as a number.
    pub resource_version: u64,
    /// The object exactly as sent upstream (JSON or `k8s\0` protobuf), stored untouched.
    pub bytes: &'a [u8],
}

/// One watch event, already decoded by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// ADDED or MODIFIED.
    Put(Item<'a>),
    /// DELETED, with the resourceVersion of the deletion.
    Delete {
        /// `metadata.namespace` of the deleted object.
        namespace: &'a str,
        /// `metadata.name` of the deleted object.
        name: &'a str,
        /// resourceVersion carried by the DELETED event.
        resource_version: u64,
    },
    /// BOOKMARK: the view is current up to this resourceVersion.
    Bookmark {
        /// The bookmark's resourceVersion.
        resource_version: u64,
    },
}

/// What one `apply` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Objects added or replaced.
    pub stored: usize,
    /// Objects removed.
    pub deleted: usize,
    /// Events that changed nothing: older than what is stored, deletes of absent objects,
    /// objects outside the view.
    pub ignored: usize,
    /// The view's resourceVersion afterwards.
    pub resource_version: u64,
}

/// A planned change of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    /// Store these bytes at this resourceVersion.
    Put { rv: u64, bytes: &'a [u8] },
    /// Remove the object.
    Delete,
}

/// The outcome of planning: new view metadata (times untouched) and the changes to write.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub meta: ViewMeta,
    pub changes: BTreeMap<(&'a str, &'a str), Change<'a>>,
    pub stats: ApplyStats,
}

/// State of one object: resourceVersion and size in bytes.
type Current = Option<(u64, u64)>;

/// Plans `events` against `meta`; `lookup(namespace, name)` gives an object's stored state.
pub(crate) fn plan<'a>(
    view: &ViewKey,
    meta: &ViewMeta,
    events: &[Event<'a>],
    mut lookup: impl FnMut(&str, &str) -> Result<Current, StoreError>,
) -> Result<Plan<'a>, StoreError> {
    let mut p = Plan {
        meta: meta.clone(),
        changes: BTreeMap::new(),
        stats: ApplyStats::default(),
    };
    let mut seen: BTreeMap<(&'a str, &'a str), Current> = BTreeMap::new();
    let reflected = meta.resource_version;
    for event in events {
        let (namespace, name, rv) = match *event {
            Event::Put(item) => (item.namespace, item.name, item.resource_version),
            Event::Delete {
                namespace,
                name,
                resource_version,
            } => (namespace, name, resource_version),
            Event::Bookmark { resource_version } => {
                p.meta.resource_version = p.meta.resource_version.max(resource_version);
                continue;
            }
        };
        p.meta.resource_version = p.meta.resource_version.max(rv);
        if rv <= reflected || !view.may_hold(namespace, name) {
            p.stats.ignored += 1;
            continue;
        }
        let current = match seen.get(&(namespace, name)) {
            Some(state) => *state,
            None => lookup(namespace, name)?,
        };
        let next = step(&mut p, current, event);
        seen.insert((namespace, name), next);
    }
    p.stats.resource_version = p.meta.resource_version;
    Ok(p)
}

/// Applies one put or delete to the plan; returns the object's state afterwards.
fn step<'a>(p: &mut Plan<'a>, current: Current, event: &Event<'a>) -> Current {
    match (*event, current) {
        (Event::Put(item), Some((old_rv, _))) if old_rv >= item.resource_version => {
            p.stats.ignored += 1;
            current
        }
        (Event::Put(item), _) => {
            let size = item.bytes.len() as u64;
            let (old_count, old_size) = current.map_or((0, 0), |(_, s)| (1, s));
            p.meta.count = p.meta.count + 1 - old_count;
            p.meta.bytes = (p.meta.bytes + size).saturating_sub(old_size);
            let change = Change::Put {
                rv: item.resource_version,
                bytes: item.bytes,
            };
            p.changes.insert((item.namespace, item.name), change);
            p.stats.stored += 1;
            Some((item.resource_version, size))
        }
        (
            Event::Delete {
                namespace,
                name,
                resource_version,
            },
            Some((old_rv, old_size)),
        ) if old_rv <= resource_version => {
            p.meta.count = p.meta.count.saturating_sub(1);
            p.meta.bytes = p.meta.bytes.saturating_sub(old_size);
            p.changes.insert((namespace, name), Change::Delete);
            p.stats.deleted += 1;
            None
        }
        _ => {
            p.stats.ignored += 1;
            current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Encoding;
    use std::collections::HashMap;

    fn meta(rv: u64) -> ViewMeta {
        ViewMeta {
            resource_version: rv,
            encoding: Encoding::Json,
            api_version: "v1".into(),
            kind: "PodList".into(),
            count: 1,
            bytes: 3,
            committed_at: 0,
            updated_at: 0,
            generation: 1,
        }
    }

    fn put(name: &str, rv: u64) -> Event<'_> {
        Event::Put(Item {
            namespace: "ns",
            name,
            resource_version: rv,
            bytes: b"abcd",
        })
    }

    fn run(events: &[Event<'_>]) -> (ApplyStats, ViewMeta, usize) {
        let stored: HashMap<&str, (u64, u64)> = HashMap::from([("a", (10, 3))]);
        let lookup = |_: &str, name: &str| Ok(stored.get(name).copied());
        let p = plan(&ViewKey::default(), &meta(10), events, lookup).expect("plan");
        (p.stats, p.meta, p.changes.len())
    }

    #[test]
    fn lower_or_equal_resource_version_is_ignored() {
        let (stats, m, changes) = run(&[put("a", 9), put("a", 10)]);
        assert_eq!((stats.stored, stats.ignored, changes), (0, 2, 0));
        assert_eq!((m.count, m.bytes, m.resource_version), (1, 3, 10));
    }

    #[test]
    fn newer_put_replaces_and_new_object_adds() {
        let (stats, m, changes) = run(&[put("a", 11), put("b", 12)]);
        assert_eq!((stats.stored, changes), (2, 2));
        assert_eq!((m.count, m.bytes, m.resource_version), (2, 8, 12));
    }

    #[test]
    fn delete_removes_unless_recreated_later() {
        let del = |rv| Event::Delete {
            namespace: "ns",
            name: "a",
            resource_version: rv,
        };
        let (stats, m, _) = run(&[del(11)]);
        assert_eq!((stats.deleted, m.count, m.bytes), (1, 0, 0));
        let (stats, m, _) = run(&[put("a", 20), del(15)]);
        assert_eq!((stats.deleted, stats.ignored, m.count), (0, 1, 1));
        // Put then delete then re-put inside one burst: the last state wins.
        let (stats, m, changes) = run(&[del(11), put("a", 12)]);
        assert_eq!(
            (stats.deleted, stats.stored, m.count, changes),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn bookmark_moves_rv_up_only() {
        let (_, m, changes) = run(&[Event::Bookmark {
            resource_version: 50,
        }]);
        assert_eq!((m.resource_version, changes), (50, 0));
        let (_, m, _) = run(&[Event::Bookmark {
            resource_version: 5,
        }]);
        assert_eq!(m.resource_version, 10);
    }

    #[test]
    fn events_the_view_already_reflects_change_nothing() {
        // The view is the state at 10: "b" added at 9 and deleted by 10 must not come back.
        let (stats, m, changes) = run(&[put("b", 9), put("a", 10)]);
        assert_eq!((stats.ignored, stats.stored, changes), (2, 0, 0));
        assert_eq!((m.count, m.resource_version), (1, 10));
        let del = Event::Delete {
            namespace: "ns",
            name: "a",
            resource_version: 8,
        };
        let (stats, m, _) = run(&[del]);
        assert_eq!((stats.deleted, m.count), (0, 1));
    }

    #[test]
    fn objects_outside_the_view_are_ignored() {
        let view = ViewKey {
            namespace: "other".into(),
            ..ViewKey::default()
        };
        let p = plan(&view, &meta(10), &[put("x", 11)], |_, _| Ok(None)).expect("plan");
        assert_eq!((p.stats.ignored, p.changes.len()), (1, 0));
    }
}
