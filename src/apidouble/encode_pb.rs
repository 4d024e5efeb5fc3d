//! Kubernetes protobuf encoding: the `k8s\0` runtime.Unknown envelope, ObjectMeta and ListMeta from
//! JSON, lists, Status, TokenRequest and length-framed watch events.
//!
//! Like gogo-protobuf as Kubernetes generates it, non-pointer strings and integers are written even
//! when empty or zero, and map entries come sorted by key. Fields other than metadata come from the
//! kind's API fixture (see the module docs of `apidouble`).

use serde_json::Value;

use super::errors::Status;
use super::meta::parse_rfc3339;
use super::resources::Resource;

/// The 4-byte prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// A length-delimited field (string, bytes or message).
pub fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A varint field (int64 and bool as Go writes them; negative numbers as 10-byte two's complement).
pub fn int_field(out: &mut Vec<u8>, field: u32, v: i64) {
    tag(out, field, 0);
    varint(out, v as u64);
}

fn str_at<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `metav1.Time{seconds=1, nanos=2}`; the zero time is an empty message.
fn time(t: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(secs) = t.and_then(parse_rfc3339) {
        int_field(&mut out, 1, secs);
        int_field(&mut out, 2, 0);
    }
    out
}

fn string_map(out: &mut Vec<u8>, field: u32, m: Option<&Value>) {
    let Some(Value::Object(m)) = m else { return };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        let mut entry = Vec::new();
        bytes_field(&mut entry, 1, k.as_bytes());
        bytes_field(
            &mut entry,
            2,
            m.get(k).and_then(Value::as_str).unwrap_or("").as_bytes(),
        );
        bytes_field(out, field, &entry);
    }
}

fn owner_reference(o: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    bytes_field(&mut out, 1, str_at(o, "kind").as_bytes());
    bytes_field(&mut out, 3, str_at(o, "name").as_bytes());
    bytes_field(&mut out, 4, str_at(o, "uid").as_bytes());
    bytes_field(&mut out, 5, str_at(o, "apiVersion").as_bytes());
    for (field, k) in [(6, "controller"), (7, "blockOwnerDeletion")] {
        if let Some(b) = o.get(k).and_then(Value::as_bool) {
            int_field(&mut out, field, i64::from(b));
        }
    }
    out
}

/// `metav1.ObjectMeta` from the JSON `metadata` (managedFields are left out).
pub fn object_meta(m: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for (field, k) in [
        (1, "name"),
        (2, "generateName"),
        (3, "namespace"),
        (4, "selfLink"),
        (5, "uid"),
        (6, "resourceVersion"),
    ] {
        bytes_field(&mut out, field, str_at(m, k).as_bytes());
    }
    int_field(
        &mut out,
        7,
        m.get("generation").and_then(Value::as_i64).unwrap_or(0),
    );
    bytes_field(
        &mut out,
        8,
        &time(m.get("creationTimestamp").and_then(Value::as_str)),
    );
    if let Some(t) = m.get("deletionTimestamp").and_then(Value::as_str) {
        bytes_field(&mut out, 9, &time(Some(t)));
    }
    if let Some(g) = m.get("deletionGracePeriodSeconds").and_then(Value::as_i64) {
        int_field(&mut out, 10, g);
    }
    string_map(&mut out, 11, m.get("labels"));
    string_map(&mut out, 12, m.get("annotations"));
    for o in m
        .get("ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        bytes_field(&mut out, 13, &owner_reference(o));
    }
    for f in m
        .get("finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        bytes_field(&mut out, 14, f.as_str().unwrap_or("").as_bytes());
    }
    out
}

/// `metav1.ListMeta{selfLink=1, resourceVersion=2, continue=3, remainingItemCount=4}`.
pub fn list_meta(rv: &str, cont: &str, remaining: Option<i64>) -> Vec<u8> {
    let mut out = Vec::new();
    bytes_field(&mut out, 1, b"");
    bytes_field(&mut out, 2, rv.as_bytes());
    bytes_field(&mut out, 3, cont.as_bytes());
    if let Some(r) = remaining {
        int_field(&mut out, 4, r);
    }
    out
}

/// Reads one varint; `None` when truncated or too long.
pub fn read_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// One field of a message: number, its raw bytes including the tag, and its payload.
pub type Field<'a> = (u32, &'a [u8], &'a [u8]);

/// Splits a message into its fields; `None` if malformed.
pub fn fields(b: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let start = pos;
        let key = read_varint(b, &mut pos)?;
        let payload = match key & 7 {
            0 => {
                let s = pos;
                read_varint(b, &mut pos)?;
                b.get(s..pos)?
            }
            1 => {
                pos += 8;
                b.get(pos - 8..pos)?
            }
            2 => {
                let len = usize::try_from(read_varint(b, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                let p = b.get(pos..end)?;
                pos = end;
                p
            }
            5 => {
                pos += 4;
                b.get(pos - 4..pos)?
            }
            _ => return None,
        };
        out.push((u32::try_from(key >> 3).ok()?, b.get(start..pos)?, payload));
    }
    Some(out)
}

/// The object message inside a `k8s\0` envelope (`Unknown.raw`).
pub fn unwrap_envelope(b: &[u8]) -> Option<&[u8]> {
    let body = b.strip_prefix(MAGIC)?;
    fields(body)?.into_iter().find(|f| f.0 == 2).map(|f| f.2)
}

/// The kind's fixture object with its metadata (field 1) removed: stand-in spec and status.
pub fn fixture_rest(res: &Resource) -> Vec<u8> {
    let Some(raw) = unwrap_envelope(res.fixture_pb) else {
        return Vec::new();
    };
    let Some(fs) = fields(raw) else {
        return Vec::new();
    };
    fs.into_iter()
        .filter(|f| f.0 != 1)
        .flat_map(|f| f.1.iter().copied())
        .collect()
}

/// The object message: live ObjectMeta, then the fixture's other fields.
pub fn object(res: &Resource, obj: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    bytes_field(
        &mut out,
        1,
        &object_meta(obj.get("metadata").unwrap_or(&Value::Null)),
    );
    out.extend_from_slice(&fixture_rest(res));
    out
}

/// `k8s\0` + runtime.Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding "", contentType ""}.
pub fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut tm = Vec::new();
    bytes_field(&mut tm, 1, api_version.as_bytes());
    bytes_field(&mut tm, 2, kind.as_bytes());
    let mut out = MAGIC.to_vec();
    bytes_field(&mut out, 1, &tm);
    bytes_field(&mut out, 2, raw);
    bytes_field(&mut out, 3, b"");
    bytes_field(&mut out, 4, b"");
    out
}

