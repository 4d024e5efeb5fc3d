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

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-25T17:18:26Z` for `secs` since the epoch.
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Seconds since the epoch of an RFC 3339 UTC time (`Z` suffix, optional fraction); `None` if not one.
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || !t.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { t.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) || !(1..=12).contains(&mo) {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s)
}

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
