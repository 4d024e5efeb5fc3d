//! ObjectMeta (field 1 of every Kubernetes object) and Status, read from protobuf without a schema.

use std::borrow::Cow;

use super::wire::{fields, Field};
use crate::k8s::decode_error::DecodeError;
use crate::k8s::watch::StatusSummary;

/// A `metav1.Time` as protobuf carries it: seconds and nanos since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second (kube-apiserver writes 0).
    pub nanos: i32,
}

/// The metadata fields the cache needs, borrowed from the object's bytes.
///
/// Absent strings are empty. Labels and annotations keep wire order (kube-apiserver sorts them
/// by key); a repeated key appears twice, and protobuf's rule is that the last one wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta<'a> {
    /// `name` (1).
    pub name: &'a str,
    /// `generateName` (2).
    pub generate_name: &'a str,
    /// `namespace` (3); empty for cluster-scoped objects.
    pub namespace: &'a str,
    /// `uid` (5).
    pub uid: &'a str,
    /// `resourceVersion` (6); see [`crate::k8s::meta::rv_u64`].
    pub resource_version: &'a str,
    /// `generation` (7).
    pub generation: i64,
    /// `creationTimestamp` (8); kube-apiserver writes an empty Time (0 s) when unset.
    pub creation_timestamp: Option<Time>,
    /// `deletionTimestamp` (9): present once deletion has started.
    pub deletion_timestamp: Option<Time>,
    /// `labels` (11).
    pub labels: Vec<(&'a str, &'a str)>,
    /// `annotations` (12).
    pub annotations: Vec<(&'a str, &'a str)>,
}

impl<'a> ObjectMeta<'a> {
    /// The value of annotation `key` (the last one if repeated).
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        lookup(&self.annotations, key)
    }

    /// The value of label `key` (the last one if repeated).
    pub fn label(&self, key: &str) -> Option<&'a str> {
        lookup(&self.labels, key)
    }
}

fn lookup<'a>(pairs: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Reads ObjectMeta from an object's message (an envelope's `raw`, or a List item).
///
/// Walks every top-level field, so a malformed object is an error even outside field 1. Several
/// field-1 occurrences merge, as protobuf requires. An object without field 1 gives all-empty
/// metadata. Objects whose field 1 is not ObjectMeta (options, Status, WatchEvent, reviews...)
/// give garbage or an error: call this for stored API objects only.
pub fn object_meta(raw: &[u8]) -> Result<ObjectMeta<'_>, DecodeError> {
    let mut meta = ObjectMeta::default();
    for field in fields(raw) {
        let field = field?;
        if field.number == 1 {
            merge_meta(field.bytes()?, &mut meta)?;
        }
    }
    Ok(meta)
}

fn merge_meta<'a>(msg: &'a [u8], meta: &mut ObjectMeta<'a>) -> Result<(), DecodeError> {
    for field in fields(msg) {
        let field = field?;
        match field.number {
            1 => meta.name = field.str()?,
            2 => meta.generate_name = field.str()?,
            3 => meta.namespace = field.str()?,
            5 => meta.uid = field.str()?,
            6 => meta.resource_version = field.str()?,
            7 => meta.generation = field.int64()?,
            8 => meta.creation_timestamp = Some(time(&field)?),
            9 => meta.deletion_timestamp = Some(time(&field)?),
            11 => meta.labels.push(map_entry(&field)?),
            12 => meta.annotations.push(map_entry(&field)?),
            _ => {}
        }
    }
    Ok(())
}

fn time(field: &Field<'_>) -> Result<Time, DecodeError> {
    let mut t = Time::default();
    for f in fields(field.bytes()?) {
        let f = f?;
        match f.number {
            1 => t.seconds = f.int64()?,
            2 => t.nanos = f.int32()?,
            _ => {}
        }
    }
    Ok(t)
}

/// A `map<string,string>` entry: key = 1, value = 2, each empty when absent.
fn map_entry<'a>(field: &Field<'a>) -> Result<(&'a str, &'a str), DecodeError> {
    let (mut key, mut value) = ("", "");
    for f in fields(field.bytes()?) {
        let f = f?;
        match f.number {
            1 => key = f.str()?,
            2 => value = f.str()?,
            _ => {}
        }
    }
    Ok((key, value))
}

/// Reads a `Status` message (status=2, message=3, reason=4, code=6), e.g. an ERROR event's object.
pub fn status(raw: &[u8]) -> Result<StatusSummary<'_>, DecodeError> {
    let mut out = StatusSummary::default();
    for field in fields(raw) {
        let field = field?;
        match field.number {
            3 => out.message = Cow::Borrowed(field.str()?),
            4 => out.reason = Cow::Borrowed(field.str()?),
            6 => out.code = field.int32()?,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::pb::envelope::decode_envelope;

    const NOT_FOUND: &[u8] =
        include_bytes!("../../../tests/fixtures/k8s-captures/get-pod-notfound.pb.body");
    const GET_POD: &[u8] = include_bytes!("../../../tests/fixtures/k8s-captures/get-pod.pb.body");

    #[test]
    fn reads_a_real_pod() {
        let env = decode_envelope(GET_POD).expect("envelope");
        let meta = object_meta(env.raw).expect("meta");
        assert_eq!((meta.name, meta.namespace), ("demo-pod-1", "default"));
        assert_eq!(meta.uid, "7439c9a9-4a22-4131-973e-91c0027953d8");
        assert_eq!(meta.label("app"), Some("demo"));
        assert!(meta
            .creation_timestamp
            .is_some_and(|t| t.seconds > 1_700_000_000));
        assert_eq!(meta.deletion_timestamp, None);
    }

    #[test]
    fn reads_a_real_404_status() {
        let env = decode_envelope(NOT_FOUND).expect("envelope");
        assert_eq!(env.kind, "Status");
        let st = status(env.raw).expect("status");
        assert_eq!((st.code, st.reason.as_ref()), (404, "NotFound"));
        assert_eq!(st.message, "pods \"nope\" not found");
    }

    #[test]
    fn merges_repeated_metadata_and_rejects_bad_utf8() {
        // {1: {1: "a"}, 1: {3: "ns"}}
        let merged = [0x0a, 3, 0x0a, 1, b'a', 0x0a, 4, 0x1a, 2, b'n', b's'];
        let meta = object_meta(&merged).expect("valid");
        assert_eq!((meta.name, meta.namespace), ("a", "ns"));
        let bad = [0x0a, 3, 0x0a, 1, 0xff];
        assert!(matches!(object_meta(&bad), Err(DecodeError::Invalid(_))));
    }
}
