//! How a strategic merge patch merges a list whose elements have a merge key, and the order it
//! leaves merged lists in; shared by the JSON and the protobuf appliers.
//!
//! The rules are apimachinery's (`strategicpatch`, read for facts): `$patch: delete` elements
//! remove the original elements with their key, `$patch: replace` makes the list the patch's
//! other elements, every other element merges into the original one with its key or is added.
//! Then the order: the patch's elements in the patch's (or `$setElementOrder`'s) order, the
//! original's other elements kept where the original had them relative to those.

use serde_json::{Map, Value};

use super::PatchError;

/// The patch's elements of a keyed list, split by what they ask.
struct Split<'p> {
    deletes: Vec<Value>,
    replace: bool,
    merges: Vec<(Value, &'p Map<String, Value>)>,
}

fn split<'p>(patch: &'p [Value], key: &str, path: &str) -> Result<Split<'p>, PatchError> {
    let mut out = Split {
        deletes: Vec::new(),
        replace: false,
        merges: Vec::new(),
    };
    for element in patch {
        let Value::Object(m) = element else {
            return Err(PatchError::bad(format!(
                "{path}: a list merged by {key:?} takes objects, got {element}"
            )));
        };
        let id = m.get(key).filter(|v| !v.is_null()).cloned();
        match (m.get("$patch"), id) {
            (None, Some(id)) => out.merges.push((id, m)),
            (None, None) => {
                return Err(PatchError::bad(format!(
                    "{path}: element {element} has no merge key {key:?}"
                )))
            }
            (Some(d), id) => match (d.as_str(), id) {
                (Some("delete"), Some(id)) => out.deletes.push(id),
                (Some("delete"), None) => {
                    return Err(PatchError::bad(format!(
                        "{path}: $patch: delete without the merge key {key:?}"
                    )))
                }
                (Some("replace"), _) => out.replace = true,
                _ => {
                    return Err(PatchError::bad(format!(
                        "{path}: $patch {d} is not allowed in a list element"
                    )))
                }
            },
        }
    }
    Ok(out)
}

/// Merges `patch` (a keyed list's patch value) into `original`, by the merge key `key`.
///
/// `id` reads an original element's key; `merge` merges one patch element into an original
/// element (`Some`) or makes a new one from it (`None`).
pub(crate) fn merge_keyed<T>(
    original: Vec<T>,
    patch: &[Value],
    key: &str,
    path: &str,
    id: impl Fn(&T) -> Option<Value>,
    mut merge: impl FnMut(Option<T>, &Map<String, Value>) -> Result<T, PatchError>,
) -> Result<Vec<T>, PatchError> {
    let s = split(patch, key, path)?;
    let server_order: Vec<Option<Value>> = original.iter().map(&id).collect();
    let mut merged: Vec<T> = if s.replace {
        Vec::new()
    } else {
        original
            .into_iter()
            .filter(|o| id(o).is_none_or(|i| !s.deletes.contains(&i)))
            .collect()
    };
    for (want, m) in &s.merges {
        match merged.iter().position(|o| id(o).as_ref() == Some(want)) {
            Some(i) => {
                let old = merged.remove(i);
                merged.insert(i, merge(Some(old), m)?);
            }
            None => merged.push(merge(None, m)?),
        }
    }
    let patch_order: Vec<Value> = s.merges.into_iter().map(|(i, _)| i).collect();
    Ok(enforce_order(merged, id, &patch_order, &server_order))
}

/// The ids of a `$setElementOrder/<list>` value: the merge key of each element, or each
/// primitive itself (`key` `None`).
pub(crate) fn order_ids(
    order: &Value,
    key: Option<&str>,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let Value::Array(items) = order else {
        return Err(PatchError::bad(format!(
            "{path}: $setElementOrder takes a list, got {order}"
        )));
    };
    items
        .iter()
        .map(|i| match key {
            None => Ok(i.clone()),
            Some(k) => i.get(k).cloned().ok_or_else(|| {
                PatchError::bad(format!(
                    "{path}: $setElementOrder element {i} has no merge key {k:?}"
                ))
            }),
        })
        .collect()
}

