//! YurtTunnel: kube-apiserver reaches kubelets behind NAT through a reverse tunnel.
//!
//! Each edge node's agent dials out to every tunnel server over mutual TLS and carries one yamux
//! connection (the *link*). The agent's first stream is the *control stream* (registration and
//! keepalive); every other stream is opened by the server for one CONNECT request from
//! kube-apiserver and starts with a dial header ([`frame::Frame::Dial`]) the agent answers
//! before bytes flow. Pure parts ([`frame`], [`connect`], [`cert`], [`allow`], [`backoff`]) do no
//! I/O and need no feature.

pub mod allow;
pub mod backoff;
pub mod cert;
pub mod connect;
pub mod frame;

#[cfg(feature = "edge")]
pub mod agent;
#[cfg(feature = "edge")]
pub mod control;
#[cfg(feature = "edge")]
pub mod meta;
#[cfg(feature = "edge")]
pub mod metrics;
#[cfg(feature = "edge")]
pub mod mux;
#[cfg(feature = "cloud")]
pub mod server;
#[cfg(feature = "edge")]
pub mod splice;
#[cfg(feature = "edge")]
pub mod tls;
#[cfg(feature = "edge")]
pub mod wire;
