//! Pure state of one cached watch stream: bytes in, store steps out.
//!
//! Events arriving together become one `apply` batch (flash wear). A WatchList's initial ADDED
//! events stream into a new snapshot of the view, committed at the `initial-events-end`
//! bookmark. An ERROR event (410 Expired, ...) or undecodable bytes end caching of the stream;
//! what was applied before stays, the view is never wiped.

use super::decode::{next_event, OwnedEvent, OwnedItem};
use crate::k8s::decode_error::DecodeError;
use crate::k8s::meta::Encoding;
use crate::k8s::watch::MAX_FRAME_LEN;

/// What the writer does next with the store.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Objects of a WatchList's initial events, for the snapshot being built.
    Initial(Vec<OwnedItem>),
    /// The initial events are over: the snapshot is the view now, with this List metadata.
    Commit {
        api_version: String,
        kind: String,
        resource_version: u64,
    },
    /// Apply these events in one batch.
    Apply(Vec<OwnedEvent>),
}

/// Decoder state of one stream.
pub struct Watcher {
    enc: Encoding,
    buf: Vec<u8>,
    /// Leading bytes of `buf` known to hold no newline (JSON): a big event arriving in many
    /// frames is scanned once, not once per frame.
    no_newline: usize,
    /// `Some` while a WatchList's initial events come (those not handed out yet).
    initial: Option<Vec<OwnedItem>>,
    /// Set once the stream must not be cached any further.
    pub stopped: bool,
}

impl Watcher {
    /// A watcher; `watch_list` when the request asked for initial events.
    pub fn new(enc: Encoding, watch_list: bool) -> Watcher {
        Watcher {
            enc,
            buf: Vec::new(),
            no_newline: 0,
            initial: watch_list.then(Vec::new),
            stopped: false,
        }
    }

    /// Adds bytes; call [`Watcher::steps`] once everything available was added.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.stopped {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Decodes every complete event buffered and plans the store writes.
    pub fn steps(&mut self) -> Vec<Step> {
        if self.enc == Encoding::Json && !self.buf[self.no_newline..].contains(&b'\n') {
            self.no_newline = self.buf.len();
            if self.buf.len() > MAX_FRAME_LEN {
                let len = self.buf.len() as u64;
                self.stop(&DecodeError::TooLarge {
                    len,
                    max: MAX_FRAME_LEN as u64,
                });
            }
            return Vec::new();
        }
        let mut steps = Vec::new();
        let mut batch = Vec::new();
        let mut used = 0;
        while !self.stopped {
            match next_event(self.enc, &self.buf[used..]) {
                Ok(None) => break,
                Ok(Some((event, n))) => {
                    used += n;
                    self.on_event(event, &mut batch, &mut steps);
                }
                Err(e) => self.stop(&e),
            }
        }
        self.buf.drain(..used.min(self.buf.len()));
        // Decoding stopped at a line without its newline (or the stream stopped).
        self.no_newline = self.buf.len();
        if let Some(initial) = self.initial.as_mut().filter(|i| !i.is_empty()) {
            steps.push(Step::Initial(std::mem::take(initial)));
        }
        if !batch.is_empty() {
            steps.push(Step::Apply(batch));
        }
        steps
    }

    fn stop(&mut self, e: &DecodeError) {
        log::warn!("cache: undecodable watch event ({e}); no longer caching this stream");
        self.stopped = true;
        self.buf = Vec::new();
    }

    fn on_event(&mut self, event: OwnedEvent, batch: &mut Vec<OwnedEvent>, steps: &mut Vec<Step>) {
        if let Some(initial) = &mut self.initial {
            match event {
                OwnedEvent::Put(item) => initial.push(item),
                OwnedEvent::Delete(_) => {
                    log::warn!("cache: DELETED among a WatchList's initial events; not caching it");
                    self.error(0);
                }
                OwnedEvent::Bookmark {
                    resource_version,
                    end: true,
                    api_version,
                    kind,
                } => {
                    if !initial.is_empty() {
                        steps.push(Step::Initial(std::mem::take(initial)));
                    }
                    steps.push(Step::Commit {
                        api_version,
                        kind: format!("{kind}List"),
                        resource_version,
                    });
                    self.initial = None;
                }
                OwnedEvent::Bookmark { .. } => {}
                OwnedEvent::Error(code) => self.error(code),
            }
            return;
        }
        match event {
            OwnedEvent::Error(code) => self.error(code),
            e => batch.push(e),
        }
    }

