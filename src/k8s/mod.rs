//! Kubernetes API knowledge with no I/O: request classification and Status bodies.

pub mod request_info;
pub mod status;