/// A whole object answer.
pub fn object_envelope(res: &Resource, obj: &Value) -> Vec<u8> {
    envelope(&res.api_version(), res.kind, &object(res, obj))
}

/// A whole list answer: `{metadata=1 ListMeta, items=2...}` in an envelope of kind `<Kind>List`.
pub fn list_envelope(
    res: &Resource,
    items: &[&Value],
    rv: &str,
    cont: &str,
    remaining: Option<i64>,
) -> Vec<u8> {
    let mut raw = Vec::new();
    bytes_field(&mut raw, 1, &list_meta(rv, cont, remaining));
    let rest = fixture_rest(res);
    for item in items {
        let mut m = Vec::new();
        bytes_field(
            &mut m,
            1,
            &object_meta(item.get("metadata").unwrap_or(&Value::Null)),
        );
        m.extend_from_slice(&rest);
        bytes_field(&mut raw, 2, &m);
    }
    envelope(&res.api_version(), &format!("{}List", res.kind), &raw)
}

/// A Status answer.
pub fn status_envelope(s: &Status) -> Vec<u8> {
    let mut raw = Vec::new();
    bytes_field(&mut raw, 1, &list_meta("", "", None));
    bytes_field(&mut raw, 2, s.status.as_bytes());
    bytes_field(&mut raw, 3, s.message.as_bytes());
    bytes_field(&mut raw, 4, s.reason.as_bytes());
    if let Some(d) = &s.details {
        let mut dm = Vec::new();
        bytes_field(&mut dm, 1, d.name.as_bytes());
        bytes_field(&mut dm, 2, d.group.as_bytes());
        bytes_field(&mut dm, 3, d.kind.as_bytes());
        for c in &d.causes {
            let mut cm = Vec::new();
            bytes_field(&mut cm, 1, c.reason.as_bytes());
            bytes_field(&mut cm, 2, c.message.as_bytes());
            bytes_field(&mut cm, 3, c.field.as_deref().unwrap_or("").as_bytes());
            bytes_field(&mut dm, 4, &cm);
        }
        int_field(&mut dm, 5, i64::from(d.retry_after_seconds.unwrap_or(0)));
        bytes_field(&mut dm, 6, b"");
        bytes_field(&mut raw, 5, &dm);
    }
    int_field(&mut raw, 6, i64::from(s.code));
    envelope("v1", "Status", &raw)
}

/// An `authentication.k8s.io/v1` TokenRequest, fully encoded (spec and status are live).
pub fn token_request_envelope(tr: &Value) -> Vec<u8> {
    let spec = tr.get("spec").unwrap_or(&Value::Null);
    let mut sm = Vec::new();
    for a in spec
        .get("audiences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        bytes_field(&mut sm, 1, a.as_str().unwrap_or("").as_bytes());
    }
    if let Some(b) = spec.get("boundObjectRef").filter(|b| b.is_object()) {
        let mut bm = Vec::new();
        for (f, k) in [(1, "kind"), (2, "apiVersion"), (3, "name"), (4, "uid")] {
            bytes_field(&mut bm, f, str_at(b, k).as_bytes());
        }
        bytes_field(&mut sm, 3, &bm);
    }
    if let Some(e) = spec.get("expirationSeconds").and_then(Value::as_i64) {
        int_field(&mut sm, 4, e);
    }
    let status = tr.get("status").unwrap_or(&Value::Null);
    let mut st = Vec::new();
    bytes_field(&mut st, 1, str_at(status, "token").as_bytes());
    bytes_field(
        &mut st,
        2,
        &time(status.get("expirationTimestamp").and_then(Value::as_str)),
    );
    let mut raw = Vec::new();
    bytes_field(
        &mut raw,
        1,
        &object_meta(tr.get("metadata").unwrap_or(&Value::Null)),
    );
    bytes_field(&mut raw, 2, &sm);
    bytes_field(&mut raw, 3, &st);
    envelope("authentication.k8s.io/v1", "TokenRequest", &raw)
}

/// One watch frame: 4-byte big-endian length + WatchEvent{type=1, object=2 RawExtension{raw=1}}.
pub fn watch_frame(event_type: &str, enveloped: &[u8]) -> Vec<u8> {
    let mut ext = Vec::new();
    bytes_field(&mut ext, 1, enveloped);
    let mut ev = Vec::new();
    bytes_field(&mut ev, 1, event_type.as_bytes());
    bytes_field(&mut ev, 2, &ext);
    let mut out = (ev.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&ev);
    out
}

#[cfg(test)]
#[path = "encode_pb_tests.rs"]
mod tests;
