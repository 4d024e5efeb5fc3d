//! [`ListWriter`]: one LIST streamed into the next generation of its view (see `list.rs`).

use std::cmp::Ordering;
use std::sync::Arc;

use fjall::{Iter, OwnedWriteBatch};

use super::apply::{self, Change, Event, Item};
use super::codec::{encode_object, is_tombstone, object_rv, OBJECT_HEADER, TOMBSTONE};
use super::db::{unix_now, Writer};
use super::key::{
    member_key, meta_key, object_key, objects_prefix, pending_key, GENERATION_BYTES, MAX_KEY_BYTES,
};
use super::list::prefix_end;
use super::list::{state, Active, Deferred};
use super::visible::{member_of, Grouped, Record, Visible};
use super::write::{Committed, ListMeta};
use super::{Store, StoreError, ViewKey, ViewMeta};

/// Bytes of objects gathered before a chunk is handed to the engine.
const CHUNK_BYTES: usize = 512 * 1024;

/// A LIST being written into one view. Push its objects, then [`ListWriter::finish`]; dropping
/// it unfinished leaves the view as it was (its writes are purged later).
pub struct ListWriter {
    view: ViewKey,
    key: Vec<u8>,
    objs: Vec<u8>,
    generation: u64,
    base: Option<ViewMeta>,
    /// The committed objects, walked in step with the pushed ones. The committed generation
    /// does not change while a LIST is written (events wait, GC cancels), so the walk reads
    /// the live tree: a snapshot held for the whole LIST would pin every memtable written
    /// meanwhile. The iterator lives for one `push`; `resume` is where the next one starts.
    old: Option<Visible<Iter>>,
    resume: Option<Vec<u8>>,
    next_old: Option<Record>,
    last: Option<Vec<u8>>,
    count: u64,
    bytes: u64,
    /// Whether older versions must be cleaned after the commit.
    shadowed: bool,
    /// Set once the LIST was given up after an error.
    dead: bool,
    #[allow(dead_code)] // held: the store sees the LIST as abandoned once it is dropped
    token: Arc<()>,
}

impl ListWriter {
    pub(super) fn new(
        view: &ViewKey,
        key: Vec<u8>,
        generation: u64,
        base: Option<ViewMeta>,
        token: Arc<()>,
    ) -> ListWriter {
        let objs = objects_prefix(&key);
        ListWriter {
            view: view.clone(),
            resume: base.as_ref().map(|_| objs.clone()),
            objs,
            key,
            generation,
            base,
            old: None,
            next_old: None,
            last: None,
            count: 0,
            bytes: 0,
            shadowed: false,
            dead: false,
            token,
        }
    }

