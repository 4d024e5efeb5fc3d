//! Streaming LIST commits: the objects of a LIST are written in chunks under a new generation
//! that no reader sees, and become the view in one small final batch that moves the view's
//! committed generation. Memory stays one chunk, whatever the size of the list.
//!
//! - [`Store::begin_list`] picks generation = committed + 1 and notes it in a pending record.
//! - [`ListWriter::push`] walks the old view in step with the incoming objects (a LIST comes in
//!   key order): unchanged objects are not rewritten, changed and new ones go to the new
//!   generation, old ones the list skipped get a deletion record there.
//! - [`ListWriter::finish`] commits: deletions for the rest of the old view, watch events that
//!   arrived meanwhile (deferred by `apply`, replayed if newer than the list), the metadata with
//!   the new generation. Then older versions are cleaned away.
//!
//! After a crash mid-list the pending record says which generation to purge; the view is its
//! old complete state. One LIST per view at a time: a second one is not cached
//! ([`StoreError::Busy`]).

use std::collections::hash_map::Entry;
use std::sync::{Arc, Weak};

use super::apply::{Event, Item};
use super::codec::{is_tombstone, object_rv, OBJECT_HEADER};
use super::db::Writer;
use super::key::{object_key, objects_prefix, pending_key, split_object_key};
use super::listwriter::ListWriter;
use super::visible::{Grouped, Versions};
use super::write::checked_key;
use super::{Store, StoreError, ViewKey};

/// Watch events held for a view while its LIST is written; past this the LIST is given up.
const MAX_DEFERRED_BYTES: usize = 4 * 1024 * 1024;

/// One watch event held back while the view's LIST is written (owned copy of an [`Event`]).
#[derive(Debug)]
pub(crate) enum Deferred {
    Put {
        namespace: String,
        name: String,
        rv: u64,
        bytes: Vec<u8>,
    },
    Delete {
        namespace: String,
        name: String,
        rv: u64,
    },
    Bookmark(u64),
}

impl Deferred {
    fn of(e: &Event<'_>) -> Deferred {
        match *e {
            Event::Put(i) => Deferred::Put {
                namespace: i.namespace.into(),
                name: i.name.into(),
                rv: i.resource_version,
                bytes: i.bytes.to_vec(),
            },
            Event::Delete {
                namespace,
                name,
                resource_version,
            } => Deferred::Delete {
                namespace: namespace.into(),
                name: name.into(),
                rv: resource_version,
            },
            Event::Bookmark { resource_version } => Deferred::Bookmark(resource_version),
        }
    }

    pub(crate) fn event(&self) -> Event<'_> {
        match self {
            Deferred::Put {
                namespace,
                name,
                rv,
                bytes,
            } => Event::Put(Item {
                namespace,
                name,
                resource_version: *rv,
                bytes,
            }),
            Deferred::Delete {
                namespace,
                name,
                rv,
            } => Event::Delete {
                namespace,
                name,
                resource_version: *rv,
            },
            Deferred::Bookmark(rv) => Event::Bookmark {
                resource_version: *rv,
            },
        }
    }

    pub(crate) fn rv(&self) -> u64 {
        match self {
            Deferred::Put { rv, .. } | Deferred::Delete { rv, .. } | Deferred::Bookmark(rv) => *rv,
        }
    }

    fn size(&self) -> usize {
        match self {
            Deferred::Put { bytes, .. } => bytes.len() + 64,
            _ => 64,
        }
    }
}

/// A view's LIST in progress, as the writer lock sees it.
pub(crate) struct Active {
    /// Alive while its [`ListWriter`] is.
    pub token: Weak<()>,
    /// Watch events of the view since the LIST began.
    pub deferred: Vec<Deferred>,
    deferred_bytes: usize,
    /// Set when the view changed under the LIST (GC, too many events): it must not commit.
    pub cancelled: bool,
}

impl Active {
    /// Whether the writer of this LIST went away without finishing.
    pub fn abandoned(&self) -> bool {
        self.token.strong_count() == 0
    }

    /// Holds `events` back; `false` when that would pass the limit (the caller then cancels).
    pub fn defer(&mut self, events: &[Event<'_>]) -> bool {
        let size: usize = events.iter().map(|e| Deferred::of(e).size()).sum();
        if self.deferred_bytes + size > MAX_DEFERRED_BYTES {
            return false;
        }
        self.deferred_bytes += size;
        self.deferred.extend(events.iter().map(Deferred::of));
        true
    }
}

impl Store {
    /// Starts writing a LIST into `view`. `Err(Busy)` when another LIST of the view is being
    /// written; nothing changes in the view until [`ListWriter::finish`].
    pub fn begin_list(&self, view: &ViewKey) -> Result<ListWriter, StoreError> {
        let key = checked_key(view)?;
        let objs = objects_prefix(&key);
        let mut w = self.lock();
        self.settle_abandoned(&mut w, &key)?;
        if w.active.contains_key(&key) {
            return Err(StoreError::Busy);
        }
        let base = self.meta_of(&key)?;
        let committed = base.as_ref().map_or(0, |m| m.generation);
        if self.tree.get(pending_key(&key))?.is_some() {
            self.purge_above(&objs, committed)?;
        }
        let generation = committed + 1;
        let mut b = self.chunk_batch();
        b.insert(&self.tree, pending_key(&key), generation.to_be_bytes());
        self.commit_chunk(b)?;
        let token = Arc::new(());
        w.active.insert(
            key.clone(),
            Active {
                token: Arc::downgrade(&token),
                deferred: Vec::new(),
                deferred_bytes: 0,
                cancelled: false,
            },
        );
        drop(w);
        Ok(ListWriter::new(view, key, generation, base, token))
    }

