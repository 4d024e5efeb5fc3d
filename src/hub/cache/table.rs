//! kubectl's tables (`Accept: application/json;as=Table;…`): a LIST answered as a
//! `meta.k8s.io/v1` Table is cached as its own view (component `<name>#table`), one item per
//! row (keyed by the row object's metadata) plus one item holding the column definitions, so
//! `kubectl get` prints offline what it printed online. A Table never asked for online is
//! filtered from a broader one by its rows' object metadata (`-l app=web` from `-A`).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::decode::{Decoded, OwnedItem};
use crate::k8s::decode_error::DecodeError;
use crate::k8s::meta::{meta, rv_u64, Encoding, Meta};

/// Suffix of the component of table views.
pub const TABLE_SUFFIX: &str = "#table";

/// The suffix of the view of a Table whose rows carry `includeObject` (`Metadata` unless
/// given; `Object` for kubectl's `--sort-by`, a view of its own: its rows hold whole objects).
/// `None` for `includeObject=None`, whose rows name no object to key them by.
pub fn suffix(include_object: Option<&str>) -> Option<&'static str> {
    match include_object {
        None | Some("Metadata") => Some(TABLE_SUFFIX),
        Some("Object") => Some("#object#table"),
        Some(_) => None,
    }
}

/// Name of the item holding the column definitions (sorts before every row's). Caches written
/// before namespaced Tables were cached also hold it in namespace `"\0columns"`.
const COLUMNS: &str = "\0columns";

#[derive(Deserialize)]
struct TableIn<'a> {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ListMetaIn,
    #[serde(borrow, rename = "columnDefinitions")]
    columns: &'a RawValue,
    #[serde(borrow, default)]
    rows: Vec<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct ListMetaIn {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
    #[serde(rename = "continue", default)]
    continue_token: String,
}

#[derive(Deserialize)]
struct RowIn<'a> {
    #[serde(borrow)]
    object: &'a RawValue,
}

fn invalid(why: &'static str) -> DecodeError {
    DecodeError::Invalid(why.into())
}

/// Whether an Accept header asks for a Table.
pub fn asks_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// A Table body as a list of rows plus the columns item.
pub fn decode(body: &[u8]) -> Result<Decoded, DecodeError> {
    let t: TableIn<'_> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Invalid(e.to_string().into()))?;
    if t.kind != "Table" {
        return Err(invalid("not a Table"));
    }
    // `encode` tells the columns item from rows by its first byte, as the store keeps no kind.
    if !t.columns.get().starts_with('[') {
        return Err(invalid("Table columnDefinitions is not a list"));
    }
    let rv =
        rv_u64(&t.metadata.resource_version).ok_or(invalid("Table without a resourceVersion"))?;
    let mut items = vec![OwnedItem {
        namespace: String::new(), // the view's: see `in_namespace`
        name: COLUMNS.into(),
        resource_version: rv,
        bytes: t.columns.get().as_bytes().to_vec(),
    }];
    for row in t.rows {
        if !row.get().starts_with('{') {
            return Err(invalid("Table row is not an object"));
        }
        let r: RowIn<'_> =
            serde_json::from_str(row.get()).map_err(|_| invalid("Table row without an object"))?;
        let m = meta(Encoding::Json, r.object.get().as_bytes())?;
        items.push(OwnedItem {
            namespace: m.namespace,
            name: m.name,
            resource_version: rv_u64(&m.resource_version)
                .ok_or(invalid("row object without a resourceVersion"))?,
            bytes: row.get().as_bytes().to_vec(),
        });
    }
    Ok(Decoded {
        api_version: t.api_version,
        kind: t.kind,
        resource_version: rv,
        continue_token: t.metadata.continue_token,
        items,
    })
}

/// Whether a decoded Table item is the one holding the column definitions (a JSON list; rows
/// are objects, even one named like it).
pub fn is_columns(item: &OwnedItem) -> bool {
    item.name == COLUMNS && item.bytes.first() == Some(&b'[')
}

/// Puts the columns item in the view's `namespace`, where a namespaced view can hold it; its
/// name still sorts before every row's (object names never hold NUL).
pub fn in_namespace(items: &mut [OwnedItem], namespace: &str) {
    for i in items.iter_mut().filter(|i| is_columns(i)) {
        i.namespace = namespace.into();
    }
}

/// Whether a stored Table item stays in a Table filtered by `keep` (of its row object's
/// metadata): the columns item always does; a row whose object cannot be read does not.
pub fn row_matches(item: &[u8], keep: impl Fn(&Meta) -> bool) -> bool {
    item.first() == Some(&b'[') || row_meta(item).is_some_and(|m| keep(&m))
}

/// The metadata of a stored row's object (`None` for the columns item, a list, which serde
/// would otherwise read as a row in sequence form).
fn row_meta(item: &[u8]) -> Option<Meta> {
    if item.first() != Some(&b'{') {
        return None;
    }
    let r: RowIn<'_> = serde_json::from_slice(item).ok()?;
    meta(Encoding::Json, r.object.get().as_bytes()).ok()
}

