//! Blocking reads behind the offline answers: a view's objects (its own, or filtered from a
//! broader view of the same component), lazily from one snapshot, and one object across a
//! component's views.

use super::filter::{plan, Filter};
use super::render::{accepts, object_kind, preferred};
use super::table::{self, TABLE_SUFFIX};
use crate::k8s::meta::{meta, Encoding as WireEncoding};
use crate::k8s::selector_syntax::escape_field_value;
use crate::store::{Encoding, Store, StoreError, StoredItem, ViewKey, ViewMeta, ViewScan};

/// A view's state as served offline.
pub struct ViewData {
    pub meta: ViewMeta,
    pub items: Vec<Vec<u8>>,
    /// The broader view the items were filtered from, if not the view's own.
    pub from: Option<ViewKey>,
}

/// One object with what is needed to answer a GET with it.
pub struct ObjectData {
    pub encoding: Encoding,
    pub api_version: String,
    pub kind: String,
    pub bytes: Vec<u8>,
}

/// The same encoding, as `k8s` names it.
pub(super) fn wire(e: Encoding) -> WireEncoding {
    match e {
        Encoding::Json => WireEncoding::Json,
        Encoding::Protobuf => WireEncoding::Protobuf,
    }
}

/// A view as served offline, read lazily from one snapshot: its own objects, or a broader view's
/// filtered down to it.
pub struct Served {
    /// The metadata of the view read (the broader one's when filtered).
    pub meta: ViewMeta,
    /// The broader view the items are filtered from, if not the view's own.
    pub from: Option<ViewKey>,
    scan: ViewScan,
    filter: Option<Filter>,
}

impl Served {
    /// How many objects are served (filtered ones are counted by reading them).
    pub fn count(&self) -> usize {
        match self.filter {
            None => self.meta.count as usize,
            Some(_) => self.items().count(),
        }
    }

    /// The objects, in kube-apiserver's order; every call starts over on the same snapshot.
    pub fn items(&self) -> impl Iterator<Item = Result<StoredItem, StoreError>> + Send + 'static {
        let filter = self.filter.clone();
        let enc = wire(self.meta.encoding);
        let table = self
            .from
            .as_ref()
            .is_some_and(|v| v.component.ends_with(TABLE_SUFFIX));
        self.scan.objects().filter(move |r| match (r, &filter) {
            (Ok(i), Some(f)) if table => table::row_matches(i.bytes(), |m| f.matches(m)),
            (Ok(i), Some(f)) => meta_matches(enc, i.bytes(), |m| f.matches(m)),
            _ => true,
        })
    }
}

/// The view, or a broader view of the same component to filter; `None` if neither is cached.
pub fn served(store: &Store, want: &ViewKey) -> Result<Option<Served>, StoreError> {
    if let Some(scan) = store.scan_view(want)? {
        let meta = scan.meta.clone();
        return Ok(Some(Served {
            meta,
            scan,
            from: None,
            filter: None,
        }));
    }
    for (broad, _) in store.views_for(&want.component, &want.gvr)? {
        let Some(filter) = plan(&broad, want) else {
            continue;
        };
        let Some(scan) = store.scan_view(&broad)? else {
            continue;
        };
        let meta = scan.meta.clone();
        return Ok(Some(Served {
            meta,
            scan,
            from: Some(broad),
            filter: Some(filter),
        }));
    }
    Ok(None)
}

/// [`served`] with every object read into memory (Tables, which are small).
pub fn view(store: &Store, want: &ViewKey) -> Result<Option<ViewData>, StoreError> {
    let Some(s) = served(store, want)? else {
        return Ok(None);
    };
    let items = s
        .items()
        .map(|r| r.map(|i| i.bytes().to_vec()))
        .collect::<Result<_, _>>()?;
    Ok(Some(ViewData {
        meta: s.meta,
        items,
        from: s.from,
    }))
}

fn meta_matches(
    enc: WireEncoding,
    bytes: &[u8],
    f: impl Fn(&crate::k8s::meta::Meta) -> bool,
) -> bool {
    meta(enc, bytes).is_ok_and(|m| f(&m))
}

