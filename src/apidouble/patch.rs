//! PATCH bodies: JSON merge patch (RFC 7386) and strategic merge patch (the hub's, in
//! `k8s::patch`, with list strategies by field name: conditions, containers, addresses, …), and
//! JSON patch (RFC 6902).

use serde_json::{Map, Value};

use super::errors::DoubleError;
use crate::k8s::patch::{self as k8s_patch, ListRule, PatchError};

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

/// The double's list strategies, by the list's field name whatever the resource (the real
/// apiserver reads them from each type's Go struct tags; these are the lists node agents patch).
fn rules(path: &str) -> ListRule {
    let field = path.rsplit('.').next().unwrap_or(path);
    match field {
        "conditions" | "addresses" => ListRule::ByKey("type"),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "containerStatuses"
        | "initContainerStatuses"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "readinessGates" => ListRule::ByKey("name"),
        "volumeMounts" => ListRule::ByKey("mountPath"),
        "ownerReferences" => ListRule::ByKey("uid"),
        "finalizers" | "podCIDRs" => ListRule::Set,
        _ => ListRule::Replace,
    }
}

/// Applies `patch` to `target` (the object as JSON).
pub fn apply(target: &Value, patch: &Value, kind: PatchKind) -> Result<Value, DoubleError> {
    if kind == PatchKind::Json {
        return json_patch(target, patch);
    }
    let Value::Object(p) = patch else {
        return Err(bad(format!(
            "a merge patch must be a JSON object, got {patch}"
        )));
    };
    let mut out = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    match kind {
        PatchKind::Strategic => {
            k8s_patch::strategic_merge(&mut out, p, rules).map_err(|e| match e {
                PatchError::BadPatch(m) => bad(m),
                other => bad(other.to_string()),
            })?
        }
        _ => k8s_patch::merge_rfc7386(&mut out, p),
    }
    Ok(Value::Object(out))
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
    fn strategic_directives_are_applied_as_the_apiserver_applies_them() {
        let pod = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["f1", "f2"]},
            "spec": {"containers": [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}]}});
        let p = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"},
            "$deleteFromPrimitiveList/finalizers": ["f1"]},
            "spec": {"$setElementOrder/containers": [{"name": "c2"}, {"name": "c1"}],
            "containers": [{"name": "c1", "image": "i9"}]}});
        let out = apply(&pod, &p, PatchKind::Strategic).expect("ok");
        assert_eq!(out["metadata"]["labels"], json!({"c": "3"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["f2"]));
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "c2", "image": "i2"}, {"name": "c1", "image": "i9"}])
        );
        for bad in [
            json!({"$nope": 1}),
            json!({"metadata": {"$patch": "merge"}}),
            json!([1]),
        ] {
            let err = apply(&pod, &bad, PatchKind::Strategic).expect_err("refused");
            assert_eq!(err.code(), 400, "{bad}: {err:?}");
        }
        assert_eq!(
            apply(&pod, &json!("x"), PatchKind::Merge)
                .expect_err("not an object")
                .code(),
            400
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
