//! Yurt: edge autonomy for native Kubernetes, built for small ARM boards.
//!
//! The crate holds every component; features pick what a binary contains:
//! `edge` (hub + tunnel agent, what images run), `cloud` (tunnel server, yurtctl)
//! and `sandbox` (the local playground and the Kubernetes API double tests use).
//! Pure logic ([`k8s`]) needs no feature and does no I/O.
//! Vocabulary (view, component, upstream, agent, stream): `docs/internals.md`.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

pub mod k8s;
pub mod sync;
pub mod tunnel;

#[cfg(test)]
mod test_rng;

#[cfg(feature = "edge")]
pub mod cli;
#[cfg(feature = "edge")]
pub mod edge;
#[cfg(feature = "edge")]
pub mod hub;
#[cfg(feature = "edge")]
pub mod net;
#[cfg(feature = "edge")]
pub mod store;

#[cfg(feature = "cloud")]
pub mod yurtctl;

#[cfg(all(feature = "edge", any(test, feature = "fuzzing")))]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "sandbox")]
pub mod apidouble;
#[cfg(feature = "sandbox")]
pub mod sandbox;
#[cfg(feature = "sandbox")]
pub mod testpki;
