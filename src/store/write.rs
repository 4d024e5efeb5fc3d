//! Writes: a LIST (or GET) replaces a view atomically (`list.rs`), watch events update it, GC
//! helpers.
//!
//! Every write holds the writer lock from the first read to the commit and is journaled (synced
//! per policy) before the call returns. Events and GC write the view's committed generation.

use std::collections::BTreeMap;

use fjall::Slice;

use super::apply::{self, ApplyStats, Change, Event, Item};
use super::codec::{encode_object, OBJECT_HEADER};
use super::db::{unix_now, Writer};
use super::key::{
    member_key, member_name, meta_key, object_key, objects_prefix, pending_key, split_object_key,
    GENERATION_BYTES, MAX_KEY_BYTES,
};
use super::list::state;
use super::visible::{member_of, Grouped};
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
    /// The view was dropped or pruned (GC) while the LIST was written; nothing was written.
    Cancelled,
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The view was never committed (or was dropped): events are ignored until a LIST is.
    NotCached,
    /// The events were applied (some perhaps ignored, see the counts).
    Updated(ApplyStats),
    /// A LIST of the view is being written: the events are held and applied after it, on top
    /// of it if newer than the list.
    Deferred,
}

/// Freeing space down below this share of the limit re-arms the "cache full" log line.
const REARM_PERCENT: u64 = 90;

