//! Pure: offline answer bodies assembled from stored objects, in the stored encoding, and the
//! Accept negotiation that picks (or refuses) it.

use crate::k8s::decode_error::DecodeError;
use crate::k8s::json::{bookmark_json, encode_list_json, encode_watch_line, with_type_meta};
use crate::k8s::pb::{bookmark_pb, encode_envelope, encode_list, encode_watch_frame};
use crate::k8s::watch::EventType;
use crate::store::{Encoding, ViewMeta};

/// `Content-Type` of a body in `enc`; `watch` for streams.
pub fn content_type(enc: Encoding, watch: bool) -> &'static str {
    match (enc, watch) {
        (Encoding::Json, _) => "application/json",
        (Encoding::Protobuf, false) => "application/vnd.kubernetes.protobuf",
        (Encoding::Protobuf, true) => "application/vnd.kubernetes.protobuf;stream=watch",
    }
}

/// Whether an `Accept` header lets the client take `enc` (absent header: anything). Media types
/// asking for a conversion (`as=Table`) do not count: the cache holds the objects themselves.
pub fn accepts(accept: Option<&str>, enc: Encoding) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return true;
    };
    accept.split(',').any(|m| {
        let mut parts = m.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if parts.any(|p| p.trim().starts_with("as=")) {
            return false;
        }
        match media.as_str() {
            "*/*" | "application/*" => true,
            "application/json" => enc == Encoding::Json,
            "application/vnd.kubernetes.protobuf" => enc == Encoding::Protobuf,
            _ => false,
        }
    })
}

/// The encoding kube-apiserver answers an `Accept` header in: its first media range that names
/// one, conversions (`as=…`) aside (JSON for none, `*/*` or an absent header).
pub fn preferred(accept: Option<&str>) -> Encoding {
    let first = accept.unwrap_or_default().split(',').find_map(|m| {
        let mut parts = m.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if parts.any(|p| p.trim().starts_with("as=")) {
            return None;
        }
        match media.as_str() {
            "application/vnd.kubernetes.protobuf" => Some(Encoding::Protobuf),
            "application/json" | "*/*" | "application/*" => Some(Encoding::Json),
            _ => None,
        }
    });
    first.unwrap_or(Encoding::Json)
}

/// The kind of one object of a view (`PodList` → `Pod`; a GET's view already names it).
pub fn object_kind(meta: &ViewMeta) -> &str {
    meta.kind.strip_suffix("List").unwrap_or(&meta.kind)
}

/// A List body with the view's resourceVersion.
pub fn list(meta: &ViewMeta, rv: u64, items: &[&[u8]]) -> Vec<u8> {
    let rv = rv.to_string();
    let kind = if meta.kind.ends_with("List") {
        meta.kind.clone()
    } else {
        format!("{}List", meta.kind)
    };
    match meta.encoding {
        Encoding::Json => encode_list_json(&meta.api_version, &kind, &rv, items),
        Encoding::Protobuf => encode_list(&meta.api_version, &kind, &rv, "", items),
    }
}

/// One object as a GET answers it (type meta added, envelope for protobuf).
pub fn object(
    enc: Encoding,
    api_version: &str,
    kind: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    match enc {
        Encoding::Json => with_type_meta(api_version, kind, bytes),
        Encoding::Protobuf => Ok(encode_envelope(api_version, kind, bytes)),
    }
}

/// One ADDED watch event for a stored object.
pub fn added(meta: &ViewMeta, bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let obj = object(meta.encoding, &meta.api_version, object_kind(meta), bytes)?;
    Ok(match meta.encoding {
        Encoding::Json => encode_watch_line(EventType::Added, &obj),
        Encoding::Protobuf => encode_watch_frame(EventType::Added, &obj),
    })
}

/// The BOOKMARK closing a WatchList's initial events.
pub fn initial_events_end(meta: &ViewMeta, rv: u64) -> Vec<u8> {
    let (v, k, rv) = (&meta.api_version, object_kind(meta), rv.to_string());
    match meta.encoding {
        Encoding::Json => bookmark_json(v, k, &rv, true),
        Encoding::Protobuf => {
            encode_watch_frame(EventType::Bookmark, &bookmark_pb(v, k, &rv, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        let (j, p) = (Encoding::Json, Encoding::Protobuf);
        let kubelet = Some("application/vnd.kubernetes.protobuf,application/json");
        assert!(accepts(kubelet, p) && accepts(kubelet, j));
        assert!(accepts(Some("application/json"), j) && !accepts(Some("application/json"), p));
        assert!(accepts(Some("application/vnd.kubernetes.protobuf, */*"), j));
        assert!(accepts(None, p));
        let table = Some("application/json;as=Table;v=v1;g=meta.k8s.io");
        assert!(!accepts(table, j));
        assert!(!accepts(Some("application/yaml"), j));
    }

    #[test]
    fn first_choice() {
        let (j, p) = (Encoding::Json, Encoding::Protobuf);
        let kubelet = Some("application/vnd.kubernetes.protobuf,application/json");
        assert_eq!(preferred(kubelet), p);
        assert_eq!(preferred(Some("application/json, */*")), j);
        assert_eq!(
            preferred(Some(
                "application/yaml, application/vnd.kubernetes.protobuf"
            )),
            p
        );
        let table =
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/vnd.kubernetes.protobuf";
        assert_eq!(preferred(Some(table)), p);
        assert_eq!(preferred(Some("*/*")), j);
        assert_eq!(preferred(None), j);
    }
}
