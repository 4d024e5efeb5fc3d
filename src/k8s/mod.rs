//! Kubernetes API knowledge with no I/O: request classification and Status bodies.

pub mod decode_error;
pub mod json;
pub mod list_stream;
pub mod meta;
pub mod pb;
pub mod request_info;
pub mod status;
pub mod time;
pub mod token;
pub mod watch;