/// Puts `items` in strategic merge patch's order: the elements named in `patch_order` in that
/// order, the others in `server_order`'s order, an other element placed before a named one only
/// when both are in `server_order` and it came first there (apimachinery's
/// `normalizeElementOrder`).
pub(crate) fn enforce_order<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> Option<Value>,
    patch_order: &[Value],
    server_order: &[Option<Value>],
) -> Vec<T> {
    let pos_in = |list: &[Value], v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| list.iter().position(|x| x == v))
            .unwrap_or(usize::MAX)
    };
    let server_pos = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| server_order.iter().position(|x| x.as_ref() == Some(v)))
    };
    let (mut named, mut others): (Vec<_>, Vec<_>) = items
        .into_iter()
        .map(|t| (id(&t), t))
        .partition(|(i, _)| pos_in(patch_order, i) != usize::MAX);
    named.sort_by_key(|(i, _)| pos_in(patch_order, i));
    others.sort_by_key(|(i, _)| server_pos(i).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(named.len() + others.len());
    let (mut named, mut others) = (named.into_iter().peekable(), others.into_iter().peekable());
    loop {
        let other_first = match (others.peek(), named.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((o, _)), Some((n, _))) => {
                matches!((server_pos(o), server_pos(n)), (Some(a), Some(b)) if a < b)
            }
        };
        let next = if other_first {
            others.next()
        } else {
            named.next()
        };
        out.extend(next.map(|(_, t)| t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(v: &[Value]) -> Vec<&str> {
        v.iter().filter_map(|c| c["type"].as_str()).collect()
    }

    fn merge_conditions(original: Value, patch: Value) -> Result<Vec<Value>, PatchError> {
        let original = original.as_array().cloned().unwrap_or_default();
        let patch = patch.as_array().cloned().unwrap_or_default();
        merge_keyed(
            original,
            &patch,
            "type",
            "status.conditions",
            |v| v.get("type").cloned(),
            |old, p| {
                let mut m = old.and_then(|o| o.as_object().cloned()).unwrap_or_default();
                m.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(Value::Object(m))
            },
        )
    }

    #[test]
    fn merges_by_key_deletes_and_appends() {
        let got = merge_conditions(
            json!([{"type": "A", "status": "1"}, {"type": "B"}, {"type": "C"}]),
            json!([{"type": "A", "status": "2"}, {"type": "B", "$patch": "delete"}, {"type": "D"}]),
        )
        .expect("merges");
        // New elements go before those only the original had.
        assert_eq!(ids(&got), ["A", "D", "C"]);
        assert_eq!(got[0]["status"], "2");
        let replaced = merge_conditions(
            json!([{"type": "A"}, {"type": "B"}]),
            json!([{"$patch": "replace"}, {"type": "Z"}]),
        )
        .expect("replace");
        assert_eq!(ids(&replaced), ["Z"]);
    }

    #[test]
    fn refuses_elements_it_cannot_place() {
        for bad in [
            json!([{"status": "True"}]),
            json!(["Ready"]),
            json!([{"$patch": "delete"}]),
            json!([{"type": "A", "$patch": "merge"}]),
        ] {
            let err = merge_conditions(json!([{"type": "A"}]), bad.clone());
            assert!(matches!(err, Err(PatchError::BadPatch(_))), "{bad}");
        }
    }

    #[test]
    fn order_keeps_server_elements_where_they_were() {
        // Server [a b c d], the patch names [d b]: a and c stay ahead of d (they were).
        let items: Vec<Value> = ["a", "b", "c", "d"].iter().map(|s| json!(s)).collect();
        let server: Vec<Option<Value>> = items.iter().cloned().map(Some).collect();
        let got = enforce_order(
            items,
            |v| Some(v.clone()),
            &[json!("d"), json!("b")],
            &server,
        );
        assert_eq!(got, [json!("a"), json!("c"), json!("d"), json!("b")]);
        // Server [d a b], the patch names [b d]: a is compared with the next named one (b) only.
        let items: Vec<Value> = ["d", "a", "b"].iter().map(|s| json!(s)).collect();
        let server: Vec<Option<Value>> = items.iter().cloned().map(Some).collect();
        let got = enforce_order(
            items,
            |v| Some(v.clone()),
            &[json!("b"), json!("d")],
            &server,
        );
        assert_eq!(got, [json!("a"), json!("b"), json!("d")]);
        // New elements (not on the server) come before the server's others.
        let got = enforce_order(
            vec![json!("x"), json!("n")],
            |v| Some(v.clone()),
            &[json!("n")],
            &[Some(json!("x"))],
        );
        assert_eq!(got, [json!("n"), json!("x")]);
    }
}
