//! PATCH bodies applied to a stored Node, in the encoding it was stored in (JSON or protobuf),
//! with no I/O: what the hub answers a node (status) PATCH while the cloud is unreachable.
//!
//! Strategic merge patch (kubelet's and flannel's `application/strategic-merge-patch+json`,
//! client-go's two-way patches) and JSON merge patch (RFC 7386) are applied. JSON patch
//! (RFC 6902) and server-side apply are not: [`PatchKind::from_content_type`] says so and the
//! caller answers the stored node as it is.
//!
//! A JSON node takes every patch. A protobuf node is rewritten without a schema: only the
//! fields below are changed and every other field keeps its bytes. Keys the protobuf path does
//! not apply are returned in [`Patched::ignored`], never an error:
//! `metadata.labels`, `metadata.annotations`, `status.conditions` (merged by `type`, with
//! `$setElementOrder`), `status.addresses` (by `type`), `status.capacity`, `status.allocatable`
//! (by resource name), `status.volumesInUse` and `status.images` (replaced), `status.nodeInfo`'s
//! strings and `status.phase`.
//!
//! As kube-apiserver does, a PATCH of `nodes/<n>/status` keeps the stored `spec`, a PATCH of
//! `nodes/<n>` keeps the stored `status`; the resourceVersion is always the stored one.

mod json;
#[cfg(feature = "sandbox")]
pub(crate) use json::{merge_rfc7386, ListRule};
mod json_shape;
mod lists;
mod pb_edit;
mod pb_node;
mod pb_status;
#[cfg(test)]
mod tests_bad_input;
#[cfg(test)]
mod tests_fixtures;
#[cfg(test)]
mod tests_node;

use std::fmt;

use serde_json::Value;

use crate::k8s::decode_error::DecodeError;
use crate::k8s::meta::Encoding;

/// The patch formats the hub applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
}

impl PatchKind {
    /// The kind of a PATCH from its `Content-Type`. `Ok(None)`: a patch format the hub knows but
    /// does not apply (JSON patch, server-side apply); `Err`: not a patch format (a 415).
    pub fn from_content_type(ct: Option<&str>) -> Result<Option<PatchKind>, PatchError> {
        let media = ct.unwrap_or_default().split(';').next().unwrap_or_default();
        match media.trim().to_ascii_lowercase().as_str() {
            "application/strategic-merge-patch+json" => Ok(Some(PatchKind::Strategic)),
            "application/merge-patch+json" => Ok(Some(PatchKind::Merge)),
            "application/json-patch+json"
            | "application/apply-patch+yaml"
            | "application/apply-patch+cbor" => Ok(None),
            other => Err(PatchError::UnsupportedMediaType(format!(
                "{other:?} is not a patch format: send application/strategic-merge-patch+json, \
                 application/merge-patch+json or application/json-patch+json"
            ))),
        }
    }
}

/// Which part of the node a PATCH may change (kube-apiserver resets the other one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `nodes/<n>`: metadata and spec; the stored status is kept.
    Object,
    /// `nodes/<n>/status`: metadata and status; the stored spec is kept.
    Status,
}

/// Why a patch could not be applied. Callers branch on the variant; `Display` is for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatchError {
    /// The patch is not valid JSON, not an object, has a value of the wrong type or an unknown
    /// `$` directive (a 400).
    BadPatch(String),
    /// The stored node does not decode (a 500: the cache holds something it should not).
    BadObject(DecodeError),
    /// The `Content-Type` is not a patch format (a 415).
    UnsupportedMediaType(String),
}

impl PatchError {
    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        PatchError::BadPatch(msg.into())
    }
}

