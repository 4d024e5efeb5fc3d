//! Strategic merge patch and JSON merge patch (RFC 7386) on a JSON Node, with Node's patch
//! strategies (its Go struct tags in k8s.io/api and apimachinery's ObjectMeta).

use serde_json::{Map, Value};

use super::json_shape;
use super::lists::{enforce_order, merge_keyed, order_ids};
use super::{join, PatchError, PatchKind, Patched, Scope};
use crate::k8s::decode_error::DecodeError;

/// How a strategic merge patch treats a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListRule {
    /// Replaced by the patch's list (no `patchStrategy`).
    Replace,
    /// Merged element by element on this key (`patchStrategy:"merge" patchMergeKey:...`).
    ByKey(&'static str),
    /// A list of primitives merged as a set (`patchStrategy:"merge"`, no key).
    Set,
}

/// A resource's list strategies: the rule for the list at a dotted path (`status.conditions`;
/// inside list elements the path goes on from the list's: `spec.containers.env`).
pub(crate) type Rules = fn(&str) -> ListRule;

/// Node's list strategies, by dotted path. `spec.taints` and `status.volumesAttached` carry no
/// patch strategy in k8s.io/api, so patches replace them.
pub(crate) fn node_rule(path: &str) -> ListRule {
    match path {
        "status.conditions" | "status.addresses" => ListRule::ByKey("type"),
        "metadata.ownerReferences" => ListRule::ByKey("uid"),
        "metadata.finalizers" | "spec.podCIDRs" => ListRule::Set,
        _ => ListRule::Replace,
    }
}

/// Applies `patch` to the stored JSON node `stored`.
pub(super) fn apply(
    stored: &[u8],
    patch: &Map<String, Value>,
    kind: PatchKind,
    scope: Scope,
) -> Result<Patched, PatchError> {
    let original: Value = serde_json::from_slice(stored).map_err(|e| DecodeError::json(&e))?;
    json_shape::check(&original)
        .map_err(|e| DecodeError::Invalid(format!("stored node: {e}").into()))?;
    let Value::Object(original) = original else {
        return Err(DecodeError::invalid("a stored JSON node is not an object").into());
    };
    let mut node = original.clone();
    match kind {
        PatchKind::Strategic => merge_map(&mut node, patch, "", node_rule)?,
        PatchKind::Merge => merge_rfc7386(&mut node, patch),
    }
    let kept = match scope {
        Scope::Object => "status",
        Scope::Status => "spec",
    };
    match original.get(kept) {
        Some(v) => node.insert(kept.to_string(), v.clone()),
        None => node.remove(kept),
    };
    let rv = original
        .get("metadata")
        .and_then(|m| m.get("resourceVersion"));
    if let (Some(rv), Some(Value::Object(m))) = (rv, node.get_mut("metadata")) {
        m.insert("resourceVersion".into(), rv.clone());
    }
    let node = Value::Object(node);
    json_shape::check(&node).map_err(|e| PatchError::bad(format!("the patched node: {e}")))?;
    let bytes = serde_json::to_vec(&node).map_err(|e| DecodeError::json(&e))?;
    Ok(Patched {
        bytes,
        ignored: Vec::new(),
    })
}

