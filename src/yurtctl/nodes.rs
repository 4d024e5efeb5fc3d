//! Reading and marking Node objects: readiness, addresses, the edge label and the autonomy
//! annotation, and the merge patches that set or remove them (removing an emptied map whole, so
//! a reverted node equals the original).

use serde_json::{json, Map, Value};

use super::plan::{AUTONOMY_ANNOTATION, EDGE_LABEL};

/// The node's name.
pub fn name(n: &Value) -> &str {
    n["metadata"]["name"].as_str().unwrap_or("")
}

/// Whether the node's Ready condition is True.
pub fn is_ready(n: &Value) -> bool {
    n["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// The node's first InternalIP.
pub fn internal_ip(n: &Value) -> Option<&str> {
    n["status"]["addresses"]
        .as_array()?
        .iter()
        .find(|a| a["type"] == "InternalIP")?["address"]
        .as_str()
}

/// Every InternalIP of the node, in order.
pub fn internal_ips(n: &Value) -> Vec<&str> {
    n["status"]["addresses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|a| a["type"] == "InternalIP")
                .filter_map(|a| a["address"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The value of the edge label, if set.
pub fn edge_label(n: &Value) -> Option<&str> {
    n["metadata"]["labels"][EDGE_LABEL].as_str()
}

/// The value of the autonomy annotation, if set.
pub fn autonomy(n: &Value) -> Option<&str> {
    n["metadata"]["annotations"][AUTONOMY_ANNOTATION].as_str()
}

/// The merge patch that marks a node edge (`true`) or cloud, and autonomous or not.
pub fn mark_patch(edge: bool, autonomous: bool) -> Value {
    let mut meta = json!({"labels": {EDGE_LABEL: edge.to_string()}});
    if autonomous {
        meta["annotations"] = json!({AUTONOMY_ANNOTATION: "true"});
    }
    json!({"metadata": meta})
}

/// A map patch removing `key` from `map`: the whole map (`null`) when nothing else is left.
fn remove_key(map: &Value, key: &str) -> Option<Value> {
    let m: &Map<String, Value> = map.as_object()?;
    if !m.contains_key(key) {
        return None;
    }
    if m.len() == 1 {
        return Some(Value::Null);
    }
    Some(json!({key: null}))
}

/// The merge patch that removes yurtctl's label and annotation; `None` if there is nothing to do.
pub fn unmark_patch(n: &Value) -> Option<Value> {
    let mut meta = Map::new();
    if let Some(p) = remove_key(&n["metadata"]["labels"], EDGE_LABEL) {
        meta.insert("labels".into(), p);
    }
    if let Some(p) = remove_key(&n["metadata"]["annotations"], AUTONOMY_ANNOTATION) {
        meta.insert("annotations".into(), p);
    }
    (!meta.is_empty()).then(|| json!({"metadata": meta}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmark_removes_emptied_maps_whole() {
        let n = json!({"metadata": {"labels": {"a": "1", EDGE_LABEL: "true"},
                                    "annotations": {AUTONOMY_ANNOTATION: "true"}}});
        assert_eq!(
            unmark_patch(&n),
            Some(json!({"metadata": {"labels": {EDGE_LABEL: null}, "annotations": null}}))
        );
        assert_eq!(
            unmark_patch(&json!({"metadata": {"labels": {"a": "1"}}})),
            None
        );
        let m = mark_patch(true, true);
        assert_eq!(m["metadata"]["labels"][EDGE_LABEL], "true");
        assert_eq!(
            mark_patch(false, false)["metadata"].get("annotations"),
            None
        );
    }
}
