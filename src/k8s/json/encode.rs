//! JSON bodies the hub writes itself when offline: Lists, watch lines, bookmarks.

use serde::Deserialize;

use super::meta::Str;
use crate::k8s::decode_error::DecodeError;
use crate::k8s::watch::{EventType, INITIAL_EVENTS_END};

/// Appends `s` as a JSON string literal.
fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// Appends `"kind":K,"apiVersion":V` (no braces).
fn put_type_meta(out: &mut Vec<u8>, api_version: &str, kind: &str) {
    out.extend_from_slice(b"\"kind\":");
    put_str(out, kind);
    out.extend_from_slice(b",\"apiVersion\":");
    put_str(out, api_version);
}

/// A List body in kube-apiserver's compact shape, newline-terminated as its encoder writes it:
/// `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"72"},"items":[…]}`.
///
/// `items` are JSON objects inserted verbatim (e.g. [`super::JsonList::items`] `.get()` bytes).
pub fn encode_list_json(
    api_version: &str,
    kind: &str,
    resource_version: &str,
    items: &[&[u8]],
) -> Vec<u8> {
    let (mut out, tail) = list_json_frame(api_version, kind, resource_version);
    out.reserve(items.iter().map(|i| i.len() + 1).sum::<usize>() + tail.len());
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(&tail);
    out
}

/// A List body in pieces, for answers written as they are read: `head`, the items separated by
/// `,`, then `tail` is exactly [`encode_list_json`].
pub fn list_json_frame(
    api_version: &str,
    kind: &str,
    resource_version: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut head = Vec::with_capacity(96);
    head.push(b'{');
    put_type_meta(&mut head, api_version, kind);
    head.extend_from_slice(b",\"metadata\":{\"resourceVersion\":");
    put_str(&mut head, resource_version);
    head.extend_from_slice(b"},\"items\":[");
    (head, b"]}\n".to_vec())
}

/// One watch line `{"type":T,"object":O}\n`. Line breaks in `object` (a pretty-printed List
/// item, as kube-apiserver sends to curl) are removed first so the line framing holds.
pub fn encode_watch_line(event_type: EventType, object: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":");
    put_str(&mut out, event_type.as_str());
    out.extend_from_slice(b",\"object\":");
    if object.iter().any(|&b| b == b'\n' || b == b'\r') {
        out.extend_from_slice(&compact(object));
    } else {
        out.extend_from_slice(object);
    }
    out.extend_from_slice(b"}\n");
    out
}

/// A whole BOOKMARK watch line, as in watchlist captures:
/// `{"type":"BOOKMARK","object":{"kind":K,"apiVersion":V,"metadata":{"resourceVersion":RV,
/// "annotations":{"k8s.io/initial-events-end":"true"}}}}` + newline. kube-apiserver also writes
/// the kind's empty `spec`/`status` (e.g. `"spec":{"containers":null}` for Pods); they carry
/// nothing and need a schema, so they are left out.
pub fn bookmark_json(api_version: &str, kind: &str, rv: &str, initial_events_end: bool) -> Vec<u8> {
    let mut object = Vec::with_capacity(128);
    object.push(b'{');
    put_type_meta(&mut object, api_version, kind);
    object.extend_from_slice(b",\"metadata\":{\"resourceVersion\":");
    put_str(&mut object, rv);
    if initial_events_end {
        object.extend_from_slice(b",\"annotations\":{");
        put_str(&mut object, INITIAL_EVENTS_END);
        object.extend_from_slice(b":\"true\"}");
    }
    object.extend_from_slice(b"}}");
    encode_watch_line(EventType::Bookmark, &object)
}

/// Removes whitespace outside strings. Valid JSON in, the same JSON without line breaks out;
/// other input gives unspecified bytes, never a panic.
pub fn compact(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            in_string = escaped || b != b'"';
            escaped = !escaped && b == b'\\';
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            continue;
        }
        out.push(b);
    }
    out
}

#[derive(Deserialize)]
struct TypeMeta<'a> {
    #[serde(borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default, rename = "apiVersion")]
    api_version: Option<Str<'a>>,
}

/// `object` with `"kind"` and `"apiVersion"` put first when it lacks them, as a watch event
/// needs (kube-apiserver leaves them out of List items; client-go rejects an event object
/// without them). Fields already present are kept as they are.
pub fn with_type_meta(
    api_version: &str,
    kind: &str,
    object: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    let seen: TypeMeta<'_> = serde_json::from_slice(object).map_err(|e| DecodeError::json(&e))?;
    let has_kind = seen.kind.is_some_and(|k| !k.0.is_empty());
    let has_version = seen.api_version.is_some_and(|v| !v.0.is_empty());
    let open = object
        .iter()
        .position(|&b| b == b'{')
        .ok_or(DecodeError::invalid("not a JSON object"))?;
    let rest = &object[open + 1..];
    let mut head = Vec::with_capacity(64);
    if !has_kind {
        head.extend_from_slice(b"\"kind\":");
        put_str(&mut head, kind);
    }
    if !has_version {
        if !head.is_empty() {
            head.push(b',');
        }
        head.extend_from_slice(b"\"apiVersion\":");
        put_str(&mut head, api_version);
    }
    let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    if !head.is_empty() && !empty {
        head.push(b',');
    }
    let mut out = Vec::with_capacity(object.len() + head.len());
    out.extend_from_slice(&object[..=open]);
    out.extend_from_slice(&head);
    out.extend_from_slice(rest);
    Ok(out)
}

