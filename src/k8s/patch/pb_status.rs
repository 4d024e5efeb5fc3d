//! A patch applied to a protobuf NodeStatus (k8s.io/api core/v1 `generated.proto`):
//! capacity=1, allocatable=2, phase=3, conditions=4, addresses=5, nodeInfo=7, images=8,
//! volumesInUse=9. Other fields keep their bytes.

use serde_json::{Map, Value};

use super::lists::{enforce_order, merge_keyed, order_ids};
use super::pb_edit::{
    field, int64, merge_map_field, message_field, patch_str, patch_time, repeated, rewrite, string,
    time, Edits,
};
use super::pb_node::object;
use super::{join, PatchError};
use crate::k8s::pb::write::put_bytes;

/// How a patch value becomes a field of a small message.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Time,
}

/// A message the patcher knows field by field: (JSON name, field number, kind), in number
/// order, and its merge key when it is an element of a keyed list.
struct Known {
    fields: &'static [(&'static str, u32, Kind)],
    key: &'static str,
}

/// NodeCondition: type=1, status=2, lastHeartbeatTime=3, lastTransitionTime=4, reason=5,
/// message=6.
const CONDITION: Known = Known {
    fields: &[
        ("type", 1, Kind::Str),
        ("status", 2, Kind::Str),
        ("lastHeartbeatTime", 3, Kind::Time),
        ("lastTransitionTime", 4, Kind::Time),
        ("reason", 5, Kind::Str),
        ("message", 6, Kind::Str),
    ],
    key: "type",
};

/// NodeAddress: type=1, address=2.
const ADDRESS: Known = Known {
    fields: &[("type", 1, Kind::Str), ("address", 2, Kind::Str)],
    key: "type",
};

/// NodeSystemInfo's strings (swap=11, a message, is not patched).
const NODE_INFO: Known = Known {
    fields: &[
        ("machineID", 1, Kind::Str),
        ("systemUUID", 2, Kind::Str),
        ("bootID", 3, Kind::Str),
        ("kernelVersion", 4, Kind::Str),
        ("osImage", 5, Kind::Str),
        ("containerRuntimeVersion", 6, Kind::Str),
        ("kubeletVersion", 7, Kind::Str),
        ("kubeProxyVersion", 8, Kind::Str),
        ("operatingSystem", 9, Kind::Str),
        ("architecture", 10, Kind::Str),
    ],
    key: "",
};

/// NodeStatus with the patch applied; `None` when the patch changes nothing here.
pub(super) fn apply(
    status: &[u8],
    patch: &Map<String, Value>,
    strategic: bool,
    ignored: &mut Vec<String>,
) -> Result<Option<Vec<u8>>, PatchError> {
    let mut edits = Edits::new();
    for (k, v) in patch {
        let path = join("status", k);
        let (number, enc) = match k.as_str() {
            "capacity" | "allocatable" => {
                let n = if k == "capacity" { 1 } else { 2 };
                (
                    n,
                    merge_map_field(status, n, v, strategic, &path, quantity)?,
                )
            }
            "phase" => (3, field(3, patch_str(v, &path)?.as_bytes())),
            "conditions" | "addresses" => {
                let n = keyed_list_number(k);
                let order = strategic
                    .then(|| patch.get(&format!("$setElementOrder/{k}")))
                    .flatten();
                (
                    n,
                    keyed(status, n, Some(v), order, strategic, &path, ignored)?,
                )
            }
            "nodeInfo" => match object(v, &path, ignored)? {
                Some(m) => {
                    let info = message_field(status, 7)?;
                    (
                        7,
                        field(7, &merge_known(&info, m, &NODE_INFO, &path, ignored)?),
                    )
                }
                None => continue,
            },
            "images" => (8, images(v, &path)?),
            "volumesInUse" => (9, strings(9, v, &path)?),
            d if strategic && d.starts_with("$setElementOrder/") => {
                let name = d.trim_start_matches("$setElementOrder/");
                match keyed_list_number(name) {
                    // With the list in the patch, the list's own arm orders it.
                    n if n != 0 && !patch.contains_key(name) => {
                        let p = join("status", name);
                        (n, keyed(status, n, None, Some(v), true, &p, ignored)?)
                    }
                    0 => {
                        ignored.push(path);
                        continue;
                    }
                    _ => continue,
                }
            }
            _ => {
                ignored.push(path);
                continue;
            }
        };
        edits.insert(number, enc);
    }
    if edits.is_empty() {
        return Ok(None);
    }
    Ok(Some(rewrite(status, &edits)?))
}

/// NodeStatus's field number of a keyed list, 0 for others.
fn keyed_list_number(name: &str) -> u32 {
    match name {
        "conditions" => 4,
        "addresses" => 5,
        _ => 0,
    }
}

fn known(number: u32) -> &'static Known {
    if number == 4 {
        &CONDITION
    } else {
        &ADDRESS
    }
}