    fn error(&mut self, code: i32) {
        log::debug!("cache: watch ended with ERROR {code}; the view stays as it was");
        self.stopped = true;
        self.initial = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::json::{bookmark_json, encode_watch_line};
    use crate::k8s::watch::EventType;

    fn pod(name: &str, rv: u64) -> Vec<u8> {
        format!(r#"{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"{name}","namespace":"d","resourceVersion":"{rv}"}}}}"#).into_bytes()
    }

    #[test]
    fn watch_list_commits_at_the_bookmark_then_applies() {
        let mut w = Watcher::new(Encoding::Json, true);
        let mut all = encode_watch_line(EventType::Added, &pod("a", 3));
        all.extend(encode_watch_line(EventType::Added, &pod("b", 4)));
        all.extend(bookmark_json("v1", "Pod", "5", true));
        all.extend(encode_watch_line(EventType::Modified, &pod("a", 6)));
        let (head, tail) = all.split_at(all.len() - 7);
        let (first, rest) = head.split_at(10);
        w.push(first);
        assert!(w.steps().is_empty(), "not one whole event yet");
        w.push(rest);
        let steps = w.steps();
        assert!(
            matches!(&steps[..], [Step::Initial(i), Step::Commit { kind, resource_version: 5, .. }] if i.len() == 2 && kind == "PodList"),
            "{steps:?}"
        );
        w.push(tail);
        assert!(matches!(&w.steps()[..], [Step::Apply(e)] if e.len() == 1));
    }

    #[test]
    fn a_big_event_in_many_pieces_is_decoded_once_whole() {
        let mut w = Watcher::new(Encoding::Json, false);
        let line = encode_watch_line(EventType::Added, &pod(&"n".repeat(100_000), 3));
        for piece in line.chunks(1000) {
            assert!(w.steps().is_empty());
            w.push(piece);
        }
        assert!(matches!(&w.steps()[..], [Step::Apply(e)] if e.len() == 1));
        let mut two = encode_watch_line(EventType::Added, &pod("a", 4));
        two.extend(encode_watch_line(EventType::Added, &pod("b", 5)));
        let (head, tail) = two.split_at(two.len() - 3);
        w.push(head);
        assert!(matches!(&w.steps()[..], [Step::Apply(e)] if e.len() == 1));
        w.push(tail);
        assert!(matches!(&w.steps()[..], [Step::Apply(e)] if e.len() == 1));
        assert!(!w.stopped);
    }

    #[test]
    fn initial_events_are_handed_out_as_they_come() {
        let mut w = Watcher::new(Encoding::Json, true);
        w.push(&encode_watch_line(EventType::Added, &pod("a", 3)));
        assert!(matches!(&w.steps()[..], [Step::Initial(i)] if i.len() == 1));
        w.push(&encode_watch_line(EventType::Deleted, &pod("a", 4)));
        assert!(
            w.steps().is_empty() && w.stopped,
            "a delete among them is not a snapshot"
        );
    }

    #[test]
    fn error_and_garbage_stop_caching() {
        let mut w = Watcher::new(Encoding::Json, false);
        w.push(&encode_watch_line(EventType::Added, &pod("a", 3)));
        w.push(b"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n");
        w.push(&encode_watch_line(EventType::Added, &pod("b", 4)));
        assert!(matches!(&w.steps()[..], [Step::Apply(e)] if e.len() == 1));
        assert!(w.stopped);
        let mut g = Watcher::new(Encoding::Protobuf, false);
        g.push(b"\0\0\0\x05hello");
        assert!(g.steps().is_empty() && g.stopped);
    }
}
