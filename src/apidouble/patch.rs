//! PATCH bodies: JSON merge patch (RFC 7386), a strategic merge patch that merges the well-known
//! keyed lists (conditions, containers, addresses, …), and JSON patch (RFC 6902).

use serde_json::{Map, Value};

use super::errors::DoubleError;

/// The kind of patch, from the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Strategic,
    Json,
}

impl PatchKind {
    /// From a Content-Type; `Err` = 415 for types the double does not apply (server-side apply).
    pub fn from_content_type(ct: &str) -> Result<PatchKind, DoubleError> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            "application/json-patch+json" => Ok(PatchKind::Json),
            other => Err(DoubleError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {other:?}; server-side apply is not supported by the yurt API double)"
            ))),
        }
    }
}

/// Lists that strategic merge patches merge element-wise, by this key.
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "conditions" | "addresses" => "type",
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "containerStatuses"
        | "initContainerStatuses"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "readinessGates" => "name",
        "volumeMounts" => "mountPath",
        "ownerReferences" => "uid",
        _ => return None,
    })
}

/// Applies `patch` to `target` (the object as JSON).
pub fn apply(target: &Value, patch: &Value, kind: PatchKind) -> Result<Value, DoubleError> {
    match kind {
        PatchKind::Merge => Ok(merge(target, patch, false)),
        PatchKind::Strategic => Ok(merge(target, patch, true)),
        PatchKind::Json => json_patch(target, patch),
    }
}

fn merge(target: &Value, patch: &Value, strategic: bool) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if strategic && k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v, strategic.then(|| merge_key(k)).flatten()) {
            (Some(Value::Array(old)), Value::Array(new), Some(key)) => {
                Value::Array(merge_list(old, new, key))
            }
            (Some(old), Value::Object(_), _) => merge(old, v, strategic),
            (None, Value::Object(_), _) => merge(&Value::Null, v, strategic),
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

fn merge_list(old: &[Value], new: &[Value], key: &str) -> Vec<Value> {
    let mut out: Vec<Value> = old.to_vec();
    for item in new {
        let id = item.get(key);
        let pos = out.iter().position(|o| id.is_some() && o.get(key) == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (Some(i), false) => out[i] = merge(&out[i], item, true),
            (None, false) => out.push(merge(&Value::Null, item, true)),
            (None, true) => {}
        }
    }
    out
}

fn bad(msg: impl Into<String>) -> DoubleError {
    DoubleError::BadRequest(msg.into())
}

fn pointer_parts(path: &str) -> Result<Vec<String>, DoubleError> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| bad(format!("invalid JSON pointer {path:?}")))?;
    Ok(rest
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'a>(doc: &'a mut Value, parts: &[String]) -> Result<&'a mut Value, DoubleError> {
    let (_, parents) = parts
        .split_last()
        .ok_or_else(|| bad("empty JSON pointer"))?;
    let mut cur = doc;
    for p in parents {
        cur = match cur {
            Value::Object(m) => m.get_mut(p),
            Value::Array(a) => p.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| bad(format!("doc is missing path: /{}", parts.join("/"))))?;
    }
    Ok(cur)
}

fn json_patch(target: &Value, patch: &Value) -> Result<Value, DoubleError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| bad("a JSON patch must be an array of operations"))?;
    let mut doc = target.clone();
    for op in ops {
        let name = op["op"].as_str().unwrap_or("");
        let path = op["path"].as_str().unwrap_or("");
        let parts = pointer_parts(path)?;
        let last = parts.last().cloned().unwrap_or_default();
        let value = op.get("value").cloned();
        let parent = parent_mut(&mut doc, &parts)?;
        let missing = || bad(format!("doc is missing path: {path}"));
        match (name, parent) {
            ("add" | "replace", Value::Object(m)) => {
                if name == "replace" && !m.contains_key(&last) {
                    return Err(missing());
                }
                m.insert(last, value.ok_or_else(|| bad("missing value"))?);
            }
            ("add", Value::Array(a)) => {
                let v = value.ok_or_else(|| bad("missing value"))?;
                let i = if last == "-" {
                    a.len()
                } else {
                    last.parse().map_err(|_| missing())?
                };
                if i > a.len() {
                    return Err(missing());
                }
                a.insert(i, v);
            }
            ("replace", Value::Array(a)) => {
                let slot = last
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| a.get_mut(i))
                    .ok_or_else(missing)?;
                *slot = value.ok_or_else(|| bad("missing value"))?;
            }
            ("remove", Value::Object(m)) => {
                m.remove(&last).ok_or_else(missing)?;
            }
            ("remove", Value::Array(a)) => {
                let i = last
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i < a.len())
                    .ok_or_else(missing)?;
                a.remove(i);
            }
            ("test", parent) => {
                let cur = match parent {
                    Value::Object(m) => m.get(&last),
                    Value::Array(a) => last.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                };
                if cur != value.as_ref() {
                    return Err(DoubleError::Invalid {
                        kind: "Patch".into(),
                        name: String::new(),
                        message: format!("testing value {path} failed"),
                    });
                }
            }
            (other, _) => {
                return Err(bad(format!(
                    "unsupported or misplaced JSON patch operation {other:?} at {path}"
                )))
            }
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let p = json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}});
        assert_eq!(
            apply(&t, &p, PatchKind::Merge).expect("ok"),
            json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}})
        );
    }

    #[test]
    fn strategic_merges_keyed_lists() {
        let node = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}]}});
        let p = json!({"status": {"$setElementOrder/conditions": [{"type": "Ready"}, {"type": "DiskPressure"}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "PIDPressure", "status": "False"}]}});
        let out = apply(&node, &p, PatchKind::Strategic).expect("ok");
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}, {"type": "PIDPressure", "status": "False"}])
        );
        assert!(out["status"].get("$setElementOrder/conditions").is_none());
        let del = json!({"status": {"conditions": [{"type": "Ready", "$patch": "delete"}]}});
        assert_eq!(
            apply(&out, &del, PatchKind::Strategic).expect("ok")["status"]["conditions"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        // Plain merge patch replaces lists.
        assert_eq!(
            apply(&node, &p, PatchKind::Merge).expect("ok")["status"]["conditions"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn json_patch_ops() {
        let t = json!({"metadata": {"labels": {"a/b": "1"}}, "l": [1, 2]});
        let p = json!([{"op": "add", "path": "/metadata/labels/x", "value": "y"}, {"op": "remove", "path": "/metadata/labels/a~1b"},
            {"op": "replace", "path": "/l/0", "value": 9}, {"op": "add", "path": "/l/-", "value": 3}, {"op": "test", "path": "/l/1", "value": 2}]);
        assert_eq!(
            apply(&t, &p, PatchKind::Json).expect("ok"),
            json!({"metadata": {"labels": {"x": "y"}}, "l": [9, 2, 3]})
        );
        assert!(apply(
            &t,
            &json!([{"op": "test", "path": "/l/0", "value": 5}]),
            PatchKind::Json
        )
        .is_err());
        assert!(apply(
            &t,
            &json!([{"op": "remove", "path": "/nope/x"}]),
            PatchKind::Json
        )
        .is_err());
        assert!(apply(&t, &json!([{"op": "move", "path": "/l"}]), PatchKind::Json).is_err());
        assert!(apply(&t, &json!({"op": "add"}), PatchKind::Json).is_err());
        assert!(apply(
            &t,
            &json!([{"op": "add", "path": "", "value": 1}]),
            PatchKind::Json
        )
        .is_err());
        assert_eq!(
            PatchKind::from_content_type("application/apply-patch+yaml")
                .expect_err("415")
                .code(),
            415
        );
    }
}