/// The keyed list in field `number` merged with `patch` (strategic) or replaced by it (merge
/// patch), then put in `$setElementOrder`'s order; every element encoded as field `number`.
fn keyed(
    status: &[u8],
    number: u32,
    patch: Option<&Value>,
    order: Option<&Value>,
    strategic: bool,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<Vec<u8>, PatchError> {
    let desc = known(number);
    let mut original = Vec::new();
    for item in repeated(status, number)? {
        original.push((Some(Value::from(string(item, 1)?)), item.to_vec()));
    }
    let id = |t: &(Option<Value>, Vec<u8>)| t.0.clone();
    let server: Vec<Option<Value>> = original.iter().map(id).collect();
    let mut merge = |old: Option<(Option<Value>, Vec<u8>)>,
                     p: &Map<String, Value>|
     -> Result<(Option<Value>, Vec<u8>), PatchError> {
        let base = old.map_or_else(|| empty(desc), |o| o.1);
        let bytes = merge_known(&base, p, desc, path, ignored)?;
        Ok((Some(Value::from(string(&bytes, 1)?)), bytes))
    };
    let items = match patch {
        None => original,
        Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) if strategic => merge_keyed(original, p, desc.key, path, id, merge)?,
        Some(Value::Array(p)) => {
            let mut out = Vec::with_capacity(p.len());
            for element in p {
                let Value::Object(m) = element else {
                    return Err(PatchError::bad(format!(
                        "{path}: expected objects, got {element}"
                    )));
                };
                out.push(merge(None, m)?);
            }
            out
        }
        Some(v) => return Err(PatchError::bad(format!("{path}: expected a list, got {v}"))),
    };
    let items = match order {
        Some(o) => enforce_order(items, id, &order_ids(o, Some(desc.key), path)?, &server),
        None => items,
    };
    let mut out = Vec::new();
    for (_, bytes) in items {
        put_bytes(&mut out, number, &bytes);
    }
    Ok(out)
}

/// The message as kube-apiserver writes a zero value of it: every field present and empty.
fn empty(desc: &Known) -> Vec<u8> {
    let mut out = Vec::new();
    for &(_, n, _) in desc.fields {
        put_bytes(&mut out, n, b"");
    }
    out
}

/// `msg` with the patch's known fields rewritten; other patch keys are reported in `ignored`.
fn merge_known(
    msg: &[u8],
    patch: &Map<String, Value>,
    desc: &Known,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<Vec<u8>, PatchError> {
    let mut edits = Edits::new();
    for (k, v) in patch {
        let here = join(path, k);
        let Some(&(_, n, kind)) = desc.fields.iter().find(|(name, _, _)| *name == k.as_str())
        else {
            ignored.push(here);
            continue;
        };
        let payload = match kind {
            Kind::Str => patch_str(v, &here)?.as_bytes().to_vec(),
            Kind::Time => time(patch_time(v, &here)?),
        };
        edits.insert(n, field(n, &payload));
    }
    Ok(rewrite(msg, &edits)?)
}

/// A Quantity (`{string=1}`) from a patch value: a string, or a JSON number as written.
fn quantity(v: &Value, path: &str) -> Result<Vec<u8>, PatchError> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        v => {
            return Err(PatchError::bad(format!(
                "{path}: expected a quantity, got {v}"
            )))
        }
    };
    Ok(field(1, s.as_bytes()))
}

/// A replaced list of strings, encoded as field `number` each (`null`: none).
fn strings(number: u32, v: &Value, path: &str) -> Result<Vec<u8>, PatchError> {
    let mut out = Vec::new();
    for s in list(v, path)? {
        let s = s
            .as_str()
            .ok_or_else(|| PatchError::bad(format!("{path}: expected strings, got {s}")))?;
        put_bytes(&mut out, number, s.as_bytes());
    }
    Ok(out)
}

/// The replaced `images` (ContainerImage: names=1 repeated, sizeBytes=2), encoded as field 8.
fn images(v: &Value, path: &str) -> Result<Vec<u8>, PatchError> {
    let mut out = Vec::new();
    for image in list(v, path)? {
        if !image.is_object() {
            return Err(PatchError::bad(format!(
                "{path}: expected objects, got {image}"
            )));
        }
        let names = image.get("names").unwrap_or(&Value::Null);
        let mut msg = strings(1, names, &join(path, "names"))?;
        let size = match image.get("sizeBytes") {
            None | Some(Value::Null) => 0,
            Some(s) => s.as_i64().ok_or_else(|| {
                PatchError::bad(format!("{path}.sizeBytes: expected an integer, got {s}"))
            })?,
        };
        msg.extend(int64(2, size));
        put_bytes(&mut out, 8, &msg);
    }
    Ok(out)
}

/// The elements of a list patch value (`null`: none).
fn list<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], PatchError> {
    match v {
        Value::Null => Ok(&[]),
        Value::Array(items) => Ok(items),
        v => Err(PatchError::bad(format!("{path}: expected a list, got {v}"))),
    }
}
