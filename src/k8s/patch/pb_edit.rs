//! Protobuf messages changed without a schema: chosen fields get new encodings, every other
//! field is copied byte for byte; plus the few encoders the node patcher writes with.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::PatchError;
use crate::k8s::decode_error::DecodeError;
use crate::k8s::pb::wire::{fields, fields_with_bytes};
use crate::k8s::pb::write::{put_bytes, put_varint};
use crate::k8s::time::parse_rfc3339;

/// New encodings of some fields of one message: field number → every occurrence, encoded
/// (key, length, payload each); an empty encoding removes the field.
pub(super) type Edits = BTreeMap<u32, Vec<u8>>;

/// `msg` with each edited field's occurrences replaced by its new encoding, written where the
/// field first was (a field `msg` lacks: before the first field with a higher number, as
/// Kubernetes writes fields in number order). Every other field keeps its bytes.
pub(super) fn rewrite(msg: &[u8], edits: &Edits) -> Result<Vec<u8>, DecodeError> {
    let extra: usize = edits.values().map(Vec::len).sum();
    let mut out = Vec::with_capacity(msg.len() + extra);
    let mut written = BTreeSet::new();
    let mut pending = edits.iter().peekable();
    for f in fields_with_bytes(msg) {
        let (field, whole) = f?;
        while let Some((&n, enc)) = pending.next_if(|&(&n, _)| n < field.number) {
            if written.insert(n) {
                out.extend_from_slice(enc);
            }
        }
        match edits.get(&field.number) {
            Some(enc) if written.insert(field.number) => out.extend_from_slice(enc),
            Some(_) => {}
            None => out.extend_from_slice(whole),
        }
    }
    for (&n, enc) in pending {
        if written.insert(n) {
            out.extend_from_slice(enc);
        }
    }
    Ok(out)
}

/// The payloads of every occurrence of the message field `number`, concatenated: protobuf
/// merges repeated occurrences of a message field, and concatenation is that merge.
pub(super) fn message_field(msg: &[u8], number: u32) -> Result<Vec<u8>, DecodeError> {
    Ok(repeated(msg, number)?.concat())
}

/// The payloads of the repeated field `number`, in order.
pub(super) fn repeated(msg: &[u8], number: u32) -> Result<Vec<&[u8]>, DecodeError> {
    let mut out = Vec::new();
    for f in fields(msg) {
        let f = f?;
        if f.number == number {
            out.push(f.bytes()?);
        }
    }
    Ok(out)
}

/// The last string in field `number` of `msg` ("" when absent).
pub(super) fn string(msg: &[u8], number: u32) -> Result<&str, DecodeError> {
    let mut out = "";
    for f in fields(msg) {
        let f = f?;
        if f.number == number {
            out = f.str()?;
        }
    }
    Ok(out)
}

/// One length-delimited field, encoded.
pub(super) fn field(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 6);
    put_bytes(&mut out, number, payload);
    out
}

/// A `metav1.Time` payload as kube-apiserver writes it: empty for the zero time, else seconds
/// and nanos (both written, nanos 0).
pub(super) fn time(seconds: Option<i64>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(s) = seconds {
        put_varint(&mut out, 1 << 3);
        put_varint(&mut out, s as u64);
        put_varint(&mut out, 2 << 3);
        put_varint(&mut out, 0);
    }
    out
}

/// An `int64` field, encoded.
pub(super) fn int64(number: u32, v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, u64::from(number) << 3);
    put_varint(&mut out, v as u64);
    out
}

/// A patch value for a string field: a string, or `null` for the empty string.
pub(super) fn patch_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, PatchError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Null => Ok(""),
        v => Err(PatchError::bad(format!(
            "{path}: expected a string, got {v}"
        ))),
    }
}

/// A patch value for a time field: an RFC 3339 UTC time, or `null` for the zero time.
pub(super) fn patch_time(v: &Value, path: &str) -> Result<Option<i64>, PatchError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| PatchError::bad(format!("{path}: {s:?} is not an RFC 3339 UTC time"))),
        v => Err(PatchError::bad(format!("{path}: expected a time, got {v}"))),
    }
}

/// A `map<string, V>` field merged with a patch object key by key (`null` deletes a key, a
/// `null` patch empties the map; strategic `$patch: replace|delete` and `$retainKeys` too).
/// `value` encodes one patch value as the entry's value payload. Entries come out sorted by
/// key, as Kubernetes writes them.
pub(super) fn merge_map_field(
    msg: &[u8],
    number: u32,
    patch: &Value,
    strategic: bool,
    path: &str,
    value: impl Fn(&Value, &str) -> Result<Vec<u8>, PatchError>,
) -> Result<Vec<u8>, PatchError> {
    let mut map = BTreeMap::new();
    for entry in repeated(msg, number)? {
        let key = string(entry, 1)?.to_string();
        map.insert(key, entry_value(entry)?);
    }
    match patch {
        Value::Null => map.clear(),
        Value::Object(p) => merge_entries(&mut map, p, strategic, path, value)?,
        v => {
            return Err(PatchError::bad(format!(
                "{path}: expected an object, got {v}"
            )))
        }
    }
    let mut out = Vec::new();
    for (k, v) in &map {
        let mut entry = field(1, k.as_bytes());
        put_bytes(&mut entry, 2, v);
        put_bytes(&mut out, number, &entry);
    }
    Ok(out)
}

fn merge_entries(
    map: &mut BTreeMap<String, Vec<u8>>,
    p: &Map<String, Value>,
    strategic: bool,
    path: &str,
    value: impl Fn(&Value, &str) -> Result<Vec<u8>, PatchError>,
) -> Result<(), PatchError> {
    if strategic {
        match p.get("$patch").and_then(Value::as_str) {
            Some("delete") => {
                map.clear();
                return Ok(());
            }
            Some(_) => map.clear(),
            None => {}
        }
        if let Some(Value::Array(keep)) = p.get("$retainKeys") {
            map.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
        }
    }
    for (k, v) in p {
        if strategic && k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                map.remove(k);
            }
            v => {
                map.insert(k.clone(), value(v, &super::join(path, k))?);
            }
        }
    }
    Ok(())
}

/// A map entry's value payload (field 2), whatever its type; empty when absent.
fn entry_value(entry: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    for f in fields(entry) {
        let f = f?;
        if f.number == 2 {
            out = f.bytes()?.to_vec();
        }
    }
    Ok(out)
}