    /// Distinct objects pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Bytes of the objects pushed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn base_generation(&self) -> u64 {
        self.base.as_ref().map_or(0, |m| m.generation)
    }

    fn base_bytes(&self) -> u64 {
        self.base.as_ref().map_or(0, |m| m.bytes)
    }

    /// Adds objects of the LIST (key order is the fast path; any order is right). An object
    /// outside the view ([`StoreError::Invalid`]) or growth past the size limit
    /// ([`StoreError::Full`]) gives the LIST up: later calls fail, the view stays as it was.
    pub fn push(&mut self, store: &Store, items: &[Item<'_>]) -> Result<(), StoreError> {
        if self.dead {
            return Err(given_up());
        }
        let r = self.push_all(store, items);
        self.old = None; // see `old`
        if r.is_err() {
            self.give_up(store);
        }
        r
    }

    fn push_all(&mut self, store: &Store, items: &[Item<'_>]) -> Result<(), StoreError> {
        let mut b = store.chunk_batch();
        let mut gathered = 0;
        for item in items {
            if !self.view.may_hold(item.namespace, item.name) {
                return Err(StoreError::Invalid(format!(
                    "object {}/{} is outside the view",
                    item.namespace, item.name
                )));
            }
            let m = member_key(&self.objs, item.namespace, item.name);
            gathered += item.bytes.len() + m.len();
            if m.len() + GENERATION_BYTES > MAX_KEY_BYTES {
                return Err(StoreError::Invalid(format!(
                    "object key of {} bytes",
                    m.len() + GENERATION_BYTES
                )));
            }
            if self.last.as_ref().is_none_or(|l| m > *l) {
                self.in_order(store, &mut b, &m, item)?;
                self.last = Some(m);
            } else {
                store.commit_chunk(std::mem::replace(&mut b, store.chunk_batch()))?;
                self.out_of_order(store, &mut b, &m, item)?;
            }
            if gathered >= CHUNK_BYTES {
                self.admit(store)?;
                store.wait_for_flushes()?;
                store.commit_chunk(std::mem::replace(&mut b, store.chunk_batch()))?;
                gathered = 0;
            }
        }
        self.admit(store)?;
        store.wait_for_flushes()?;
        store.commit_chunk(b)
    }

    fn admit(&self, store: &Store) -> Result<(), StoreError> {
        let mut w = store.lock();
        store.admit(&mut w, self.base_bytes(), self.bytes)
    }

    /// The next committed object not yet walked past (a cheap clone: slices share memory).
    fn peek_old(&mut self, store: &Store) -> Result<Option<Record>, StoreError> {
        if self.next_old.is_some() {
            return Ok(self.next_old.clone());
        }
        let Some(from) = &self.resume else {
            return Ok(None);
        };
        if self.old.is_none() {
            let range = match prefix_end(&self.objs) {
                Some(end) => store.tree.range(from.clone()..end),
                None => store.tree.range(from.clone()..),
            };
            self.old = Some(Visible::new(range, self.base_generation()));
        }
        self.next_old = self.old.as_mut().and_then(Iterator::next).transpose()?;
        if self.next_old.is_none() {
            self.resume = None;
        }
        Ok(self.next_old.clone())
    }

    /// The peeked committed object is walked past.
    fn walked(&mut self) -> Result<(), StoreError> {
        if let Some((k, _)) = self.next_old.take() {
            self.resume = prefix_end(member_of(&k)?);
        }
        Ok(())
    }

    fn put(&mut self, store: &Store, b: &mut OwnedWriteBatch, member: &[u8], item: &Item<'_>) {
        let k = object_key(member, self.generation);
        b.insert(
            &store.tree,
            k,
            encode_object(item.resource_version, item.bytes),
        );
    }

    /// An object after every one pushed so far: the old view is walked up to it.
    fn in_order(
        &mut self,
        store: &Store,
        b: &mut OwnedWriteBatch,
        m: &[u8],
        item: &Item<'_>,
    ) -> Result<(), StoreError> {
        let generation = self.generation;
        while let Some((ok, ov)) = self.peek_old(store)? {
            let om = member_of(&ok)?;
            match om.cmp(m) {
                Ordering::Less => {
                    b.insert(&store.tree, object_key(om, generation), TOMBSTONE);
                    self.shadowed = true;
                    self.walked()?;
                }
                Ordering::Equal => {
                    let same = object_rv(&ov)? == item.resource_version
                        && ov.get(OBJECT_HEADER..) == Some(item.bytes);
                    self.walked()?;
                    if !same {
                        self.put(store, b, m, item);
                        self.shadowed = true;
                    }
                    self.tally(item.bytes.len() as u64);
                    return Ok(());
                }
                Ordering::Greater => break,
            }
        }
        self.put(store, b, m, item);
        self.tally(item.bytes.len() as u64);
        Ok(())
    }

    /// Counts one more object of `len` bytes in the new generation.
    fn tally(&mut self, len: u64) {
        self.count += 1;
        self.bytes += len;
    }

    /// An object at or before one pushed already: a duplicate, or a LIST out of key order.
    /// The old view is already walked past it, so what happened to it shows in the store.
    fn out_of_order(
        &mut self,
        store: &Store,
        b: &mut OwnedWriteBatch,
        m: &[u8],
        item: &Item<'_>,
    ) -> Result<(), StoreError> {
        let len = item.bytes.len() as u64;
        let newer = |old: &[u8]| -> Result<Option<u64>, StoreError> {
            Ok(state(old)?
                .filter(|(rv, _)| item.resource_version > *rv)
                .map(|(_, l)| l))
        };
        match store.tree.get(object_key(m, self.generation))? {
            // Walked past as missing: it is in the list after all.
            Some(v) if is_tombstone(&v) => self.tally(len),
            // Pushed twice: the higher resourceVersion stays.
            Some(v) => match newer(&v)? {
                Some(old_len) => self.bytes = self.bytes + len - old_len.min(self.bytes),
                None => return Ok(()),
            },
            None => {
                let old = Grouped::new(store.tree.prefix(m)).next().transpose()?;
                match old.as_ref().and_then(|g| g.visible(self.base_generation())) {
                    // Matched unchanged before: pushed twice.
                    Some((_, ov)) => match newer(ov)? {
                        Some(old_len) => {
                            self.bytes = self.bytes + len - old_len.min(self.bytes);
                            self.shadowed = true;
                        }
                        None => return Ok(()),
                    },
                    None => self.tally(len),
                }
            }
        }
        self.put(store, b, m, item);
        Ok(())
    }

    /// Commits the LIST: afterwards the view holds exactly the pushed objects (plus watch events
    /// newer than `meta`'s resourceVersion that arrived meanwhile), durable per the sync policy.
    ///
    /// [`Committed::Stale`] when the view already held a newer snapshot; [`Committed::Cancelled`]
    /// when the view was dropped or changed by GC meanwhile. Either way nothing changed.
    pub fn finish(mut self, store: &Store, meta: &ListMeta) -> Result<Committed, StoreError> {
        if self.dead {
            return Err(given_up());
        }
        let r = self.commit(store, meta);
        if r.is_err() {
            self.give_up(store);
        }
        r
    }

    fn commit(&mut self, store: &Store, meta: &ListMeta) -> Result<Committed, StoreError> {
        let mut b = store.chunk_batch();
        let mut n = 0;
        while let Some((ok, _)) = self.peek_old(store)? {
            b.insert(
                &store.tree,
                object_key(member_of(&ok)?, self.generation),
                TOMBSTONE,
            );
            self.walked()?;
            self.shadowed = true;
            n += 1;
            if n % 4096 == 0 {
                store.commit_chunk(std::mem::replace(&mut b, store.chunk_batch()))?;
            }
        }
        store.commit_chunk(b)?;
        self.old = None;
        let mut w = store.lock();
        let Some(active) = w.active.remove(&self.key) else {
            return Err(given_up());
        };
        self.dead = true; // from here on this LIST is settled, whatever happens
        if active.cancelled {
            self.discard(store, &mut w, &active)?;
            return Ok(Committed::Cancelled);
        }
        if let Some(c) = store
            .meta_of(&self.key)?
            .filter(|c| c.resource_version > meta.resource_version)
        {
            self.discard(store, &mut w, &active)?;
            return Ok(Committed::Stale {
                current: c.resource_version,
            });
        }
        match self.final_batch(store, &mut w, meta, &active) {
            Ok(()) => {}
            Err(e) => {
                self.discard(store, &mut w, &active)?;
                return Err(e);
            }
        }
        drop(w);
        if self.shadowed {
            store.clean(&self.key)?;
        }
        Ok(Committed::Stored)
    }

    /// Watch events newer than the list, the metadata with the new generation, in one batch.
    fn final_batch(
        &mut self,
        store: &Store,
        w: &mut Writer,
        meta: &ListMeta,
        active: &Active,
    ) -> Result<(), StoreError> {
        let now = unix_now();
        let mut new = ViewMeta {
            resource_version: meta.resource_version,
            encoding: meta.encoding,
            api_version: meta.api_version.clone(),
            kind: meta.kind.clone(),
            count: self.count,
            bytes: self.bytes,
            committed_at: now,
            updated_at: now,
            generation: self.generation,
        };
        let mut b = store.batch();
        let later: Vec<Event<'_>> = active
            .deferred
            .iter()
            .filter(|d| d.rv() > meta.resource_version)
            .map(Deferred::event)
            .collect();
        if !later.is_empty() {
            let (objs, generation, base) = (&self.objs, self.generation, self.base_generation());
            let plan = apply::plan(&self.view, &new, &later, |ns, name| {
                store.pending_state(&member_key(objs, ns, name), generation, base)
            })?;
            for ((ns, name), change) in &plan.changes {
                let k = object_key(&member_key(objs, ns, name), generation);
                match change {
                    Change::Put { rv, bytes } => {
                        b.insert(&store.tree, k, encode_object(*rv, bytes))
                    }
                    Change::Delete => b.insert(&store.tree, k, TOMBSTONE),
                }
            }
            self.shadowed |= !plan.changes.is_empty();
            new = ViewMeta {
                generation,
                ..plan.meta
            };
        }
        store.admit(w, self.base_bytes(), new.bytes)?;
        b.insert(&store.tree, meta_key(&self.key), new.encode());
        b.remove(&store.tree, pending_key(&self.key));
        store.commit(b)?;
        store.account(w, self.base_bytes(), new.bytes);
        w.refused.remove(&self.key);
        Ok(())
    }

    /// Purges what this LIST wrote and applies the events held back for it to the committed view.
    fn discard(&self, store: &Store, w: &mut Writer, active: &Active) -> Result<(), StoreError> {
        let committed = store.meta_of(&self.key)?.map_or(0, |m| m.generation);
        store.purge_above(&self.objs, committed)?;
        let mut b = store.chunk_batch();
        b.remove(&store.tree, pending_key(&self.key));
        store.commit_chunk(b)?;
        store.apply_deferred(w, &self.key, &active.deferred)
    }

    /// Gives the LIST up now (after an error); the view stays as it was.
    fn give_up(&mut self, store: &Store) {
        if self.dead {
            return;
        }
        self.dead = true;
        let mut w = store.lock();
        if let Some(active) = w.active.remove(&self.key) {
            if let Err(e) = self.discard(store, &mut w, &active) {
                log::warn!("cache: cleaning up a given-up LIST failed: {e}");
            }
        }
    }
}

fn given_up() -> StoreError {
    StoreError::Invalid("this LIST was given up after an error".into())
}