/// The Table answered offline from a view's items: all of them for a LIST. For a GET of one
/// object (its view is the LIST by its name), its row with the object's own resourceVersion,
/// as kube-apiserver's Table of one object has it; `None` when the view has no row for it
/// (the object did not exist).
pub fn offline_body(
    api_version: &str,
    view_rv: u64,
    items: &[Vec<u8>],
    one: bool,
) -> Option<Vec<u8>> {
    if !one {
        return Some(encode(api_version, view_rv, items));
    }
    let row = items.iter().find_map(|i| row_meta(i))?;
    let rv = rv_u64(&row.resource_version).unwrap_or(view_rv);
    Some(encode(api_version, rv, items))
}

/// The Table body from stored items (columns item first, as stored).
pub fn encode(api_version: &str, rv: u64, items: &[Vec<u8>]) -> Vec<u8> {
    let (columns, rows): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
        items.iter().partition(|i| i.first() == Some(&b'['));
    let mut out = format!(
        r#"{{"kind":"Table","apiVersion":{},"metadata":{{"resourceVersion":"{rv}"}},"columnDefinitions":"#,
        serde_json::to_string(api_version).unwrap_or_else(|_| "\"meta.k8s.io/v1\"".into())
    )
    .into_bytes();
    out.extend_from_slice(columns.first().map_or(&b"[]"[..], |c| c.as_slice()));
    out.extend_from_slice(b",\"rows\":[");
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let body = br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"9"},"columnDefinitions":[{"name":"Name"}],"rows":[{"cells":["a"],"object":{"kind":"PartialObjectMetadata","metadata":{"name":"a","namespace":"d","resourceVersion":"3"}}}]}"#;
        let d = decode(body).expect("table");
        assert_eq!((d.items.len(), d.resource_version), (2, 9));
        let items: Vec<Vec<u8>> = d.items.into_iter().map(|i| i.bytes).collect();
        let again: serde_json::Value =
            serde_json::from_slice(&encode("meta.k8s.io/v1", 9, &items)).expect("json");
        let orig: serde_json::Value = serde_json::from_slice(body).expect("json");
        assert_eq!(again, orig);
        assert!(decode(br#"{"kind":"PodList","columnDefinitions":[],"rows":[]}"#).is_err());
    }

    #[test]
    fn rows_are_filtered_by_their_object_and_columns_always_stay() {
        let body = br#"{"kind":"Table","metadata":{"resourceVersion":"9"},"columnDefinitions":[{"name":"Name"}],"rows":[{"cells":["a"],"object":{"metadata":{"name":"a","namespace":"d","resourceVersion":"3","labels":{"app":"web"}}}},{"cells":["b"],"object":{"metadata":{"name":"b","namespace":"d","resourceVersion":"4"}}}]}"#;
        let d = decode(body).expect("table");
        let web = |m: &Meta| m.labels.iter().any(|(k, v)| k == "app" && v == "web");
        let kept: Vec<bool> = d.items.iter().map(|i| row_matches(&i.bytes, web)).collect();
        assert_eq!(kept, [true, true, false]);
        assert!(!row_matches(br#"{"cells":[]}"#, |_| true));
        assert!(!row_matches(b"{garbage", |_| true));
    }

    #[test]
    fn one_object_is_its_row_with_its_own_resource_version() {
        let body = br#"{"kind":"Table","metadata":{"resourceVersion":"9"},"columnDefinitions":[{"name":"Name"}],"rows":[{"cells":["a"],"object":{"metadata":{"name":"a","namespace":"d","resourceVersion":"3"}}}]}"#;
        let items: Vec<Vec<u8>> = decode(body)
            .expect("table")
            .items
            .into_iter()
            .map(|i| i.bytes)
            .collect();
        let rv = |b: Option<Vec<u8>>| {
            decode(&b.expect("a table"))
                .expect("decodes")
                .resource_version
        };
        assert_eq!(rv(offline_body("meta.k8s.io/v1", 9, &items, false)), 9);
        assert_eq!(rv(offline_body("meta.k8s.io/v1", 9, &items, true)), 3);
        // Only the columns: the view says the object does not exist.
        assert!(offline_body("meta.k8s.io/v1", 9, &items[..1], true).is_none());
    }

    #[test]
    fn columns_are_a_list_and_rows_objects() {
        // Both decoded before, then `encode` took `{}` columns for a row and a row sent as
        // `[{"object":…}]` (serde reads a struct from a list) for the columns.
        let e = decode(br#"{"kind":"Table","metadata":{"resourceVersion":"1"},"columnDefinitions":{},"rows":[]}"#);
        assert!(matches!(e, Err(DecodeError::Invalid(m)) if m.contains("columnDefinitions")));
        // What the table fuzz target then found: columns sent as a string.
        let e = decode(br#"{"kind":"Table","metadata":{"resourceVersion":"1"},"columnDefinitions":"web-1","rows":[]}"#);
        assert!(matches!(e, Err(DecodeError::Invalid(m)) if m.contains("columnDefinitions")));
        let row = br#"{"kind":"Table","metadata":{"resourceVersion":"1"},"columnDefinitions":[],"rows":[[{"kind":"X","metadata":{"name":"a","resourceVersion":"1"}}]]}"#;
        assert!(matches!(decode(row), Err(DecodeError::Invalid(m)) if m.contains("row")));
    }
}
