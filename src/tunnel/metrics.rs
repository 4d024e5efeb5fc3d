//! Tunnel counters (links, open streams, bytes each way, dial errors by reason) and their
//! Prometheus text form.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Why a tunnel stream did not get through. The label value is the variant's snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialError {
    /// The CONNECT head was unusable (400/405/431).
    BadRequest,
    /// The CONNECT client may not use the front end (a node certificate; 403).
    ClientRefused,
    /// No agent is connected for the node (503).
    UnknownNode,
    /// The link could not open a stream or answer in time (503).
    LinkFailed,
    /// The agent's allowlist refused the destination (403).
    Refused,
    /// The agent could not connect to the destination (502).
    Unreachable,
    /// Connecting took too long (504).
    Timeout,
}

impl DialError {
    /// Every reason, in label order.
    pub const ALL: [DialError; 7] = [
        DialError::BadRequest,
        DialError::ClientRefused,
        DialError::UnknownNode,
        DialError::LinkFailed,
        DialError::Refused,
        DialError::Unreachable,
        DialError::Timeout,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            DialError::BadRequest => "bad_request",
            DialError::ClientRefused => "client_refused",
            DialError::UnknownNode => "unknown_node",
            DialError::LinkFailed => "link_failed",
            DialError::Refused => "refused",
            DialError::Unreachable => "unreachable",
            DialError::Timeout => "timeout",
        }
    }
}

/// Counters shared by every task of one server or agent.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Registered links (server: agents connected; agent: servers connected).
    pub links: AtomicI64,
    /// Streams currently spliced.
    pub streams_open: AtomicI64,
    /// Bytes carried from the cloud side towards the edge.
    pub bytes_to_edge: AtomicU64,
    /// Bytes carried from the edge back to the cloud side.
    pub bytes_from_edge: AtomicU64,
    /// Link (re)connect attempts that failed (agent only).
    pub connect_failures: AtomicU64,
    dial_errors: [AtomicU64; 7],
}

impl Metrics {
    /// Counts one failed stream.
    pub fn dial_error(&self, why: DialError) {
        if let Some(i) = DialError::ALL.iter().position(|d| *d == why) {
            self.dial_errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many streams failed for `why`.
    pub fn dial_errors(&self, why: DialError) -> u64 {
        DialError::ALL
            .iter()
            .position(|d| *d == why)
            .map_or(0, |i| self.dial_errors[i].load(Ordering::Relaxed))
    }

    /// Marks a stream open until the guard drops.
    pub fn stream(&self) -> StreamGuard<'_> {
        self.streams_open.fetch_add(1, Ordering::Relaxed);
        StreamGuard(self)
    }

    /// Prometheus text exposition; `prefix` names the component, `links_name` the link gauge.
    pub fn render(&self, prefix: &str, links_name: &str) -> String {
        let mut s = String::new();
        let g = |v: &AtomicI64| v.load(Ordering::Relaxed);
        let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "# TYPE {prefix}_{links_name} gauge\n{prefix}_{links_name} {}",
            g(&self.links)
        );
        let _ = writeln!(
            s,
            "# TYPE {prefix}_streams_open gauge\n{prefix}_streams_open {}",
            g(&self.streams_open)
        );
        let _ = writeln!(s, "# TYPE {prefix}_bytes_total counter");
        let _ = writeln!(
            s,
            "{prefix}_bytes_total{{direction=\"to_edge\"}} {}",
            c(&self.bytes_to_edge)
        );
        let _ = writeln!(
            s,
            "{prefix}_bytes_total{{direction=\"from_edge\"}} {}",
            c(&self.bytes_from_edge)
        );
        let _ = writeln!(s, "# TYPE {prefix}_dial_errors_total counter");
        for d in DialError::ALL {
            let _ = writeln!(
                s,
                "{prefix}_dial_errors_total{{reason=\"{}\"}} {}",
                d.label(),
                self.dial_errors(d)
            );
        }
        let _ = writeln!(
            s,
            "# TYPE {prefix}_connect_failures_total counter\n{prefix}_connect_failures_total {}",
            c(&self.connect_failures)
        );
        s
    }
}

/// Keeps `streams_open` counted while alive.
#[derive(Debug)]
pub struct StreamGuard<'a>(&'a Metrics);

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        self.0.streams_open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series() {
        let m = Metrics::default();
        m.dial_error(DialError::Refused);
        let g = m.stream();
        let text = m.render("yurt_tunnel_server", "agents_connected");
        assert!(text.contains("yurt_tunnel_server_streams_open 1\n"));
        assert!(text.contains("yurt_tunnel_server_dial_errors_total{reason=\"refused\"} 1\n"));
        assert!(text.contains("yurt_tunnel_server_agents_connected 0\n"));
        drop(g);
        assert_eq!(m.streams_open.load(Ordering::Relaxed), 0);
    }
}
