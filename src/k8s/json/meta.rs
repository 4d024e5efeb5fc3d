//! Object metadata and Status from JSON, through narrow serde structs (no full deserialization).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::k8s::decode_error::DecodeError;
use crate::k8s::watch::StatusSummary;

/// A JSON string borrowed from the input when it has no escapes, else owned.
#[derive(Debug, Default, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(transparent)]
pub(crate) struct Str<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

/// `Option<Str>` to a Cow, empty when absent or null.
pub(crate) fn text(s: Option<Str<'_>>) -> Cow<'_, str> {
    s.map(|s| s.0).unwrap_or_default()
}

/// Object metadata read from JSON. Strings borrow from the input unless they hold escapes.
///
/// Absent or `null` strings are empty. Labels and annotations are sorted by key; a repeated
/// key keeps its last value (as Go's decoder does).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonMeta<'a> {
    /// The object's `kind` (absent on List items: kube-apiserver omits it there).
    pub kind: Cow<'a, str>,
    /// The object's `apiVersion` (absent on List items).
    pub api_version: Cow<'a, str>,
    /// `metadata.name`.
    pub name: Cow<'a, str>,
    /// `metadata.generateName`.
    pub generate_name: Cow<'a, str>,
    /// `metadata.namespace`; empty for cluster-scoped objects.
    pub namespace: Cow<'a, str>,
    /// `metadata.uid`.
    pub uid: Cow<'a, str>,
    /// `metadata.resourceVersion`.
    pub resource_version: Cow<'a, str>,
    /// `metadata.generation` (0 when absent).
    pub generation: i64,
    /// `metadata.creationTimestamp` as RFC 3339 text (absent or null → None).
    pub creation_timestamp: Option<Cow<'a, str>>,
    /// `metadata.deletionTimestamp` as RFC 3339 text: present once deletion has started.
    pub deletion_timestamp: Option<Cow<'a, str>>,
    /// `metadata.labels`, sorted by key.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// `metadata.annotations`, sorted by key.
    pub annotations: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl JsonMeta<'_> {
    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        let found = self.annotations.iter().find(|(k, _)| k == key);
        found.map(|(_, v)| v.as_ref())
    }
}

#[derive(Deserialize)]
struct Object<'a> {
    #[serde(borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default, rename = "apiVersion")]
    api_version: Option<Str<'a>>,
    #[serde(borrow, default)]
    metadata: Option<RawMeta<'a>>,
}

type Pairs<'a> = Option<BTreeMap<Str<'a>, Str<'a>>>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawMeta<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    generate_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    namespace: Option<Str<'a>>,
    #[serde(borrow, default)]
    uid: Option<Str<'a>>,
    #[serde(borrow, default)]
    resource_version: Option<Str<'a>>,
    #[serde(default)]
    generation: Option<i64>,
    #[serde(borrow, default)]
    creation_timestamp: Option<Str<'a>>,
    #[serde(borrow, default)]
    deletion_timestamp: Option<Str<'a>>,
    #[serde(borrow, default)]
    labels: Pairs<'a>,
    #[serde(borrow, default)]
    annotations: Pairs<'a>,
}

/// Reads kind, apiVersion and metadata of one JSON object (a GET body, List item or event object).
///
/// The whole input must be one valid JSON object; unknown fields are skipped, not kept.
pub fn object_meta_json(bytes: &[u8]) -> Result<JsonMeta<'_>, DecodeError> {
    let obj: Object<'_> = serde_json::from_slice(bytes).map_err(|e| DecodeError::json(&e))?;
    let m = obj.metadata.unwrap_or_default();
    Ok(JsonMeta {
        kind: text(obj.kind),
        api_version: text(obj.api_version),
        name: text(m.name),
        generate_name: text(m.generate_name),
        namespace: text(m.namespace),
        uid: text(m.uid),
        resource_version: text(m.resource_version),
        generation: m.generation.unwrap_or(0),
        creation_timestamp: m.creation_timestamp.map(|s| s.0),
        deletion_timestamp: m.deletion_timestamp.map(|s| s.0),
        labels: pairs(m.labels),
        annotations: pairs(m.annotations),
    })
}

fn pairs(map: Pairs<'_>) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let map = map.unwrap_or_default();
    map.into_iter().map(|(k, v)| (k.0, v.0)).collect()
}

#[derive(Deserialize)]
struct RawStatus<'a> {
    #[serde(default)]
    code: Option<i32>,
    #[serde(borrow, default)]
    reason: Option<Str<'a>>,
    #[serde(borrow, default)]
    message: Option<Str<'a>>,
}

/// Reads code, reason and message of a JSON `Status` (an error body or an ERROR event's object).
pub fn status_json(bytes: &[u8]) -> Result<StatusSummary<'_>, DecodeError> {
    let st: RawStatus<'_> = serde_json::from_slice(bytes).map_err(|e| DecodeError::json(&e))?;
    Ok(StatusSummary {
        code: st.code.unwrap_or(0),
        reason: text(st.reason),
        message: text(st.message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_POD: &[u8] = include_bytes!("../../../tests/fixtures/k8s-captures/get-pod.json.body");

    #[test]
    fn reads_a_real_pod_and_borrows() {
        let m = object_meta_json(GET_POD).expect("meta");
        assert_eq!((m.kind.as_ref(), m.api_version.as_ref()), ("Pod", "v1"));
        assert_eq!(
            (m.name.as_ref(), m.namespace.as_ref()),
            ("demo-pod-1", "default")
        );
        assert!(
            matches!(m.name, Cow::Borrowed(_)),
            "plain strings are not copied"
        );
        assert!(m.labels.iter().any(|(k, v)| k == "app" && v == "demo"));
        assert_eq!(m.deletion_timestamp, None);
    }

    #[test]
    fn escapes_nulls_and_type_errors() {
        let m = object_meta_json(
            br#"{"metadata":{"name":"a\u0062","labels":null,"deletionTimestamp":null}}"#,
        )
        .expect("valid");
        assert_eq!(m.name, "ab");
        assert!(m.labels.is_empty() && m.deletion_timestamp.is_none());
        assert!(matches!(
            object_meta_json(br#"{"metadata":{"name":5}}"#),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            object_meta_json(b"[1]"),
            Err(DecodeError::Invalid(_))
        ));
        assert_eq!(
            object_meta_json(br#"{"metadata":{"#),
            Err(DecodeError::Truncated)
        );
    }
}
