//! Blocking reads behind the offline answers: a view's objects (its own, or filtered from a
//! broader view of the same component) and one object across a component's views.

use super::filter::plan;
use super::render::{object_kind, sniff};
use crate::k8s::meta::{meta, Encoding as WireEncoding};
use crate::store::{Encoding, Store, StoreError, StoredItem, ViewKey, ViewMeta};

/// A view's state as served offline.
pub struct ViewData {
    pub meta: ViewMeta,
    pub items: Vec<Vec<u8>>,
}

/// One object with what is needed to answer a GET with it.
pub struct ObjectData {
    pub encoding: Encoding,
    pub api_version: String,
    pub kind: String,
    pub bytes: Vec<u8>,
}

fn wire(e: Encoding) -> WireEncoding {
    match e {
        Encoding::Json => WireEncoding::Json,
        Encoding::Protobuf => WireEncoding::Protobuf,
    }
}

/// The view's objects, or a broader view's filtered down to it; `None` if neither is cached.
pub fn view(store: &Store, want: &ViewKey) -> Result<Option<ViewData>, StoreError> {
    if let Some((meta, mut items)) = store.list(want)? {
        sort(&mut items);
        let items = items.iter().map(|i| i.bytes().to_vec()).collect();
        return Ok(Some(ViewData { meta, items }));
    }
    if want.component.ends_with(super::table::TABLE_SUFFIX) {
        return Ok(None); // rows carry their object under `object`, and columns are per table
    }
    for (broad, _) in store.views_for(&want.component, &want.gvr)? {
        let Some(filter) = plan(&broad, want) else {
            continue;
        };
        let Some((meta, mut items)) = store.list(&broad)? else {
            continue;
        };
        sort(&mut items);
        let enc = wire(meta.encoding);
        let items = items
            .iter()
            .filter(|i| meta_matches(enc, i.bytes(), |m| filter.matches(m)))
            .map(|i| i.bytes().to_vec())
            .collect();
        log::info!("cache: serving {want:?} offline from the broader view {broad:?}");
        return Ok(Some(ViewData { meta, items }));
    }
    Ok(None)
}

/// kube-apiserver's order: by namespace, then name (store keys are length-prefixed).
fn sort(items: &mut [StoredItem]) {
    items.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
}

fn meta_matches(
    enc: WireEncoding,
    bytes: &[u8],
    f: impl Fn(&crate::k8s::meta::Meta) -> bool,
) -> bool {
    meta(enc, bytes).is_ok_and(|m| f(&m))
}

/// One object of the component: its GET's own view first, else any view holding it.
pub fn object(store: &Store, want: &ViewKey) -> Result<Option<ObjectData>, StoreError> {
    if let Some((meta, items)) = store.list(want)? {
        if let Some(i) = items.into_iter().find(|i| i.name == want.name) {
            return Ok(Some(ObjectData {
                encoding: meta.encoding,
                api_version: meta.api_version.clone(),
                kind: object_kind(&meta).to_string(),
                bytes: i.bytes().to_vec(),
            }));
        }
    }
    let Some(item) = store.get(&want.component, &want.gvr, &want.namespace, &want.name)? else {
        return Ok(None);
    };
    let views = store.views_for(&want.component, &want.gvr)?;
    let Some((_, meta)) = views.first() else {
        return Ok(None);
    };
    Ok(Some(ObjectData {
        encoding: sniff(item.bytes()),
        api_version: meta.api_version.clone(),
        kind: object_kind(meta).to_string(),
        bytes: item.bytes().to_vec(),
    }))
}
