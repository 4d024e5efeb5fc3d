//! Networking shared by every component: TLS material, HTTP serving on smol, shutdown signals.

pub mod http;
pub mod io;
pub mod readiness;
pub mod rt;
pub mod shutdown;
pub mod tls;
