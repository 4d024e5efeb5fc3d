//! WATCH streams: replay from a resourceVersion, synthetic ADDED from "0"/"", WatchList initial
//! events ending in the `k8s.io/initial-events-end` BOOKMARK, periodic bookmarks, selectors
//! (objects moving in and out of a selection become ADDED / DELETED), timeouts, one chunk per event.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Response;
use serde_json::{json, Value};
use smol::channel::Receiver;
use smol::future::FutureExt;

use super::encode_pb;
use super::errors::DoubleError;
use super::list::Query;
use super::meta::{meta_str, now_secs, Ordered};
use super::negotiate::{Encoding, Form, Negotiated};
use super::render::{respond, to_json};
use super::resources::{self, Resource};
use super::store::{Event, EventType, Store};
use super::table::{partial_metadata, table_json};
use crate::net::http::{Body, BoxError};
use crate::net::shutdown::Shutdown;

/// How long a watch without `timeoutSeconds` stays open (kube-apiserver picks 30–60 min).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// Longest watch (and bookmark interval) honoured; larger `timeoutSeconds` are cut to it.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a watch request asked for.
#[derive(Debug, Clone)]
pub struct WatchPlan {
    pub res: usize,
    pub namespace: Option<String>,
    pub query: Query,
    pub neg: Negotiated,
}

fn invalid(message: &str) -> DoubleError {
    DoubleError::Invalid {
        kind: "ListOptions".into(),
        name: String::new(),
        message: message.into(),
    }
}

/// Where the stream starts, decided under the store lock.
enum Start {
    /// The stream is one in-stream ERROR (410) event.
    Expired(DoubleError),
    Live {
        sub: super::store::Subscription,
        min_rv: u64,
        initial_end: bool,
    },
}

