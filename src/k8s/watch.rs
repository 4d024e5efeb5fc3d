//! Watch vocabulary shared by the JSON and protobuf stream decoders: event types, limits, Status.

use std::borrow::Cow;

use super::decode_error::DecodeError;

/// Largest watch frame (protobuf) or line (JSON) a decoder accepts: 64 MiB.
///
/// kube-apiserver caps request bodies at 3 MiB and etcd values at 1.5 MiB by default, so real
/// objects are far below this; the cap only stops a hostile length prefix from making us buffer.
pub const MAX_FRAME_LEN: usize = 64 << 20;

/// The annotation on the BOOKMARK that ends a WatchList's initial events (its value is `"true"`).
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// The `type` of a watch event, as kube-apiserver spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `ADDED`: the object is new to this watch.
    Added,
    /// `MODIFIED`: the object changed.
    Modified,
    /// `DELETED`: the object is gone; the payload is its last state.
    Deleted,
    /// `BOOKMARK`: only `metadata.resourceVersion` (and annotations) are meaningful.
    Bookmark,
    /// `ERROR`: the object is a `Status` (for example 410 Expired); the stream ends after it.
    Error,
}

impl EventType {
    /// The wire spelling (`"ADDED"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }

    /// Parses the wire spelling; anything else (including lower case) is invalid.
    pub fn parse(s: &str) -> Result<EventType, DecodeError> {
        match s {
            "ADDED" => Ok(EventType::Added),
            "MODIFIED" => Ok(EventType::Modified),
            "DELETED" => Ok(EventType::Deleted),
            "BOOKMARK" => Ok(EventType::Bookmark),
            "ERROR" => Ok(EventType::Error),
            _ => Err(DecodeError::invalid("unknown watch event type")),
        }
    }
}

/// The parts of a `Status` a cache branches on (from an ERROR event or an error body).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusSummary<'a> {
    /// HTTP-like code, e.g. 410 for Expired; 0 when absent.
    pub code: i32,
    /// Machine-readable reason, e.g. `Expired`; empty when absent.
    pub reason: Cow<'a, str>,
    /// Human-readable message; empty when absent.
    pub message: Cow<'a, str>,
}