/// RFC 7386: objects merge key by key, `null` deletes, anything else replaces.
pub(crate) fn merge_rfc7386(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match (v, target.get_mut(k)) {
            (Value::Null, _) => {
                target.remove(k);
            }
            (Value::Object(p), Some(Value::Object(t))) => merge_rfc7386(t, p),
            (Value::Object(p), _) => {
                let mut fresh = Map::new();
                merge_rfc7386(&mut fresh, p);
                target.insert(k.clone(), Value::Object(fresh));
            }
            (v, _) => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Strategic merge of `patch` into the map `target` at `path` (directives already checked),
/// lists merged as `rules` says.
pub(crate) fn merge_map(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &str,
    rules: Rules,
) -> Result<(), PatchError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("delete") => {
            target.clear();
            return Ok(());
        }
        Some(_) => {
            // `replace`: the patch, without its directives, is the new map.
            target.clear();
        }
        None => {}
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        target.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    let mut done: Vec<&str> = Vec::new();
    for (k, order) in patch {
        let Some(list) = k.strip_prefix("$setElementOrder/") else {
            continue;
        };
        let here = join(path, list);
        let original = take_list(target, list);
        let merged = match patch.get(list) {
            Some(Value::Array(p)) => merge_list(original.clone(), p, &here, rules)?,
            _ => original.clone(),
        };
        let key = match rules(&here) {
            ListRule::ByKey(key) => Some(key),
            _ => None,
        };
        let id = |v: &Value| match key {
            Some(key) => v.get(key).cloned(),
            None => Some(v.clone()),
        };
        let order = order_ids(order, key, &here)?;
        let server: Vec<Option<Value>> = original.iter().map(id).collect();
        let ordered = enforce_order(merged, id, &order, &server);
        target.insert(list.to_string(), Value::Array(ordered));
        done.push(list);
    }
    for (k, v) in patch {
        if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(gone)) = (target.get_mut(list), v) {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if k.starts_with('$') || done.contains(&k.as_str()) {
            continue;
        }
        let here = join(path, k);
        let merged = match (target.remove(k), v) {
            (_, Value::Null) => continue,
            (Some(Value::Object(mut t)), Value::Object(p)) => {
                merge_map(&mut t, p, &here, rules)?;
                Value::Object(t)
            }
            (Some(Value::Array(t)), Value::Array(p)) => {
                Value::Array(merge_list(t, p, &here, rules)?)
            }
            (_, v) => fresh(v, &here, rules)?,
        };
        target.insert(k.clone(), merged);
    }
    Ok(())
}

/// A patch value for a key the target lacks (or holds with another type): merged into nothing,
/// so its directives are applied rather than stored.
fn fresh(v: &Value, path: &str, rules: Rules) -> Result<Value, PatchError> {
    Ok(match v {
        Value::Object(p) => {
            let mut m = Map::new();
            merge_map(&mut m, p, path, rules)?;
            Value::Object(m)
        }
        Value::Array(p) => Value::Array(merge_list(Vec::new(), p, path, rules)?),
        v => v.clone(),
    })
}

fn take_list(target: &Map<String, Value>, key: &str) -> Vec<Value> {
    match target.get(key) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// Strategic merge of the list `patch` into `original` at `path`.
fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    path: &str,
    rules: Rules,
) -> Result<Vec<Value>, PatchError> {
    match rules(path) {
        ListRule::Replace => Ok(patch.to_vec()),
        ListRule::ByKey(key) => merge_keyed(
            original,
            patch,
            key,
            path,
            |v| v.get(key).cloned(),
            |old, p| {
                let mut m = match old {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                merge_map(&mut m, p, path, rules)?;
                Ok(Value::Object(m))
            },
        ),
        ListRule::Set => {
            let server: Vec<Option<Value>> = original.iter().cloned().map(Some).collect();
            let mut both = original;
            for p in patch {
                if !both.contains(p) {
                    both.push(p.clone());
                }
            }
            Ok(enforce_order(both, |v| Some(v.clone()), patch, &server))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn smp(node: Value, patch: Value) -> Value {
        let (Value::Object(mut n), Value::Object(p)) = (node, patch) else {
            panic!("objects");
        };
        merge_map(&mut n, &p, "", node_rule).expect("applies");
        Value::Object(n)
    }

    #[test]
    fn node_strategies_from_the_go_struct_tags() {
        let node = json!({"metadata": {"finalizers": ["a", "b"], "ownerReferences": [{"uid": "1", "name": "x"}]},
            "spec": {"podCIDRs": ["10.0.0.0/24"], "taints": [{"key": "k1", "effect": "NoSchedule"}]},
            "status": {"volumesAttached": [{"name": "v1"}]}});
        let got = smp(
            node,
            json!({"metadata": {"finalizers": ["c"], "ownerReferences": [{"uid": "1", "name": "y"}, {"uid": "2"}]},
            "spec": {"podCIDRs": ["fd00::/64"], "taints": [{"key": "k2", "effect": "NoExecute"}]},
            "status": {"volumesAttached": [{"name": "v2"}]}}),
        );
        // Sets: union, the patch's elements first (no $setElementOrder to say otherwise).
        assert_eq!(got["metadata"]["finalizers"], json!(["c", "a", "b"]));
        assert_eq!(
            got["metadata"]["ownerReferences"],
            json!([{"uid": "1", "name": "y"}, {"uid": "2"}])
        );
        assert_eq!(got["spec"]["podCIDRs"], json!(["fd00::/64", "10.0.0.0/24"]));
        // No patch strategy in k8s.io/api: replaced.
        assert_eq!(
            got["spec"]["taints"],
            json!([{"key": "k2", "effect": "NoExecute"}])
        );
        assert_eq!(got["status"]["volumesAttached"], json!([{"name": "v2"}]));
    }

    #[test]
    fn map_and_primitive_list_directives() {
        let node = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "1", "y": "2"},
            "finalizers": ["f1", "f2", "f3"]}, "spec": {"podCIDR": "p", "providerID": "q"}});
        let got = smp(
            node,
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"},
            "annotations": {"$patch": "delete"}, "$deleteFromPrimitiveList/finalizers": ["f2"],
            "$setElementOrder/finalizers": ["f3", "f1"]}, "spec": {"$retainKeys": ["podCIDR"], "podCIDR": "p2"}}),
        );
        assert_eq!(got["metadata"]["labels"], json!({"c": "3"}));
        assert_eq!(got["metadata"]["annotations"], json!({}));
        assert_eq!(got["metadata"]["finalizers"], json!(["f3", "f1"]));
        assert_eq!(got["spec"], json!({"podCIDR": "p2"}));
    }

    #[test]
    fn merge_patch_is_rfc_7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let p = json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1, "y": null}});
        if let (Value::Object(t), Value::Object(p)) = (&mut t, &p) {
            merge_rfc7386(t, p);
        }
        assert_eq!(
            t,
            json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}})
        );
    }
}
