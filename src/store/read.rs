//! Reads: a view's objects from one snapshot, a single object across views, the list of views.
//!
//! Reads never take the writer lock; each sees one committed state, never half a batch.

use fjall::{Iter, Keyspace, Readable, Slice, Snapshot};

use super::codec::{object_rv, OBJECT_HEADER};
use super::key::{
    gvr_prefix, member_key, member_name, meta_key, objects_prefix, view_of_meta_key,
    GENERATION_BYTES, MAX_KEY_BYTES,
};
use super::visible::{member_of, Grouped, Visible};
use super::{Gvr, Store, StoreError, ViewKey, ViewMeta};

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// `metadata.namespace` (`""` for cluster-scoped objects).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.resourceVersion`.
    pub resource_version: u64,
    value: Slice,
}

impl StoredItem {
    /// The object exactly as the upstream sent it, in its view's encoding.
    pub fn bytes(&self) -> &[u8] {
        self.value.get(OBJECT_HEADER..).unwrap_or_default()
    }
}

/// The objects of one view, read lazily from one snapshot, in kube-apiserver's order (etcd's
/// `namespace/name`).
pub struct Objects {
    view: Vec<u8>,
    iter: Visible<Iter>,
}

impl Iterator for Objects {
    type Item = Result<StoredItem, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.iter.next()?.and_then(|(k, v)| {
            let (namespace, name) = member_of(&k)
                .ok()
                .and_then(|m| member_name(&self.view, m))
                .ok_or_else(|| StoreError::Corrupt(format!("object key of {} bytes", k.len())))?;
            item(namespace, name, v)
        }))
    }
}

/// One view at one moment (see [`Store::scan_view`]).
pub struct ViewScan {
    /// The view's metadata at that moment.
    pub meta: ViewMeta,
    snapshot: Snapshot,
    tree: Keyspace,
    view: Vec<u8>,
}

impl ViewScan {
    /// The view's objects at that moment, in kube-apiserver's order; every call starts over.
    pub fn objects(&self) -> Objects {
        let iter = self.snapshot.prefix(&self.tree, &self.view);
        Objects {
            view: self.view.clone(),
            iter: Visible::new(iter, self.meta.generation),
        }
    }
}

fn item(namespace: String, name: String, value: Slice) -> Result<StoredItem, StoreError> {
    Ok(StoredItem {
        namespace,
        name,
        resource_version: object_rv(&value)?,
        value,
    })
}

impl Store {
    /// The view's metadata and a lazy iterator over its objects, both from one snapshot: what an
    /// offline LIST streams. `None` if the view was never cached.
    pub fn scan(&self, view: &ViewKey) -> Result<Option<(ViewMeta, Objects)>, StoreError> {
        Ok(self.scan_view(view)?.map(|s| (s.meta.clone(), s.objects())))
    }

    /// The view frozen at this moment: its metadata, and its objects as often as needed (an
    /// answer that must know its size before it streams reads them twice). `None` if never
    /// cached.
    pub fn scan_view(&self, view: &ViewKey) -> Result<Option<ViewScan>, StoreError> {
        let key = view.encode();
        if key.len() > MAX_KEY_BYTES {
            return Ok(None); // never stored: writes refuse such keys
        }
        let snapshot = self.db.snapshot();
        let Some(meta) = snapshot.get(&self.tree, meta_key(&key))? else {
            return Ok(None);
        };
        Ok(Some(ViewScan {
            meta: ViewMeta::decode(&meta)?,
            snapshot,
            tree: self.tree.clone(),
            view: objects_prefix(&key),
        }))
    }

    /// Like [`Store::scan`], with every object read into memory.
    pub fn list(&self, view: &ViewKey) -> Result<Option<(ViewMeta, Vec<StoredItem>)>, StoreError> {
        match self.scan(view)? {
            Some((meta, objects)) => Ok(Some((meta, objects.collect::<Result<_, _>>()?))),
            None => Ok(None),
        }
    }

    /// One object of `component`, from any of its views of `gvr` that holds it (a GET's own view,
    /// a LIST's); the highest resourceVersion wins. Never looks at another component's views.
    pub fn get(
        &self,
        component: &str,
        gvr: &Gvr,
        namespace: &str,
        name: &str,
    ) -> Result<Option<StoredItem>, StoreError> {
        let found = self.get_where(component, gvr, namespace, name, |_| true)?;
        Ok(found.map(|(item, _)| item))
    }

    /// [`Store::get`] from the views whose metadata `takes` (an encoding the client reads), with
    /// the metadata of the view it came from.
    pub fn get_where(
        &self,
        component: &str,
        gvr: &Gvr,
        namespace: &str,
        name: &str,
        takes: impl Fn(&ViewMeta) -> bool,
    ) -> Result<Option<(StoredItem, ViewMeta)>, StoreError> {
        let snapshot = self.db.snapshot();
        let mut best: Option<(StoredItem, ViewMeta)> = None;
        for guard in snapshot.prefix(&self.tree, meta_key(&gvr_prefix(component, gvr))) {
            let (key, meta) = guard.into_inner()?;
            let view = view_of_meta_key(&key).ok_or_else(|| corrupt_view(&key))?;
            if !view.may_hold(namespace, name) {
                continue;
            }
            let member = member_key(&objects_prefix(&view.encode()), namespace, name);
            if member.len() + GENERATION_BYTES > MAX_KEY_BYTES {
                continue;
            }
            let meta = ViewMeta::decode(&meta)?;
            if !takes(&meta) {
                continue;
            }
            let versions = Grouped::new(snapshot.prefix(&self.tree, &member))
                .next()
                .transpose()?;
            let Some((_, value)) = versions.as_ref().and_then(|g| g.visible(meta.generation))
            else {
                continue;
            };
            let found = item(namespace.into(), name.into(), value.clone())?;
            if best
                .as_ref()
                .is_none_or(|(b, _)| found.resource_version > b.resource_version)
            {
                best = Some((found, meta));
            }
        }
        Ok(best)
    }

    /// Every cached view with its metadata, in key order (for `GET /v1/cache`, `yurt hub cache ls`).
    pub fn views(&self) -> Result<Vec<(ViewKey, ViewMeta)>, StoreError> {
        self.views_with_prefix(&[])
    }

    /// The views of `component` on `gvr` (GETs' own views included, `name` set): where to look
    /// for a broader view to filter offline.
    pub fn views_for(
        &self,
        component: &str,
        gvr: &Gvr,
    ) -> Result<Vec<(ViewKey, ViewMeta)>, StoreError> {
        self.views_with_prefix(&gvr_prefix(component, gvr))
    }

    fn views_with_prefix(&self, prefix: &[u8]) -> Result<Vec<(ViewKey, ViewMeta)>, StoreError> {
        let mut out = Vec::new();
        for guard in self.tree.prefix(meta_key(prefix)) {
            let (key, value) = guard.into_inner()?;
            let view = view_of_meta_key(&key).ok_or_else(|| corrupt_view(&key))?;
            out.push((view, ViewMeta::decode(&value)?));
        }
        Ok(out)
    }
}

fn corrupt_view(key: &[u8]) -> StoreError {
    StoreError::Corrupt(format!("view key of {} bytes", key.len()))
}
