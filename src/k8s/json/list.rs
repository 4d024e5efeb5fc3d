//! JSON Lists: kind, apiVersion, ListMeta and items as byte-exact `RawValue` slices.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::meta::{text, Str};
use crate::k8s::decode_error::DecodeError;

/// A decoded JSON List; `items` are the exact bytes of each element of the input.
#[derive(Debug, Clone, Default)]
pub struct JsonList<'a> {
    /// e.g. `PodList`.
    pub kind: Cow<'a, str>,
    /// e.g. `v1`.
    pub api_version: Cow<'a, str>,
    /// `metadata.resourceVersion`: the list's snapshot RV.
    pub resource_version: Cow<'a, str>,
    /// `metadata.continue`: non-empty when more pages follow.
    pub continue_token: Cow<'a, str>,
    /// `metadata.remainingItemCount`, when the server sent it.
    pub remaining_item_count: Option<i64>,
    /// The items, byte-exact (`.get()` is the text); kube-apiserver omits kind/apiVersion here.
    pub items: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default, rename = "apiVersion")]
    api_version: Option<Str<'a>>,
    #[serde(borrow, default)]
    metadata: Option<RawListMeta<'a>>,
    #[serde(borrow)]
    items: &'a RawValue,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawListMeta<'a> {
    #[serde(borrow, default)]
    resource_version: Option<Str<'a>>,
    #[serde(borrow, default, rename = "continue")]
    continue_token: Option<Str<'a>>,
    #[serde(default)]
    remaining_item_count: Option<i64>,
}

/// Decodes a JSON List body. `items` must be present (an array or `null`), so a `Status` or a
/// single object is an error rather than an empty list.
pub fn decode_list_json(bytes: &[u8]) -> Result<JsonList<'_>, DecodeError> {
    let raw: RawList<'_> = serde_json::from_slice(bytes).map_err(|e| DecodeError::json(&e))?;
    let items: Option<Vec<&RawValue>> =
        serde_json::from_str(raw.items.get()).map_err(|e| DecodeError::json(&e))?;
    let meta = raw.metadata.unwrap_or_default();
    Ok(JsonList {
        kind: text(raw.kind),
        api_version: text(raw.api_version),
        resource_version: text(meta.resource_version),
        continue_token: text(meta.continue_token),
        remaining_item_count: meta.remaining_item_count,
        items: items.unwrap_or_default(),
    })
}

/// `resourceVersion` and `continue` of a JSON ListMeta (`null` reads as empty).
pub fn decode_list_meta_json(bytes: &[u8]) -> Result<(String, String), DecodeError> {
    let m: Option<RawListMeta<'_>> =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::json(&e))?;
    let m = m.unwrap_or_default();
    Ok((
        text(m.resource_version).into_owned(),
        text(m.continue_token).into_owned(),
    ))
}

/// A JSON string value (`null` reads as empty).
pub fn json_text(bytes: &[u8]) -> Result<String, DecodeError> {
    let s: Option<Str<'_>> = serde_json::from_slice(bytes).map_err(|e| DecodeError::json(&e))?;
    Ok(text(s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST_NS: &[u8] =
        include_bytes!("../../../tests/fixtures/k8s-captures/list-namespaces.json.body");
    const NOT_FOUND: &[u8] =
        include_bytes!("../../../tests/fixtures/k8s-captures/get-pod-notfound.json.body");

    #[test]
    fn reads_a_real_list_byte_exact() {
        let list = decode_list_json(LIST_NS).expect("list");
        assert_eq!(
            (list.kind.as_ref(), list.resource_version.as_ref()),
            ("NamespaceList", "72")
        );
        assert_eq!(list.items.len(), 4);
        let text = std::str::from_utf8(LIST_NS).expect("utf-8");
        assert!(list.items.iter().all(|i| text.contains(i.get())));
    }

    #[test]
    fn a_status_is_not_a_list() {
        assert!(matches!(
            decode_list_json(NOT_FOUND),
            Err(DecodeError::Invalid(_))
        ));
        let null_items =
            decode_list_json(br#"{"kind":"PodList","items":null}"#).expect("null items");
        assert!(null_items.items.is_empty());
    }
}