/// What the cache knows about one object.
pub enum Lookup {
    /// The object, from the GET's own view or any view of the component holding it.
    Found(ObjectData, ViewMeta),
    /// A complete view of the component that would hold the object (no selector, or only
    /// `metadata.name`/`metadata.namespace` terms it meets) does not: the apiserver said it did
    /// not exist.
    Absent(ViewKey, ViewMeta),
    /// Never seen.
    Unknown,
}

/// Component suffix of a GET's own view when the object came as JSON. A client may GET one
/// object in both encodings (kubectl's `describe`: JSON, then protobuf; `get -o yaml`: JSON),
/// and offline each GET is answered in the encoding it asked for.
pub const JSON_GET_SUFFIX: &str = "#json";

/// Where a GET of `view` answered in `enc` is kept: the view itself, or for JSON the same
/// under [`JSON_GET_SUFFIX`] (still the component's own data, in a view of its own).
pub fn get_view(view: &ViewKey, enc: Encoding) -> ViewKey {
    match enc {
        Encoding::Protobuf => view.clone(),
        Encoding::Json => ViewKey {
            component: format!("{}{JSON_GET_SUFFIX}", view.component),
            ..view.clone()
        },
    }
}

/// The component a view belongs to (a JSON GET's view names it with [`JSON_GET_SUFFIX`]).
pub fn component_of(view: &ViewKey) -> &str {
    let c = view.component.as_str();
    c.strip_suffix(JSON_GET_SUFFIX).unwrap_or(c)
}

/// One object of the component, for a client with this `Accept`: its GET's own views first
/// (the encoding the client prefers, then any it takes), else any view of the component
/// holding it in an encoding the client takes; else as stored, for a 406.
pub fn object(store: &Store, want: &ViewKey, accept: Option<&str>) -> Result<Lookup, StoreError> {
    let mut own = Vec::new();
    for view in [want.clone(), get_view(want, Encoding::Json)] {
        if let Some((meta, items)) = store.list(&view)? {
            if let Some(i) = items.into_iter().find(|i| i.name == want.name) {
                own.push((object_data(&meta, &i), meta));
            }
        }
    }
    let first_choice = preferred(accept);
    own.sort_by_key(|(d, _)| d.encoding != first_choice);
    if let Some(at) = own.iter().position(|(d, _)| accepts(accept, d.encoding)) {
        let (data, meta) = own.swap_remove(at);
        return Ok(Lookup::Found(data, meta));
    }
    let found = match any_view(store, want, |m| accepts(accept, m.encoding))? {
        Some(f) => Some(f),
        None => own.into_iter().next(),
    };
    let found = match found {
        Some(f) => Some(f),
        None => any_view(store, want, |_| true)?,
    };
    match found {
        Some((data, meta)) => Ok(Lookup::Found(data, meta)),
        None => Ok(absent(store.views_for(&want.component, &want.gvr)?, want)),
    }
}

/// The object from the component's views `takes`, the highest resourceVersion.
fn any_view(
    store: &Store,
    want: &ViewKey,
    takes: impl Fn(&ViewMeta) -> bool,
) -> Result<Option<(ObjectData, ViewMeta)>, StoreError> {
    let found = store.get_where(
        &want.component,
        &want.gvr,
        &want.namespace,
        &want.name,
        takes,
    )?;
    Ok(found.map(|(item, meta)| (object_data(&meta, &item), meta)))
}

fn object_data(meta: &ViewMeta, item: &StoredItem) -> ObjectData {
    ObjectData {
        encoding: meta.encoding,
        api_version: meta.api_version.clone(),
        kind: object_kind(meta).to_string(),
        bytes: item.bytes().to_vec(),
    }
}

/// The LIST by name that a GET of one object equals: its namespace, `metadata.name=<name>`
/// and no other selector (the apiserver ignores selectors on a GET).
pub fn by_name(get: &ViewKey) -> ViewKey {
    ViewKey {
        name: String::new(),
        label_selector: String::new(),
        field_selector: format!("metadata.name={}", escape_field_value(&get.name)),
        ..get.clone()
    }
    .normalized()
}

/// [`Lookup::Absent`] when one of `views` is complete for the wanted object.
fn absent(views: Vec<(ViewKey, ViewMeta)>, want: &ViewKey) -> Lookup {
    let by_name = by_name(want);
    views
        .into_iter()
        .find(|(v, _)| plan(v, &by_name).is_some())
        .map_or(Lookup::Unknown, |(v, m)| Lookup::Absent(v, m))
}