/// Validates the options and subscribes. Errors here become a plain HTTP error answer.
fn begin(store: &mut Store, plan: &WatchPlan) -> Result<Start, DoubleError> {
    let q = &plan.query;
    let rv = q.rv_number()?;
    let initial = q.send_initial_events;
    if initial.is_some() {
        if q.rv_match.as_deref() != Some("NotOlderThan") {
            return Err(invalid("resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
        }
        if !q.allow_bookmarks {
            return Err(invalid("allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true"));
        }
    } else if q.rv_match.is_some() {
        return Err(invalid("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
    }
    let from = match (initial, rv) {
        (Some(true), Some(x)) if x > store.rv() => {
            return Err(DoubleError::TooLargeResourceVersion {
                requested: x,
                current: store.rv(),
            })
        }
        (Some(true), _) | (None, None | Some(0)) => None,
        (Some(false), None | Some(0)) => Some(store.rv()),
        (_, Some(x)) => Some(x),
    };
    match store.subscribe(plan.res, from) {
        Ok(sub) => {
            let min_rv = from.unwrap_or(sub.rv);
            Ok(Start::Live {
                sub,
                min_rv,
                initial_end: initial == Some(true),
            })
        }
        Err(e @ DoubleError::Expired(_)) => Ok(Start::Expired(e)),
        Err(e) => Err(e),
    }
}

struct Encoder {
    res: &'static Resource,
    plan: WatchPlan,
}

impl Encoder {
    fn passes(&self, obj: &Value) -> bool {
        self.plan
            .namespace
            .as_deref()
            .is_none_or(|ns| meta_str(obj, "namespace") == ns)
            && self.plan.query.matches(obj)
    }

    /// The event this watcher sees for a store event, if any.
    fn translate(&self, ev: &Event) -> Option<Vec<u8>> {
        if ev.res != self.plan.res {
            return None;
        }
        let now = self.passes(&ev.object);
        let before = ev.prev.as_deref().is_some_and(|p| self.passes(p));
        match (ev.kind, before, now) {
            (EventType::Added, _, true) => Some(self.event("ADDED", &ev.object)),
            (EventType::Deleted, _, true) => Some(self.event("DELETED", &ev.object)),
            (EventType::Modified, true, true) => Some(self.event("MODIFIED", &ev.object)),
            (EventType::Modified, false, true) => Some(self.event("ADDED", &ev.object)),
            (EventType::Modified, true, false) => {
                let mut gone = ev.prev.as_deref().cloned().unwrap_or(Value::Null);
                gone["metadata"]["resourceVersion"] = json!(ev.rv.to_string());
                Some(self.event("DELETED", &gone))
            }
            _ => None,
        }
    }

    fn event(&self, t: &str, obj: &Value) -> Vec<u8> {
        let neg = self.plan.neg;
        let object = match (neg.form, neg.encoding) {
            (_, Encoding::Protobuf) => {
                return encode_pb::watch_frame(t, &encode_pb::object_envelope(self.res, obj))
            }
            (Form::Table(v), _) => {
                let meta = super::list::ListMeta {
                    resource_version: meta_str(obj, "resourceVersion").to_string(),
                    ..Default::default()
                };
                table_json(
                    self.res,
                    &[obj],
                    v,
                    meta,
                    self.plan.query.include(),
                    now_secs(),
                )
            }
            (Form::PartialMetadata, _) => to_json(&Ordered(&partial_metadata(obj)), false),
            _ => to_json(&Ordered(obj), false),
        };
        json_line(t, &object)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Vec<u8> {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        if self.plan.neg.encoding == Encoding::Protobuf {
            let mut raw = Vec::new();
            encode_pb::bytes_field(&mut raw, 1, &encode_pb::object_meta(&meta));
            return encode_pb::watch_frame(
                "BOOKMARK",
                &encode_pb::envelope(&self.res.api_version(), self.res.kind, &raw),
            );
        }
        let mut obj =
            json!({"kind": self.res.kind, "apiVersion": self.res.api_version(), "metadata": meta});
        if self.res.kind == "Pod" {
            // What Go's zero-valued Pod serializes to, as in the captures.
            obj["spec"] = json!({"containers": null});
            obj["status"] = json!({});
        }
        json_line("BOOKMARK", &to_json(&Ordered(&obj), false))
    }

    fn error(&self, e: &DoubleError) -> Vec<u8> {
        let status = e.status();
        match self.plan.neg.encoding {
            Encoding::Protobuf => {
                encode_pb::watch_frame("ERROR", &encode_pb::status_envelope(&status))
            }
            _ => json_line("ERROR", &to_json(&status, false)),
        }
    }
}

fn json_line(t: &str, object: &[u8]) -> Vec<u8> {
    let mut out = format!("{{\"type\":\"{t}\",\"object\":").into_bytes();
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    out
}

struct State {
    enc: Encoder,
    pending: VecDeque<Vec<u8>>,
    rx: Option<Receiver<Arc<Event>>>,
    last_rv: u64,
    min_rv: u64,
    deadline: Instant,
    bookmarks: Option<(Duration, Instant)>,
    shutdown: Shutdown,
}

enum Wake {
    Event(Option<Arc<Event>>),
    Bookmark,
    End,
}

async fn next(mut st: State) -> Option<(Result<Frame<Bytes>, BoxError>, State)> {
    loop {
        if let Some(b) = st.pending.pop_front() {
            return Some((Ok(Frame::data(Bytes::from(b))), st));
        }
        let rx = st.rx.as_ref()?;
        let wake = async { Wake::Event(rx.recv().await.ok()) }
            .or(async {
                smol::Timer::at(st.deadline).await;
                Wake::End
            })
            .or(async {
                match st.bookmarks {
                    Some((_, at)) => smol::Timer::at(at).await,
                    None => smol::Timer::never().await,
                };
                Wake::Bookmark
            })
            .or(async {
                st.shutdown.wait().await;
                Wake::End
            })
            .await;
        match wake {
            Wake::Event(Some(ev)) => {
                st.last_rv = st.last_rv.max(ev.rv);
                if ev.rv > st.min_rv {
                    if let Some(b) = st.enc.translate(&ev) {
                        st.pending.push_back(b);
                    }
                }
            }
            Wake::Bookmark => {
                if let Some((every, at)) = st.bookmarks {
                    st.bookmarks = Some((every, at.max(Instant::now()) + every));
                    st.pending
                        .push_back(st.enc.bookmark(st.last_rv.max(st.min_rv), false));
                }
            }
            Wake::Event(None) | Wake::End => st.rx = None,
        }
    }
}

/// Answers a watch request: HTTP errors for invalid options, else a 200 stream.
pub fn serve(
    store: &std::sync::Mutex<Store>,
    plan: WatchPlan,
    bookmark_every: Duration,
    shutdown: Shutdown,
) -> Result<Response<Body>, DoubleError> {
    let res =
        resources::get(plan.res).ok_or_else(|| DoubleError::UnknownPath("resource".into()))?;
    let start = {
        let mut guard = store.lock().unwrap_or_else(|e| e.into_inner());
        begin(&mut guard, &plan)?
    };
    let timeout = plan
        .query
        .timeout_seconds
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
        .min(MAX_TIMEOUT);
    let bookmark_every = bookmark_every.min(MAX_TIMEOUT);
    let bookmarks = plan
        .query
        .allow_bookmarks
        .then(|| (bookmark_every, Instant::now() + bookmark_every));
    let content_type = plan.neg.watch_content_type();
    let enc = Encoder { res, plan };
    let mut st = State {
        pending: VecDeque::new(),
        rx: None,
        last_rv: 0,
        min_rv: 0,
        deadline: Instant::now() + timeout,
        bookmarks,
        shutdown,
        enc,
    };
    match start {
        Start::Expired(e) => st.pending.push_back(st.enc.error(&e)),
        Start::Live {
            sub,
            min_rv,
            initial_end,
        } => {
            for obj in &sub.snapshot {
                if st.enc.passes(obj) {
                    st.pending.push_back(st.enc.event("ADDED", obj));
                }
            }
            for ev in &sub.replay {
                st.pending.extend(st.enc.translate(ev));
            }
            if initial_end {
                st.pending.push_back(st.enc.bookmark(sub.rv, true));
            }
            st.last_rv = sub.rv;
            st.min_rv = min_rv;
            st.rx = Some(sub.rx);
        }
    }
    let stream = smol::stream::unfold(st, next);
    let mut r = respond(200, content_type, Vec::new());
    *r.body_mut() = StreamBody::new(stream).boxed_unsync();
    Ok(r)
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
