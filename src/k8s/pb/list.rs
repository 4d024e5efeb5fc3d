//! Protobuf Lists: {metadata=1 ListMeta, items=2 repeated}, decoded to borrowed item slices.

use super::envelope::encode_envelope_with;
use super::wire::fields;
use super::write::{len_field_size, put_bytes, put_len_prefix};
use crate::k8s::decode_error::DecodeError;

/// A decoded List; each item is the exact bytes of one object's message (no envelope).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct List<'a> {
    /// `metadata.resourceVersion`: the list's snapshot RV.
    pub resource_version: &'a str,
    /// `metadata.continue`: non-empty when more pages follow.
    pub continue_token: &'a str,
    /// `metadata.remainingItemCount`, when the server sent it.
    pub remaining_item_count: Option<i64>,
    /// Items in wire order; pass each to [`super::object_meta`].
    pub items: Vec<&'a [u8]>,
}

/// Decodes a List message (an envelope's `raw` whose kind ends in `List`).
///
/// Items are located, not decoded: a malformed item is found by `object_meta` on it.
pub fn decode_list(raw: &[u8]) -> Result<List<'_>, DecodeError> {
    let mut list = List::default();
    for field in fields(raw) {
        let field = field?;
        match field.number {
            1 => list_meta(field.bytes()?, &mut list)?,
            2 => list.items.push(field.bytes()?),
            _ => {}
        }
    }
    Ok(list)
}

fn list_meta<'a>(msg: &'a [u8], list: &mut List<'a>) -> Result<(), DecodeError> {
    for field in fields(msg) {
        let field = field?;
        match field.number {
            2 => list.resource_version = field.str()?,
            3 => list.continue_token = field.str()?,
            4 => list.remaining_item_count = Some(field.int64()?),
            _ => {}
        }
    }
    Ok(())
}

/// Encodes a whole List body (`k8s\0` envelope included), byte for byte as kube-apiserver does.
///
/// `items` are object messages without envelope (as [`decode_list`] returns them; for an
/// enveloped object pass its [`super::Envelope::raw`]). `kind` is the list kind, e.g. `PodList`.
pub fn encode_list(
    api_version: &str,
    kind: &str,
    list_resource_version: &str,
    continue_token: &str,
    items: &[&[u8]],
) -> Vec<u8> {
    let items_len: usize = items.iter().map(|i| item_framed_len(i.len())).sum();
    let (mut out, tail) = list_frame(
        api_version,
        kind,
        list_resource_version,
        continue_token,
        items_len,
    );
    out.reserve(items_len + tail.len());
    for item in items {
        put_item(&mut out, item);
    }
    out.extend_from_slice(&tail);
    out
}

/// A List body in pieces, for answers written as they are read: `head`, then [`put_item`] for
/// each item, then `tail` is exactly [`encode_list`]. `items_len` is the sum of
/// [`item_framed_len`] over the items (protobuf announces lengths before the bytes).
pub fn list_frame(
    api_version: &str,
    kind: &str,
    list_resource_version: &str,
    continue_token: &str,
    items_len: usize,
) -> (Vec<u8>, Vec<u8>) {
    let meta_len = len_field_size(1, 0)
        + len_field_size(2, list_resource_version.len())
        + len_field_size(3, continue_token.len());
    let raw_len = len_field_size(1, meta_len) + items_len;
    let mut whole = encode_envelope_with(api_version, kind, raw_len, |out| {
        put_len_prefix(out, 1, meta_len);
        put_bytes(out, 1, b"");
        put_bytes(out, 2, list_resource_version.as_bytes());
        put_bytes(out, 3, continue_token.as_bytes());
        out.resize(out.len() + items_len, 0);
    });
    let tail = whole.split_off(whole.len() - ENVELOPE_TAIL);
    whole.truncate(whole.len() - items_len);
    (whole, tail)
}

/// Bytes after the raw message in an envelope: empty contentEncoding and contentType.
const ENVELOPE_TAIL: usize = 4;

/// Bytes one item of `len` bytes takes in a List (tag, length, item).
pub fn item_framed_len(len: usize) -> usize {
    len_field_size(2, len)
}

/// Appends one item to a List being written after [`list_frame`]'s head.
pub fn put_item(out: &mut Vec<u8>, item: &[u8]) {
    put_bytes(out, 2, item);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::pb::envelope::decode_envelope;

    const LIST_PODS: &[u8] =
        include_bytes!("../../../tests/fixtures/k8s-captures/list-pods.pb.body");

    #[test]
    fn reencoding_a_real_list_is_byte_exact() {
        let env = decode_envelope(LIST_PODS).expect("envelope");
        let list = decode_list(env.raw).expect("list");
        assert_eq!(
            (env.kind, list.resource_version, list.items.len()),
            ("PodList", "72", 1)
        );
        let again = encode_list(env.api_version, env.kind, "72", "", &list.items);
        assert_eq!(again, LIST_PODS);
    }

    #[test]
    fn a_list_written_in_pieces_is_the_same_list() {
        let items: [&[u8]; 3] = [b"\x0a\x00", &[7u8; 300], b""];
        let whole = encode_list("v1", "PodList", "72", "", &items);
        let len = items.iter().map(|i| item_framed_len(i.len())).sum();
        let (mut pieces, tail) = list_frame("v1", "PodList", "72", "", len);
        for i in items {
            put_item(&mut pieces, i);
        }
        pieces.extend_from_slice(&tail);
        assert_eq!(pieces, whole);
        let env = decode_envelope(&whole).expect("envelope");
        assert_eq!(decode_list(env.raw).expect("list").items, items);
    }

    #[test]
    fn empty_list_round_trips() {
        let body = encode_list("v1", "PodList", "9", "tok", &[]);
        let list = decode_list(decode_envelope(&body).expect("env").raw).expect("list");
        assert_eq!((list.resource_version, list.continue_token), ("9", "tok"));
        assert!(list.items.is_empty());
    }
}
