//! Writes: a LIST (or GET) replaces a view atomically, watch events update it, GC helpers.
//!
//! Every write is one fjall batch, holding the writer lock from the first read to the commit,
//! and is journaled (synced per policy) before the call returns.

use std::collections::{BTreeMap, BTreeSet};

use super::apply::{self, ApplyStats, Change, Event, Item};
use super::codec::{encode_object, object_rv, OBJECT_HEADER};
use super::db::{unix_now, Writer};
use super::key::{member_key, member_name, meta_key, objects_prefix, MAX_KEY_BYTES};
use super::{Encoding, Store, StoreError, ViewKey, ViewMeta};

/// What the caller knows about a LIST (or, for [`Store::put_object`], about the one object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMeta {
    /// `apiVersion`, e.g. `v1`.
    pub api_version: String,
    /// `kind` of the list (`PodList`), or of the object for a GET.
    pub kind: String,
    /// The list's `metadata.resourceVersion` (the object's, for a GET).
    pub resource_version: u64,
    /// Encoding the upstream answered in; the items' bytes are in it.
    pub encoding: Encoding,
}

/// What [`Store::commit_list`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The view now holds exactly the given objects.
    Stored,
    /// The view already holds a newer snapshot (this resourceVersion); nothing was written.
    Stale {
        /// The view's resourceVersion, higher than the refused one.
        current: u64,
    },
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The view was never committed (or was dropped): events are ignored until a LIST is.
    NotCached,
    /// The events were applied (some perhaps ignored, see the counts).
    Updated(ApplyStats),
}

/// Freeing space down below this share of the limit re-arms the "cache full" log line.
const REARM_PERCENT: u64 = 90;

