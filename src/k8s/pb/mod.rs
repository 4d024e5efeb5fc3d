//! Kubernetes protobuf without schemas: envelope, ObjectMeta, Lists and watch frames.
//!
//! A hand-written walker over the protobuf wire format. It reads only what the cache needs
//! (type, metadata, list items, watch events) and borrows everything from the input, so stored
//! bytes stay exactly as the upstream sent them. Layouts are Kubernetes' `generated.proto`:
//! runtime.Unknown{typeMeta=1, raw=2}, ObjectMeta at field 1 of every object, List{metadata=1,
//! items=2}, WatchEvent{type=1, object=2{raw=1}}.

mod envelope;
mod list;
mod meta;
mod watch;
pub mod wire;
pub(crate) mod write;

pub use envelope::{decode_envelope, encode_envelope, has_magic, Envelope, MAGIC};
pub use list::{decode_list, encode_list, item_framed_len, list_frame, put_item, List};
pub use meta::{object_meta, status, ObjectMeta, Time};
pub use watch::{
    bookmark_pb, decode_watch_frame, decode_watch_frame_limited, encode_watch_frame, watch_event,
    WatchEvent,
};
