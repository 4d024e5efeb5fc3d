//! Kubernetes API knowledge with no I/O: request classification, Status bodies, the stored
//! encodings and the node PATCHes the hub applies offline.

pub mod decode_error;
pub mod json;
pub mod list_stream;
pub mod meta;
pub mod patch;
pub mod pb;
pub mod request_info;
pub mod selector_syntax;
pub mod status;
pub mod time;
pub mod token;
pub mod watch;