impl Store {
    /// Replaces the view's membership with `items` and sets its metadata, in one atomic batch:
    /// after a crash the view is its old or its new complete state, never a mix.
    ///
    /// A snapshot older than the stored one is refused ([`Committed::Stale`]). When the objects
    /// exceed the size limit nothing is written ([`StoreError::Full`]). Objects equal to the
    /// stored ones (same resourceVersion and bytes) are not rewritten.
    pub fn commit_list(
        &self,
        view: &ViewKey,
        meta: &ListMeta,
        items: &[Item<'_>],
    ) -> Result<Committed, StoreError> {
        let key = checked_key(view)?;
        let objs = objects_prefix(&key);
        let mut w = self.lock();
        let old = self.meta_of(&key)?;
        if let Some(old) = old
            .as_ref()
            .filter(|o| o.resource_version > meta.resource_version)
        {
            return Ok(Committed::Stale {
                current: old.resource_version,
            });
        }
        let new = newest_per_object(view, &objs, items)?;
        let bytes: u64 = new.values().map(|i| i.bytes.len() as u64).sum();
        let old_bytes = old.as_ref().map_or(0, |o| o.bytes);
        self.admit(&mut w, old_bytes, bytes)?;
        let mut batch = self.batch();
        let mut unchanged = BTreeSet::new();
        for guard in self.tree.prefix(&objs) {
            let (k, v) = guard.into_inner()?;
            match new.get(&*k) {
                None => batch.remove(&self.tree, k),
                Some(i) if same_object(&v, i)? => {
                    unchanged.insert(k);
                }
                Some(_) => {}
            }
        }
        for (k, i) in new
            .iter()
            .filter(|(k, _)| !unchanged.contains(k.as_slice()))
        {
            batch.insert(
                &self.tree,
                k.as_slice(),
                encode_object(i.resource_version, i.bytes),
            );
        }
        let now = unix_now();
        let stored = ViewMeta {
            resource_version: meta.resource_version,
            encoding: meta.encoding,
            api_version: meta.api_version.clone(),
            kind: meta.kind.clone(),
            count: new.len() as u64,
            bytes,
            committed_at: now,
            updated_at: now,
        };
        batch.insert(&self.tree, meta_key(&key), stored.encode());
        log::debug!(
            "cache: committing {} objects, {} unchanged",
            new.len(),
            unchanged.len()
        );
        self.commit(batch)?;
        self.account(&mut w, old_bytes, bytes);
        w.refused.remove(&key);
        Ok(Committed::Stored)
    }

    /// Stores the answer of a GET as its own single-object view (`view.name` = `item.name`).
    /// Like [`Store::commit_list`] with one object; an older object never replaces a newer one.
    pub fn put_object(
        &self,
        view: &ViewKey,
        meta: &ListMeta,
        item: &Item<'_>,
    ) -> Result<Committed, StoreError> {
        if view.name.is_empty() || view.name != item.name {
            return Err(StoreError::Invalid(format!(
                "object {:?} stored under view named {:?}",
                item.name, view.name
            )));
        }
        self.commit_list(view, meta, std::slice::from_ref(item))
    }

    /// Applies a burst of watch events of the view in one atomic batch (see `apply.rs` for the
    /// rules). A view never committed gives [`Applied::NotCached`] and is left alone.
    ///
    /// If the burst would grow the cache past its limit, nothing is written and every later burst
    /// of the view is refused too ([`StoreError::Full`]) until the next [`Store::commit_list`],
    /// so the view stays a state the upstream really had.
    pub fn apply(&self, view: &ViewKey, events: &[Event<'_>]) -> Result<Applied, StoreError> {
        let key = checked_key(view)?;
        let objs = objects_prefix(&key);
        let mut w = self.lock();
        let Some(meta) = self.meta_of(&key)? else {
            return Ok(Applied::NotCached);
        };
        if w.refused.contains(&key) {
            return Err(self.full(&mut w, 0));
        }
        let plan = apply::plan(view, &meta, events, |ns, name| {
            self.object_state(&objs, ns, name)
        })?;
        if plan.changes.is_empty() && plan.meta.resource_version == meta.resource_version {
            return Ok(Applied::Updated(plan.stats));
        }
        if let Err(e) = self.admit(&mut w, meta.bytes, plan.meta.bytes) {
            w.refused.insert(key);
            return Err(e);
        }
        let mut batch = self.batch();
        for ((ns, name), change) in &plan.changes {
            let k = member_key(&objs, ns, name);
            match change {
                Change::Put { rv, bytes } => batch.insert(&self.tree, k, encode_object(*rv, bytes)),
                Change::Delete => batch.remove(&self.tree, k),
            }
        }
        let stored = ViewMeta {
            updated_at: unix_now(),
            ..plan.meta
        };
        batch.insert(&self.tree, meta_key(&key), stored.encode());
        self.commit(batch)?;
        self.account(&mut w, meta.bytes, stored.bytes);
        Ok(Applied::Updated(plan.stats))
    }

    /// Removes the view and its objects (GC). Returns whether it existed.
    pub fn drop_view(&self, view: &ViewKey) -> Result<bool, StoreError> {
        self.retain(view, None, |_, _| false, true)
            .map(|dropped| dropped.is_some())
    }

    /// Removes the view and its objects if its resourceVersion is still `resource_version` (GC
    /// after a 404: a snapshot committed since the view was read is newer and stays). Returns
    /// whether it was removed.
    pub fn drop_view_at(&self, view: &ViewKey, resource_version: u64) -> Result<bool, StoreError> {
        self.retain(view, Some(resource_version), |_, _| false, true)
            .map(|dropped| dropped.is_some())
    }

    /// Removes the view's objects for which `keep(namespace, name)` is false (GC, e.g. pods no
    /// longer bound to this node); the view's resourceVersion stays. Returns how many went.
    pub fn retain_objects(
        &self,
        view: &ViewKey,
        keep: impl FnMut(&str, &str) -> bool,
    ) -> Result<usize, StoreError> {
        Ok(self.retain(view, None, keep, false)?.unwrap_or(0))
    }

    /// Removes objects `keep` refuses, and the view itself if `whole`; `None` if no such view
    /// (or, with `at`, if the view's resourceVersion is no longer `at`).
    fn retain(
        &self,
        view: &ViewKey,
        at: Option<u64>,
        mut keep: impl FnMut(&str, &str) -> bool,
        whole: bool,
    ) -> Result<Option<usize>, StoreError> {
        let key = checked_key(view)?;
        let objs = objects_prefix(&key);
        let mut w = self.lock();
        let Some(mut meta) = self
            .meta_of(&key)?
            .filter(|m| at.is_none_or(|rv| rv == m.resource_version))
        else {
            return Ok(None);
        };
        let old_bytes = meta.bytes;
        let mut batch = self.batch();
        let mut removed = 0;
        for guard in self.tree.prefix(&objs) {
            let (k, v) = guard.into_inner()?;
            let (ns, name) = member_name(&objs, &k).ok_or_else(|| corrupt_key(&k))?;
            if !keep(&ns, &name) {
                batch.remove(&self.tree, k);
                removed += 1;
                meta.count = meta.count.saturating_sub(1);
                meta.bytes = meta.bytes.saturating_sub(object_len(&v));
            }
        }
        if whole {
            batch.remove(&self.tree, meta_key(&key));
            w.refused.remove(&key);
            meta.bytes = 0;
        } else {
            meta.updated_at = unix_now();
            batch.insert(&self.tree, meta_key(&key), meta.encode());
        }
        self.commit(batch)?;
        self.account(&mut w, old_bytes, meta.bytes);
        Ok(Some(removed))
    }

    /// The stored metadata of the view with key `key`.
    pub(super) fn meta_of(&self, key: &[u8]) -> Result<Option<ViewMeta>, StoreError> {
        match self.tree.get(meta_key(key))? {
            Some(v) => ViewMeta::decode(&v).map(Some),
            None => Ok(None),
        }
    }

    /// resourceVersion and size of one stored object of the view `key`.
    fn object_state(
        &self,
        objs: &[u8],
        ns: &str,
        name: &str,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        let k = checked_member(objs, ns, name)?;
        match self.tree.get(k)? {
            Some(v) => Ok(Some((object_rv(&v)?, object_len(&v)))),
            None => Ok(None),
        }
    }

    /// Allows a write that takes the view from `old` to `new` bytes, or refuses it as full.
    fn admit(&self, w: &mut Writer, old: u64, new: u64) -> Result<(), StoreError> {
        let adding = new.saturating_sub(old);
        if adding == 0 || w.used.saturating_add(adding) <= self.limit {
            return Ok(());
        }
        Err(self.full(w, adding))
    }

    /// Records a view going from `old` to `new` bytes. Freeing space down below 90% of the limit
    /// re-arms the "cache full" line, so it is logged once per crossing, not once per refusal.
    fn account(&self, w: &mut Writer, old: u64, new: u64) {
        w.used = w.used.saturating_sub(old).saturating_add(new);
        if new < old && w.used < self.limit / 100 * REARM_PERCENT {
            w.full_logged = false;
        }
    }

    /// The `Full` error, logging one line per crossing of the limit.
    fn full(&self, w: &mut Writer, adding: u64) -> StoreError {
        if !w.full_logged {
            w.full_logged = true;
            log::warn!(
                "cache full: {} of {} bytes used (max_cache_bytes); new views and growing views are \
                 refused, existing ones are still served",
                w.used,
                self.limit
            );
        }
        StoreError::Full {
            used: w.used,
            adding,
            limit: self.limit,
        }
    }
}

/// The view's key, refused if no object key under it could fit the engine's limit.
fn checked_key(view: &ViewKey) -> Result<Vec<u8>, StoreError> {
    let key = view.encode();
    if key.len() + 9 >= MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "view key of {} bytes",
            key.len()
        )));
    }
    Ok(key)
}

