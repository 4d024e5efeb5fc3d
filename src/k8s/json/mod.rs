//! Kubernetes JSON without full deserialization: metadata, Lists, watch lines, and encoders.
//!
//! Narrow serde structs pick out what the cache needs; objects stay `&RawValue` slices of the
//! input, so stored bytes are exactly what the upstream sent.

mod encode;
mod list;
mod meta;
mod watch;

pub use encode::{
    bookmark_json, compact, encode_list_json, encode_watch_line, list_json_frame, with_type_meta,
    without_type_meta,
};
pub use list::{decode_list_json, decode_list_meta_json, json_text, JsonList};
pub use meta::{object_meta_json, status_json, JsonMeta};
pub use watch::{decode_watch_line, decode_watch_line_limited, watch_event_json, JsonWatchEvent};
