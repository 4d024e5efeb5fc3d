//! What `GET /v1/cache` and `yurt hub cache ls` show: one line per cached view.

use serde::Serialize;

use crate::store::{Encoding, Store, StoreError};

/// One view as reported.
#[derive(Debug, Serialize)]
pub struct ViewRow {
    pub component: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    pub label_selector: String,
    pub field_selector: String,
    pub items: u64,
    pub resource_version: u64,
    pub encoding: &'static str,
    pub bytes: u64,
    pub kind: String,
    pub updated_at: u64,
}

/// Every view of the store.
pub fn rows(store: &Store) -> Result<Vec<ViewRow>, StoreError> {
    Ok(store
        .views()?
        .into_iter()
        .map(|(k, m)| ViewRow {
            component: k.component,
            group: k.gvr.group,
            version: k.gvr.version,
            resource: k.gvr.resource,
            namespace: k.namespace,
            name: k.name,
            label_selector: k.label_selector,
            field_selector: k.field_selector,
            items: m.count,
            resource_version: m.resource_version,
            encoding: match m.encoding {
                Encoding::Json => "json",
                Encoding::Protobuf => "protobuf",
            },
            bytes: m.bytes,
            kind: m.kind,
            updated_at: m.updated_at,
        })
        .collect())
}

/// `{"views":[…]}`.
pub fn views_json(store: &Store) -> Result<Vec<u8>, StoreError> {
    let rows = rows(store)?;
    serde_json::to_vec(&serde_json::json!({ "views": rows }))
        .map_err(|e| StoreError::Invalid(e.to_string()))
}