fn checked_member(view: &[u8], ns: &str, name: &str) -> Result<Vec<u8>, StoreError> {
    let key = member_key(view, ns, name);
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "object key of {} bytes",
            key.len()
        )));
    }
    Ok(key)
}

/// The list's objects by key; when an object appears twice, its highest resourceVersion.
fn newest_per_object<'i, 'a>(
    view: &ViewKey,
    key: &[u8],
    items: &'i [Item<'a>],
) -> Result<BTreeMap<Vec<u8>, &'i Item<'a>>, StoreError> {
    let mut new: BTreeMap<Vec<u8>, &Item> = BTreeMap::new();
    for item in items {
        if !view.may_hold(item.namespace, item.name) {
            return Err(StoreError::Invalid(format!(
                "object {}/{} is outside the view",
                item.namespace, item.name
            )));
        }
        let k = checked_member(key, item.namespace, item.name)?;
        let slot = new.entry(k).or_insert(item);
        if item.resource_version > slot.resource_version {
            *slot = item;
        }
    }
    Ok(new)
}

fn same_object(stored: &[u8], item: &Item<'_>) -> Result<bool, StoreError> {
    Ok(object_rv(stored)? == item.resource_version
        && stored.get(OBJECT_HEADER..) == Some(item.bytes))
}

fn object_len(value: &[u8]) -> u64 {
    value.len().saturating_sub(OBJECT_HEADER) as u64
}

fn corrupt_key(key: &[u8]) -> StoreError {
    StoreError::Corrupt(format!("object key of {} bytes", key.len()))
}
