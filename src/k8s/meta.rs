//! One metadata view over both encodings, so the cache treats JSON and protobuf objects alike.

use std::collections::BTreeMap;

use super::decode_error::DecodeError;
use super::json::object_meta_json;
use super::pb::{decode_envelope, has_magic, object_meta};
use super::watch::INITIAL_EVENTS_END;

/// How a body is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/vnd.kubernetes.protobuf`.
    Protobuf,
}

impl Encoding {
    /// The encoding of a `Content-Type` value; parameters (`;stream=watch`) are ignored and
    /// anything else (YAML, CBOR, Table requests are still JSON) is `None`.
    pub fn from_content_type(content_type: &str) -> Option<Encoding> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else if media.eq_ignore_ascii_case("application/vnd.kubernetes.protobuf") {
            Some(Encoding::Protobuf)
        } else {
            None
        }
    }
}

/// Owned metadata of one object, the same whichever encoding it came in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`; empty for cluster-scoped objects.
    pub namespace: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.resourceVersion` as sent; [`rv_u64`] reads it.
    pub resource_version: String,
    /// `metadata.labels`, sorted by key, one entry per key (the last value wins).
    pub labels: Vec<(String, String)>,
    /// True when annotation `k8s.io/initial-events-end` is `"true"`: the BOOKMARK closing a
    /// WatchList's initial events.
    pub initial_events_end: bool,
}

/// Metadata of one object. Protobuf input is either a whole `k8s\0` envelope (GET body, watch
/// event object) or a bare message (List item); JSON input is one object.
///
/// ```
/// use yurt::k8s::meta::{meta, rv_u64, Encoding};
/// let pod = br#"{"kind":"Pod","metadata":{"name":"p","resourceVersion":"42","labels":{"app":"x"}}}"#;
/// let m = meta(Encoding::Json, pod)?;
/// assert_eq!((m.name.as_str(), rv_u64(&m.resource_version)), ("p", Some(42)));
/// assert_eq!(m.labels, [("app".to_owned(), "x".to_owned())]);
/// # Ok::<(), yurt::k8s::decode_error::DecodeError>(())
/// ```
pub fn meta(encoding: Encoding, bytes: &[u8]) -> Result<Meta, DecodeError> {
    match encoding {
        Encoding::Json => {
            let m = object_meta_json(bytes)?;
            let end = m.annotation(INITIAL_EVENTS_END) == Some("true");
            Ok(Meta {
                name: m.name.into_owned(),
                namespace: m.namespace.into_owned(),
                uid: m.uid.into_owned(),
                resource_version: m.resource_version.into_owned(),
                labels: owned_pairs(m.labels.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))),
                initial_events_end: end,
            })
        }
        Encoding::Protobuf => {
            let raw = if has_magic(bytes) {
                decode_envelope(bytes)?.raw
            } else {
                bytes
            };
            let m = object_meta(raw)?;
            Ok(Meta {
                name: m.name.to_owned(),
                namespace: m.namespace.to_owned(),
                uid: m.uid.to_owned(),
                resource_version: m.resource_version.to_owned(),
                labels: owned_pairs(m.labels.iter().copied()),
                initial_events_end: m.annotation(INITIAL_EVENTS_END) == Some("true"),
            })
        }
    }
}

/// Sorted, one entry per key, last value wins.
fn owned_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let map: BTreeMap<&str, &str> = pairs.collect();
    map.into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A resourceVersion as a number: decimal digits only, fitting u64 (leading zeros allowed, as
/// kube-apiserver's `strconv.ParseUint` allows). Empty, signed or other text is `None`.
pub fn rv_u64(rv: &str) -> Option<u64> {
    if rv.is_empty() || !rv.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rv.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/k8s-captures");

    #[test]
    fn both_encodings_of_the_real_pod_agree() {
        let json = std::fs::read(format!("{CAPTURES}/get-pod.json.body")).expect("json");
        let pb = std::fs::read(format!("{CAPTURES}/get-pod.pb.body")).expect("pb");
        let a = meta(Encoding::Json, &json).expect("json meta");
        let b = meta(Encoding::Protobuf, &pb).expect("pb meta");
        assert_eq!(a, b);
        assert_eq!(rv_u64(&a.resource_version), Some(72));
        let bare = decode_envelope(&pb).expect("envelope").raw;
        assert_eq!(meta(Encoding::Protobuf, bare).expect("bare message"), b);
    }

    #[test]
    fn resource_versions() {
        assert_eq!(rv_u64("0"), Some(0));
        assert_eq!(rv_u64("007"), Some(7));
        assert_eq!(rv_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1a",
            "18446744073709551616",
            "resourceVersionValue",
        ] {
            assert_eq!(rv_u64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        let pb = Some(Encoding::Protobuf);
        assert_eq!(
            Encoding::from_content_type("application/vnd.kubernetes.protobuf;stream=watch"),
            pb
        );
        assert_eq!(
            Encoding::from_content_type("application/json"),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("application/yaml"), None);
    }
}
