//! Object metadata helpers: RFC 3339 times, UIDs, human ages, and JSON in Kubernetes key order.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub use crate::k8s::time::{parse_rfc3339, rfc3339};

/// A duration the way kubectl prints ages (`45s`, `3m12s`, `5h`, `2d3h`, `400d`).
pub fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 192 {
        match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// A random version-4 style UID (`8-4-4-4-12` hex).
pub fn new_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut words = [0u64; 2];
    for w in &mut words {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        *w = h.finish();
    }
    let hex = format!("{:016x}{:016x}", words[0], words[1]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Where a JSON object sits, which decides its key order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Object,
    /// An item of a list: like an object, without `kind`/`apiVersion` (lists omit them).
    Item,
    Metadata,
    Other,
}

const OBJECT_KEYS: &[&str] = &["kind", "apiVersion", "metadata", "spec", "status"];
const METADATA_KEYS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Serializes a stored object with keys in the order kube-apiserver writes them: `kind`,
/// `apiVersion`, `metadata` (in ObjectMeta field order), `spec`, `status`, then the rest sorted.
pub struct Ordered<'a>(pub &'a Value);

struct WithCtx<'a>(&'a Value, Ctx);

/// Like [`Ordered`] for an item of a list, which kube-apiserver writes without `kind`/`apiVersion`.
pub struct ListItem<'a>(pub &'a Value);

impl Serialize for ListItem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WithCtx(self.0, Ctx::Item).serialize(s)
    }
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WithCtx(self.0, Ctx::Object).serialize(s)
    }
}

impl Serialize for WithCtx<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.0 else {
            return self.0.serialize(s);
        };
        let order: &[&str] = match self.1 {
            Ctx::Object | Ctx::Item => OBJECT_KEYS,
            Ctx::Metadata => METADATA_KEYS,
            Ctx::Other => &[],
        };
        let rank = |k: &str| order.iter().position(|o| *o == k).unwrap_or(order.len());
        let skip = |k: &str| self.1 == Ctx::Item && (k == "kind" || k == "apiVersion");
        let mut keys: Vec<&String> = map.keys().filter(|k| !skip(k)).collect();
        keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
        let mut m = s.serialize_map(Some(keys.len()))?;
        for k in keys {
            let ctx = match (self.1, k.as_str()) {
                (Ctx::Object | Ctx::Item, "metadata") => Ctx::Metadata,
                _ => Ctx::Other,
            };
            if let Some(v) = map.get(k) {
                m.serialize_entry(k, &WithCtx(v, ctx))?;
            }
        }
        m.end()
    }
}

/// The object's `metadata.<field>` as a string, or "".
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let t = "2026-11-25T17:18:26Z";
        let secs = parse_rfc3339(t).expect("parses");
        assert_eq!(rfc3339(secs), t);
        assert_eq!(
            parse_rfc3339("2024-02-29T23:59:59.123Z")
                .map(rfc3339)
                .as_deref(),
            Some("2024-02-29T23:59:59Z")
        );
        assert_eq!(parse_rfc3339("nope"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01 00:00:00Z"), None);
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(192), "3m12s");
        assert_eq!(human_age(60 * 30), "30m");
        assert_eq!(human_age(3600 * 5 + 60), "5h1m");
        assert_eq!(human_age(3600 * 20), "20h");
        assert_eq!(human_age(86_400 * 2 + 3600 * 3), "2d3h");
        assert_eq!(human_age(86_400 * 400), "400d");
        assert_eq!(human_age(-3), "0s");
    }

    #[test]
    fn uids_are_unique_and_shaped() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        let lens: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(lens, vec![8, 4, 4, 4, 12]);
    }

    #[test]
    fn keys_come_in_kubernetes_order() {
        let v = serde_json::json!({"status": {}, "spec": {"b": 1, "a": 2}, "metadata":
            {"uid": "u", "name": "n", "labels": {}, "namespace": "d"}, "apiVersion": "v1", "kind": "Pod", "zzz": 1});
        let s = serde_json::to_string(&Ordered(&v)).expect("serializes");
        assert_eq!(
            s,
            r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"n","namespace":"d","uid":"u","labels":{}},"spec":{"a":2,"b":1},"status":{},"zzz":1}"#
        );
        let item = serde_json::to_string(&ListItem(&v)).expect("serializes");
        assert!(item.starts_with(r#"{"metadata":{"name":"n","#), "{item}");
    }
}
