//! A patch applied to a protobuf Node (`Node{metadata=1, spec=2, status=3}`, k8s.io/api
//! core/v1 `generated.proto`): metadata's labels and annotations here, the status in
//! `pb_status.rs`; everything else keeps its bytes.

use serde_json::{Map, Value};

use super::pb_edit::{field, merge_map_field, message_field, rewrite, Edits};
use super::{pb_status, PatchError, PatchKind, Patched, Scope};
use crate::k8s::pb::wire::fields;

/// ObjectMeta's `labels` and `annotations` (`map<string,string>`).
const LABELS: u32 = 11;
const ANNOTATIONS: u32 = 12;

/// Applies `patch` to the protobuf Node message `raw` (no envelope).
pub(super) fn apply(
    raw: &[u8],
    patch: &Map<String, Value>,
    kind: PatchKind,
    scope: Scope,
) -> Result<Patched, PatchError> {
    for f in fields(raw) {
        f?;
    }
    let strategic = kind == PatchKind::Strategic;
    let mut ignored = Vec::new();
    let mut edits = Edits::new();
    for (k, v) in patch {
        match (k.as_str(), scope) {
            ("metadata", _) => {
                if let Some(m) = object(v, k, &mut ignored)? {
                    let meta = message_field(raw, 1)?;
                    if let Some(new) = metadata(&meta, m, strategic, &mut ignored)? {
                        edits.insert(1, field(1, &new));
                    }
                }
            }
            ("status", Scope::Status) => {
                if let Some(m) = object(v, k, &mut ignored)? {
                    let status = message_field(raw, 3)?;
                    if let Some(new) = pb_status::apply(&status, m, strategic, &mut ignored)? {
                        edits.insert(3, field(3, &new));
                    }
                }
            }
            // What kube-apiserver resets for this subresource, and the type.
            ("spec", Scope::Status) | ("status", Scope::Object) | ("kind" | "apiVersion", _) => {}
            (other, _) => ignored.push(other.to_string()),
        }
    }
    let bytes = if edits.is_empty() {
        raw.to_vec()
    } else {
        rewrite(raw, &edits)?
    };
    Ok(Patched { bytes, ignored })
}

/// A patch value that must be an object; `null` (clearing a whole part) is not applied.
pub(super) fn object<'a>(
    v: &'a Value,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<Option<&'a Map<String, Value>>, PatchError> {
    match v {
        Value::Object(m) => Ok(Some(m)),
        Value::Null => {
            ignored.push(path.to_string());
            Ok(None)
        }
        v => Err(PatchError::bad(format!(
            "{path}: expected an object, got {v}"
        ))),
    }
}

/// ObjectMeta with the patch's labels and annotations; `None` when the patch changes neither.
fn metadata(
    meta: &[u8],
    patch: &Map<String, Value>,
    strategic: bool,
    ignored: &mut Vec<String>,
) -> Result<Option<Vec<u8>>, PatchError> {
    let mut edits = Edits::new();
    for (k, v) in patch {
        let path = format!("metadata.{k}");
        let number = match k.as_str() {
            "labels" => LABELS,
            "annotations" => ANNOTATIONS,
            // Identity and the resourceVersion stay as stored (kube-apiserver does not take
            // them from a patch either).
            "name" | "namespace" | "uid" | "resourceVersion" => continue,
            _ => {
                ignored.push(path);
                continue;
            }
        };
        let entries = merge_map_field(meta, number, v, strategic, &path, |v, p| {
            super::pb_edit::patch_str(v, p).map(|s| s.as_bytes().to_vec())
        })?;
        edits.insert(number, entries);
    }
    if edits.is_empty() {
        return Ok(None);
    }
    Ok(Some(rewrite(meta, &edits)?))
}
