//! Offline LIST and WatchList answers written in chunks as the store is read, on the blocking
//! pool: a view of any size is served in the memory of a few chunks.
//!
//! Protobuf Lists announce their length first, so their objects are read twice from the same
//! snapshot: once to add up their sizes, once to send them.

use bytes::Bytes;
use hyper::body::Frame;
use smol::stream::{Stream, StreamExt};

use super::read::Served;
use super::render;
use crate::k8s::json::list_json_frame;
use crate::k8s::pb::{item_framed_len, list_frame, put_item};
use crate::net::http::BoxError;
use crate::store::{Encoding, StoreError, StoredItem};

/// Bytes gathered before a chunk goes out.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks read ahead of the client.
const READ_AHEAD: usize = 4;

/// What is written around and for each object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A List with the view's resourceVersion.
    List,
    /// ADDED events, then the `initial-events-end` bookmark.
    WatchList,
}

/// The body of an offline LIST of `s`.
pub fn list(s: Served) -> impl Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + 'static {
    frames(Chunks::new(s, Shape::List))
}

/// The initial events of an offline WatchList of `s` (the stream stays open after them).
pub fn watch_list(
    s: Served,
) -> impl Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + 'static {
    frames(Chunks::new(s, Shape::WatchList))
}

fn frames(c: Chunks) -> impl Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + 'static {
    smol::Unblock::with_capacity(READ_AHEAD, c).map(|r| r.map(Frame::data))
}

type Items = Box<dyn Iterator<Item = Result<StoredItem, StoreError>> + Send>;

/// The blocking producer: an iterator of chunks.
struct Chunks {
    served: Served,
    shape: Shape,
    items: Option<Items>,
    buf: Vec<u8>,
    tail: Vec<u8>,
    first: bool,
    done: bool,
}

impl Chunks {
    fn new(served: Served, shape: Shape) -> Chunks {
        Chunks {
            served,
            shape,
            items: None,
            buf: Vec::new(),
            tail: Vec::new(),
            first: true,
            done: false,
        }
    }

    /// Head and tail of the answer (for a protobuf List: after adding up the objects' sizes).
    fn start(&mut self) -> Result<(), BoxError> {
        let m = &self.served.meta;
        let rv = m.resource_version.to_string();
        let kind = if m.kind.ends_with("List") {
            m.kind.clone()
        } else {
            format!("{}List", m.kind)
        };
        (self.buf, self.tail) = match (self.shape, m.encoding) {
            (Shape::List, Encoding::Json) => list_json_frame(&m.api_version, &kind, &rv),
            (Shape::List, Encoding::Protobuf) => {
                let mut len = 0;
                for i in self.served.items() {
                    len += item_framed_len(i?.bytes().len());
                }
                list_frame(&m.api_version, &kind, &rv, "", len)
            }
            (Shape::WatchList, _) => (
                Vec::new(),
                render::initial_events_end(m, m.resource_version),
            ),
        };
        self.items = Some(Box::new(self.served.items()));
        Ok(())
    }

    fn put(&mut self, i: &StoredItem) -> Result<(), BoxError> {
        let first = std::mem::replace(&mut self.first, false);
        match (self.shape, self.served.meta.encoding) {
            (Shape::List, Encoding::Json) => {
                if !first {
                    self.buf.push(b',');
                }
                self.buf.extend_from_slice(i.bytes());
            }
            (Shape::List, Encoding::Protobuf) => put_item(&mut self.buf, i.bytes()),
            (Shape::WatchList, _) => self
                .buf
                .extend(render::added(&self.served.meta, i.bytes())?),
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<Option<Bytes>, BoxError> {
        if self.items.is_none() {
            self.start()?;
        }
        while let Some(item) = self.items.as_mut().and_then(Iterator::next) {
            self.put(&item?)?;
            if self.buf.len() >= CHUNK_BYTES {
                return Ok(Some(Bytes::from(std::mem::take(&mut self.buf))));
            }
        }
        self.done = true;
        let mut last = std::mem::take(&mut self.buf);
        last.extend_from_slice(&self.tail);
        Ok(Some(Bytes::from(last)))
    }
}

impl Iterator for Chunks {
    type Item = Result<Bytes, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.fill();
        if r.is_err() {
            self.done = true;
        }
        r.transpose()
    }
}