    /// Deletes every version above `committed` under `objs` (a crashed or given-up LIST's).
    pub(super) fn purge_above(&self, objs: &[u8], committed: u64) -> Result<(), StoreError> {
        let mut b = self.chunk_batch();
        let mut n = 0;
        for guard in self.tree.prefix(objs) {
            let k = guard.key()?;
            if split_object_key(&k).is_some_and(|(_, g)| g > committed) {
                b.remove(&self.tree, k);
                n += 1;
                if n % 4096 == 0 {
                    self.commit_chunk(std::mem::replace(&mut b, self.chunk_batch()))?;
                }
            }
        }
        self.commit_chunk(b)
    }

    /// If the view's LIST writer went away unfinished: purge its versions, apply the events it
    /// held back, forget it.
    pub(super) fn settle_abandoned(&self, w: &mut Writer, key: &[u8]) -> Result<(), StoreError> {
        let Entry::Occupied(e) = w.active.entry(key.to_vec()) else {
            return Ok(());
        };
        if !e.get().abandoned() {
            return Ok(());
        }
        let active = e.remove();
        let committed = self.meta_of(key)?.map_or(0, |m| m.generation);
        self.purge_above(&objects_prefix(key), committed)?;
        let mut b = self.chunk_batch();
        b.remove(&self.tree, pending_key(key));
        self.commit_chunk(b)?;
        self.apply_deferred(w, key, &active.deferred)
    }

    /// Applies held-back events to the committed view (its LIST did not commit).
    pub(super) fn apply_deferred(
        &self,
        w: &mut Writer,
        key: &[u8],
        deferred: &[Deferred],
    ) -> Result<(), StoreError> {
        if deferred.is_empty() {
            return Ok(());
        }
        let Some(view) = ViewKey::decode(key) else {
            return Ok(());
        };
        let events: Vec<Event<'_>> = deferred.iter().map(Deferred::event).collect();
        self.apply_locked(w, &view, &events).map(|_| ())
    }

    /// The version of `member` a LIST at `generation` over committed `base` would leave: its own
    /// record if it wrote one, else the committed one.
    pub(super) fn pending_state(
        &self,
        member: &[u8],
        generation: u64,
        base: u64,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        if let Some(v) = self.tree.get(object_key(member, generation))? {
            return state(&v);
        }
        match self.versions(member)?.visible(base) {
            Some((_, v)) => state(v),
            None => Ok(None),
        }
    }

    /// Every stored version of one object (live, not from a snapshot).
    pub(super) fn versions(&self, member: &[u8]) -> Result<Versions, StoreError> {
        Ok(Grouped::new(self.tree.prefix(member))
            .next()
            .transpose()?
            .unwrap_or(Versions {
                versions: Vec::new(),
            }))
    }

    /// Removes versions of the view's objects that its committed generation shadows, and
    /// deletion records nothing older needs any more. Holds the writer lock chunk by chunk.
    pub(super) fn clean(&self, key: &[u8]) -> Result<(), StoreError> {
        let objs = objects_prefix(key);
        let end = prefix_end(&objs);
        let mut from = objs.clone();
        loop {
            let w = self.lock();
            let Some(meta) = self.meta_of(key)? else {
                return Ok(());
            };
            let mut b = self.chunk_batch();
            let mut seen = 0;
            let mut resume = None;
            let range = match &end {
                Some(end) => self.tree.range(from.clone()..end.clone()),
                None => self.tree.range(from.clone()..),
            };
            for group in Grouped::new(range) {
                let g = group?;
                seen += g.versions.len();
                if let Some((newest, v)) = g.newest(meta.generation) {
                    let (top, tomb) = (generation(newest), is_tombstone(v));
                    for (k, _) in &g.versions {
                        let gen = generation(k);
                        if gen < top || (tomb && gen == top) {
                            b.remove(&self.tree, k.clone());
                        }
                    }
                }
                if seen >= 4096 {
                    resume = g.versions.last().map(|(k, _)| successor(k));
                    break;
                }
            }
            self.commit_chunk(b)?;
            drop(w);
            match resume {
                Some(n) => from = n,
                None => return Ok(()),
            }
        }
    }
}

fn generation(key: &[u8]) -> u64 {
    split_object_key(key).map_or(u64::MAX, |(_, g)| g)
}

/// The smallest key after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut n = key.to_vec();
    n.push(0);
    n
}

/// The smallest key after every key starting with `prefix` (`None`: no such key).
pub(super) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// resourceVersion and size of a stored value; `None` for a deletion record.
pub(super) fn state(v: &[u8]) -> Result<Option<(u64, u64)>, StoreError> {
    if is_tombstone(v) {
        return Ok(None);
    }
    Ok(Some((
        object_rv(v)?,
        v.len().saturating_sub(OBJECT_HEADER) as u64,
    )))
}