impl Store {
    /// Replaces the view's membership with `items` and sets its metadata: after a crash the view
    /// is its old or its new complete state, never a mix. A LIST that does not fit in memory is
    /// written with [`Store::begin_list`] instead; this is that, in one go.
    ///
    /// A snapshot older than the stored one is refused ([`Committed::Stale`]). When the objects
    /// exceed the size limit nothing changes ([`StoreError::Full`]). Objects equal to the
    /// stored ones (same resourceVersion and bytes) are not rewritten. When an object appears
    /// twice, its highest resourceVersion stays.
    pub fn commit_list(
        &self,
        view: &ViewKey,
        meta: &ListMeta,
        items: &[Item<'_>],
    ) -> Result<Committed, StoreError> {
        let mut w = self.begin_list(view)?;
        w.push(self, items)?;
        w.finish(self, meta)
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
    /// rules). A view never committed gives [`Applied::NotCached`] and is left alone. While a
    /// LIST of the view is being written, events are held and replayed on top of it
    /// ([`Applied::Deferred`]).
    ///
    /// If the burst would grow the cache past its limit, nothing is written and every later burst
    /// of the view is refused too ([`StoreError::Full`]) until the next [`Store::commit_list`],
    /// so the view stays a state the upstream really had.
    pub fn apply(&self, view: &ViewKey, events: &[Event<'_>]) -> Result<Applied, StoreError> {
        let key = checked_key(view)?;
        let mut w = self.lock();
        self.settle_abandoned(&mut w, &key)?;
        let Some(active) = w.active.get_mut(&key) else {
            return self.apply_locked(&mut w, view, events);
        };
        if active.cancelled || !active.defer(events) {
            // Too much held back: the LIST cannot commit; the events go to the view now.
            active.cancelled = true;
            let held = std::mem::take(&mut active.deferred);
            self.apply_deferred(&mut w, &key, &held)?;
            return self.apply_locked(&mut w, view, events);
        }
        Ok(Applied::Deferred)
    }

    /// [`Store::apply`] with the writer lock held and no LIST in the way.
    pub(super) fn apply_locked(
        &self,
        w: &mut Writer,
        view: &ViewKey,
        events: &[Event<'_>],
    ) -> Result<Applied, StoreError> {
        let key = checked_key(view)?;
        let objs = objects_prefix(&key);
        let Some(meta) = self.meta_of(&key)? else {
            return Ok(Applied::NotCached);
        };
        if w.refused.contains(&key) {
            return Err(self.full(w, 0));
        }
        let committed = meta.generation;
        let mut older: BTreeMap<Vec<u8>, Vec<Slice>> = BTreeMap::new();
        let plan = apply::plan(view, &meta, events, |ns, name| {
            let m = checked_member(&objs, ns, name)?;
            let versions = self.versions(&m)?;
            let current = match versions.visible(committed) {
                Some((_, v)) => state(v)?,
                None => None,
            };
            let keys = versions
                .versions
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| split_object_key(k).is_some_and(|(_, g)| g <= committed))
                .collect();
            older.insert(m, keys);
            Ok(current)
        })?;
        if plan.changes.is_empty() && plan.meta.resource_version == meta.resource_version {
            return Ok(Applied::Updated(plan.stats));
        }
        if let Err(e) = self.admit(w, meta.bytes, plan.meta.bytes) {
            w.refused.insert(key);
            return Err(e);
        }
        let mut batch = self.batch();
        for ((ns, name), change) in &plan.changes {
            let m = member_key(&objs, ns, name);
            let at = object_key(&m, committed);
            for k in older.get(&m).into_iter().flatten() {
                if **k != *at {
                    batch.remove(&self.tree, k.clone());
                }
            }
            match change {
                Change::Put { rv, bytes } => {
                    batch.insert(&self.tree, at, encode_object(*rv, bytes))
                }
                Change::Delete => batch.remove(&self.tree, at),
            }
        }
        let stored = ViewMeta {
            updated_at: unix_now(),
            ..plan.meta
        };
        batch.insert(&self.tree, meta_key(&key), stored.encode());
        self.commit(batch)?;
        self.account(w, meta.bytes, stored.bytes);
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
    /// (or, with `at`, if the view's resourceVersion is no longer `at`). A LIST of the view
    /// being written is cancelled: it was read from the view before.
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
        self.settle_abandoned(&mut w, &key)?;
        let Some(mut meta) = self
            .meta_of(&key)?
            .filter(|m| at.is_none_or(|rv| rv == m.resource_version))
        else {
            return Ok(None);
        };
        if let Some(active) = w.active.get_mut(&key) {
            active.cancelled = true;
        }
        let old_bytes = meta.bytes;
        let mut batch = self.batch();
        let mut removed = 0;
        for group in Grouped::new(self.tree.prefix(&objs)) {
            let g = group?;
            let visible = g.visible(meta.generation).cloned();
            let gone = match &visible {
                Some((k, v)) => {
                    let m = member_of(k)?;
                    let (ns, name) = member_name(&objs, m).ok_or_else(|| corrupt_key(k))?;
                    !keep(&ns, &name) && {
                        meta.count = meta.count.saturating_sub(1);
                        meta.bytes = meta.bytes.saturating_sub(object_len(v));
                        removed += 1;
                        true
                    }
                }
                None => false,
            };
            for (k, _) in &g.versions {
                let committed = split_object_key(k).is_some_and(|(_, gen)| gen <= meta.generation);
                if whole || (gone && committed) {
                    batch.remove(&self.tree, k.clone());
                }
            }
        }
        if whole {
            batch.remove(&self.tree, meta_key(&key));
            batch.remove(&self.tree, pending_key(&key));
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

    /// Allows a write that takes the view from `old` to `new` bytes, or refuses it as full.
    pub(super) fn admit(&self, w: &mut Writer, old: u64, new: u64) -> Result<(), StoreError> {
        let adding = new.saturating_sub(old);
        if adding == 0 || w.used.saturating_add(adding) <= self.limit {
            return Ok(());
        }
        Err(self.full(w, adding))
    }

    /// Records a view going from `old` to `new` bytes. Freeing space down below 90% of the limit
    /// re-arms the "cache full" line, so it is logged once per crossing, not once per refusal.
    pub(super) fn account(&self, w: &mut Writer, old: u64, new: u64) {
        w.used = w.used.saturating_sub(old).saturating_add(new);
        if new < old && w.used < self.limit / 100 * REARM_PERCENT {
            w.full_logged = false;
        }
    }

    /// The `Full` error, logging one line per crossing of the limit.
    pub(super) fn full(&self, w: &mut Writer, adding: u64) -> StoreError {
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
pub(super) fn checked_key(view: &ViewKey) -> Result<Vec<u8>, StoreError> {
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
    if key.len() + GENERATION_BYTES > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "object key of {} bytes",
            key.len()
        )));
    }
    Ok(key)
}

fn object_len(value: &[u8]) -> u64 {
    value.len().saturating_sub(OBJECT_HEADER) as u64
}

fn corrupt_key(key: &[u8]) -> StoreError {
    StoreError::Corrupt(format!("object key of {} bytes", key.len()))
}
