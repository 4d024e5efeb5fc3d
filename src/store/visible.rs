//! Which stored version of an object belongs to its view: the newest one at or below the view's
//! committed generation, unless that one records a deletion.
//!
//! Versions above the committed generation belong to a LIST still being written (`list.rs`) and
//! are never seen; after a commit, older versions are shadowed until the cleanup removes them.

use fjall::{Guard, Slice};

use super::codec::is_tombstone;
use super::key::split_object_key;
use super::StoreError;

/// One stored version: its full key (member + generation) and value.
pub(crate) type Record = (Slice, Slice);

/// The member part of an object key (without the generation).
pub(crate) fn member_of(key: &[u8]) -> Result<&[u8], StoreError> {
    split_object_key(key)
        .map(|(m, _)| m)
        .ok_or_else(|| StoreError::Corrupt(format!("object key of {} bytes", key.len())))
}

fn generation_of(key: &[u8]) -> u64 {
    split_object_key(key).map_or(u64::MAX, |(_, g)| g)
}

/// Every version of one object, grouped: `versions` in key (= generation) order.
pub(crate) struct Versions {
    pub versions: Vec<Record>,
}

impl Versions {
    /// The version that belongs to the view at `committed`, if it is an object.
    pub fn visible(&self, committed: u64) -> Option<&Record> {
        self.newest(committed).filter(|(_, v)| !is_tombstone(v))
    }

    /// The newest version at or below `committed`, deletion or not.
    pub fn newest(&self, committed: u64) -> Option<&Record> {
        self.versions
            .iter()
            .rev()
            .find(|(k, _)| generation_of(k) <= committed)
    }
}

/// Groups the key-ordered records of one view by object.
pub(crate) struct Grouped<I: Iterator<Item = Guard>> {
    inner: I,
    held: Option<Record>,
}

impl<I: Iterator<Item = Guard>> Grouped<I> {
    pub fn new(inner: I) -> Self {
        Grouped { inner, held: None }
    }

    fn pull(&mut self) -> Option<Result<Record, StoreError>> {
        if let Some(r) = self.held.take() {
            return Some(Ok(r));
        }
        Some(self.inner.next()?.into_inner().map_err(StoreError::from))
    }
}

impl<I: Iterator<Item = Guard>> Iterator for Grouped<I> {
    type Item = Result<Versions, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = match self.pull()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        let member = match member_of(&first.0) {
            Ok(m) => m.to_vec(),
            Err(e) => return Some(Err(e)),
        };
        let mut versions = vec![first];
        while let Some(next) = self.pull() {
            let r = match next {
                Ok(r) => r,
                Err(e) => return Some(Err(e)),
            };
            if member_of(&r.0).is_ok_and(|m| m == member.as_slice()) {
                versions.push(r);
            } else {
                self.held = Some(r);
                break;
            }
        }
        Some(Ok(Versions { versions }))
    }
}

/// The objects of a view at generation `committed`, in key order: one record each.
pub(crate) struct Visible<I: Iterator<Item = Guard>> {
    groups: Grouped<I>,
    committed: u64,
}

impl<I: Iterator<Item = Guard>> Visible<I> {
    pub fn new(inner: I, committed: u64) -> Self {
        Visible {
            groups: Grouped::new(inner),
            committed,
        }
    }
}

impl<I: Iterator<Item = Guard>> Iterator for Visible<I> {
    type Item = Result<Record, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.groups.next()? {
                Err(e) => return Some(Err(e)),
                Ok(g) => {
                    if let Some(r) = g.visible(self.committed) {
                        return Some(Ok(r.clone()));
                    }
                }
            }
        }
    }
}