impl From<DecodeError> for PatchError {
    fn from(e: DecodeError) -> Self {
        PatchError::BadObject(e)
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::BadPatch(m) => write!(f, "the patch cannot be applied: {m}"),
            PatchError::BadObject(e) => write!(f, "the cached node does not decode: {e}"),
            PatchError::UnsupportedMediaType(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PatchError {}

/// A patched node, in the stored encoding, and what was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// The node as stored (a JSON object, or the protobuf message without its envelope).
    pub bytes: Vec<u8>,
    /// Dotted paths of patch keys left as stored (protobuf fields without support here).
    pub ignored: Vec<String>,
}

/// Applies `patch` to a stored node (`stored`: a JSON object, or a protobuf Node message
/// without its `k8s\0` envelope).
///
/// ```
/// use yurt::k8s::meta::Encoding;
/// use yurt::k8s::patch::{apply_node, PatchKind, Scope};
/// let node = br#"{"metadata":{"name":"n1","resourceVersion":"7"},"status":{"conditions":[
///     {"type":"Ready","status":"False"}]}}"#;
/// let patch = br#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#;
/// let out = apply_node(Encoding::Json, node, PatchKind::Strategic, patch, Scope::Status).unwrap();
/// let v: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
/// assert_eq!(v["status"]["conditions"][0]["status"], "True");
/// assert_eq!(v["metadata"]["resourceVersion"], "7");
/// ```
pub fn apply_node(
    enc: Encoding,
    stored: &[u8],
    kind: PatchKind,
    patch: &[u8],
    scope: Scope,
) -> Result<Patched, PatchError> {
    let patch: Value = serde_json::from_slice(patch)
        .map_err(|e| PatchError::bad(format!("the body is not JSON: {e}")))?;
    let Value::Object(patch) = patch else {
        return Err(PatchError::bad(format!(
            "a node patch is a JSON object, got {patch}"
        )));
    };
    if kind == PatchKind::Strategic {
        check_directives(&patch, "")?;
    }
    match enc {
        Encoding::Json => json::apply(stored, &patch, kind, scope),
        Encoding::Protobuf => pb_node::apply(stored, &patch, kind, scope),
    }
}

/// Strategic merge patch of `patch` into any JSON object `target`, lists merged as `rules` says
/// for their dotted path (what the API double applies to every resource it serves; the hub's
/// node patches use Node's rules through [`apply_node`]). Unknown directives are refused.
#[cfg(feature = "sandbox")]
pub(crate) fn strategic_merge(
    target: &mut serde_json::Map<String, Value>,
    patch: &serde_json::Map<String, Value>,
    rules: json::Rules,
) -> Result<(), PatchError> {
    check_directives(patch, "")?;
    json::merge_map(target, patch, "", rules)
}

/// Refuses `$` keys a strategic merge patch does not define, anywhere in `patch`.
fn check_directives(patch: &serde_json::Map<String, Value>, path: &str) -> Result<(), PatchError> {
    for (k, v) in patch {
        let here = join(path, k);
        let list = |v: &Value| {
            v.is_array()
                .then_some(())
                .ok_or_else(|| PatchError::bad(format!("{here}: takes a list, got {v}")))
        };
        match k.as_str() {
            "$patch" => match v.as_str() {
                Some("replace" | "delete") => {}
                _ => return Err(PatchError::bad(format!("{here}: unknown $patch {v}"))),
            },
            "$retainKeys" => list(v)?,
            d if d.starts_with("$setElementOrder/") => list(v)?,
            d if d.starts_with("$deleteFromPrimitiveList/") => list(v)?,
            d if d.starts_with('$') => {
                return Err(PatchError::bad(format!(
                    "{here}: unknown strategic merge patch directive {d:?}"
                )))
            }
            _ => {}
        }
        check_value(v, &here)?;
    }
    Ok(())
}

fn check_value(v: &Value, path: &str) -> Result<(), PatchError> {
    match v {
        Value::Object(m) => check_directives(m, path),
        Value::Array(items) => items.iter().try_for_each(|i| check_value(i, path)),
        _ => Ok(()),
    }
}

/// `a.b` (or `b` at the top).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
