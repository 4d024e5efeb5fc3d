//! One log line per view the first time it is served offline in an outage: component, resource,
//! namespace and selectors, how many items, and how old the data is. Once the proxy reaches an
//! apiserver again the outage is over, and the next one logs afresh.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::{ViewKey, ViewMeta};

/// Which views were served during the current outage.
#[derive(Default)]
pub struct OfflineLog {
    seen: Mutex<HashSet<ViewKey>>,
    /// Something was logged since the last [`OfflineLog::online`]: lets the online path skip the lock.
    dirty: AtomicBool,
}

impl OfflineLog {
    /// A request reached an apiserver: the outage (if any) is over.
    pub fn online(&self) {
        // A load first: the online path stays a plain read while nothing was served offline.
        if self.dirty.load(Ordering::Relaxed) && self.dirty.swap(false, Ordering::Relaxed) {
            self.seen.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// `view` was answered from the cache (`from`: the broader view it was filtered from).
    /// `items` is asked only for the outage's first line of the view.
    pub fn served(
        &self,
        view: &ViewKey,
        meta: &ViewMeta,
        items: impl FnOnce() -> usize,
        from: Option<&ViewKey>,
    ) {
        self.dirty.store(true, Ordering::Relaxed);
        let first = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(view.clone());
        if first {
            log::info!("{}", line(view, meta, items(), from, unix_now()));
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Pure: the line for `view` at `now` (Unix seconds).
pub fn line(
    view: &ViewKey,
    meta: &ViewMeta,
    items: usize,
    from: Option<&ViewKey>,
    now: u64,
) -> String {
    let mut out = format!(
        "offline: serving {} {} from the cache ({}): {items} item{}, data {}s old (resourceVersion {})",
        view.component,
        resource(view),
        scope(view),
        if items == 1 { "" } else { "s" },
        now.saturating_sub(meta.updated_at),
        meta.resource_version
    );
    if let Some(b) = from {
        out.push_str(&format!("; filtered from the view ({})", scope(b)));
    }
    out
}

fn resource(v: &ViewKey) -> String {
    let g = &v.gvr;
    let gv = if g.group.is_empty() {
        g.version.clone()
    } else {
        format!("{}/{}", g.group, g.version)
    };
    match v.name.as_str() {
        "" => format!("{gv}/{}", g.resource),
        name => format!("{gv}/{} {name:?}", g.resource),
    }
}

fn scope(v: &ViewKey) -> String {
    let mut parts = vec![match v.namespace.as_str() {
        "" => "all namespaces".to_string(),
        ns => format!("namespace {ns}"),
    }];
    if !v.label_selector.is_empty() {
        parts.push(format!("labelSelector {}", v.label_selector));
    }
    if !v.field_selector.is_empty() {
        parts.push(format!("fieldSelector {}", v.field_selector));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Encoding, Gvr};

    fn meta() -> ViewMeta {
        ViewMeta {
            resource_version: 812,
            encoding: Encoding::Protobuf,
            api_version: "v1".into(),
            kind: "PodList".into(),
            count: 3,
            bytes: 900,
            committed_at: 1_000,
            updated_at: 1_100,
            generation: 1,
        }
    }

    #[test]
    fn says_who_what_how_many_and_how_old() {
        let v = ViewKey {
            component: "kubelet".into(),
            gvr: Gvr::new("", "v1", "pods"),
            field_selector: "spec.nodeName=n1".into(),
            ..ViewKey::default()
        };
        assert_eq!(
            line(&v, &meta(), 3, None, 1_142),
            "offline: serving kubelet v1/pods from the cache (all namespaces, fieldSelector \
             spec.nodeName=n1): 3 items, data 42s old (resourceVersion 812)"
        );
        let one = ViewKey {
            gvr: Gvr::new("storage.k8s.io", "v1", "csinodes"),
            name: "n1".into(),
            field_selector: String::new(),
            ..v.clone()
        };
        assert!(line(&one, &meta(), 1, Some(&v), 1_100)
            .contains("storage.k8s.io/v1/csinodes \"n1\" from the cache (all namespaces): 1 item, data 0s old"));
    }

    #[test]
    fn logs_a_view_once_per_outage() {
        let l = OfflineLog::default();
        let v = ViewKey::default();
        l.served(&v, &meta(), || 0, None);
        l.served(&v, &meta(), || 0, None);
        assert_eq!(l.seen.lock().expect("lock").len(), 1);
        l.online();
        assert!(l.seen.lock().expect("lock").is_empty());
        assert!(!l.dirty.load(Ordering::Relaxed));
    }
}