/// The object as a LIST item carries it: leading `"kind"` / `"apiVersion"` members removed.
///
/// kube-apiserver writes watch event objects with their type meta first and List items without
/// it; the cache stores objects the List way so an offline LIST equals the online one. Only
/// leading string members are removed (the shape the apiserver writes); any other shape is
/// returned unchanged.
pub fn without_type_meta(object: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let skip_ws = |mut i: usize| {
        while object.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let Some(open) = object.iter().position(|b| !b.is_ascii_whitespace()) else {
        return object.into();
    };
    if object[open] != b'{' {
        return object.into();
    }
    let mut at = open + 1;
    let mut stripped = false;
    loop {
        let key_at = skip_ws(at);
        let key = [&b"\"kind\""[..], b"\"apiVersion\""]
            .into_iter()
            .find(|k| object[key_at..].starts_with(k));
        let Some(key) = key else { break };
        let colon = skip_ws(key_at + key.len());
        if object.get(colon) != Some(&b':') {
            break;
        }
        let value = skip_ws(colon + 1);
        let Some(end) = string_end(object, value) else {
            break;
        };
        let comma = skip_ws(end);
        if object.get(comma) != Some(&b',') {
            break; // the last member: leave the object as it is
        }
        at = comma + 1;
        stripped = true;
    }
    if !stripped {
        return object.into();
    }
    let mut out = Vec::with_capacity(object.len() - (at - open - 1));
    out.extend_from_slice(&object[..=open]);
    out.extend_from_slice(&object[skip_ws(at)..]);
    out.into()
}

/// Index just past the JSON string starting at `i`, if a whole one starts there.
fn string_end(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    while j < s.len() {
        match s[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::json::{decode_watch_line, object_meta_json};

    #[test]
    fn bookmark_matches_the_real_line_apart_from_spec_and_status() {
        let real = br#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"72","annotations":{"k8s.io/initial-events-end":"true"}},"spec":{"containers":null},"status":{}}}"#;
        let ours = bookmark_json("v1", "Pod", "72", true);
        let cut = real.len() - br#","spec":{"containers":null},"status":{}}}"#.len();
        assert_eq!(&ours[..cut], &real[..cut]);
        let (event, _) = decode_watch_line(&ours).expect("valid").expect("line");
        let meta = object_meta_json(event.object.get().as_bytes()).expect("meta");
        assert_eq!(meta.annotation(INITIAL_EVENTS_END), Some("true"));
    }

    #[test]
    fn compact_keeps_strings_and_escapes() {
        let pretty = b"{\n  \"a\\\" b\": [ 1, \"x \\\\\" ],\n  \"c\" : {}\n}";
        assert_eq!(compact(pretty), br#"{"a\" b":[1,"x \\"],"c":{}}"#.to_vec());
    }

    #[test]
    fn type_meta_is_added_only_when_missing() {
        let added = with_type_meta("v1", "Pod", br#"{"metadata":{}}"#).expect("object");
        assert_eq!(
            added,
            br#"{"kind":"Pod","apiVersion":"v1","metadata":{}}"#.to_vec()
        );
        assert_eq!(
            with_type_meta("v1", "Pod", b" { } ").expect("empty"),
            br#" {"kind":"Pod","apiVersion":"v1" } "#.to_vec()
        );
        let full = br#"{"kind":"Pod","apiVersion":"v1"}"#;
        assert_eq!(
            with_type_meta("v1", "Pod", full).expect("full"),
            full.to_vec()
        );
        assert!(with_type_meta("v1", "Pod", b"[]").is_err());
    }

    #[test]
    fn strings_are_escaped() {
        let list = encode_list_json("v1", "a\"b\n\u{1}", "1", &[]);
        let v: serde_json::Value = serde_json::from_slice(&list).expect("valid JSON");
        assert_eq!(v["kind"], "a\"b\n\u{1}");
    }

    #[test]
    fn type_meta_comes_off_a_watch_object_and_back_on_for_a_get() {
        let obj =
            br#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","kind":"x"},"spec":{}}"#;
        let bare = without_type_meta(obj);
        assert_eq!(
            &bare[..],
            br#"{"metadata":{"name":"a","kind":"x"},"spec":{}}"#
        );
        assert_eq!(
            with_type_meta("v1", "Pod", &bare).expect("typed"),
            obj.to_vec()
        );
        let spaced = b" { \"apiVersion\" : \"apps/v1\" ,\n \"kind\":\"D\\\"q\", \"metadata\":{}}";
        assert_eq!(&without_type_meta(spaced)[..], b" {\"metadata\":{}}");
    }

    #[test]
    fn other_shapes_are_left_alone() {
        for obj in [
            &br#"{"metadata":{"name":"a"},"kind":"Pod"}"#[..],
            br#"{"kind":"Pod"}"#,
            br#"{"kind":3,"metadata":{}}"#,
            br#"{"kind":"Po"#,
            b"",
            b"[1]",
            b"{}",
        ] {
            assert_eq!(
                &without_type_meta(obj)[..],
                obj,
                "{:?}",
                String::from_utf8_lossy(obj)
            );
        }
    }
}
