//! Hub metrics in Prometheus text format, named as OpenYurt's (`node_yurthub_*`) where they exist
//! so dashboards carry over.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the upstream latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Distinct components tracked by name; more are counted as "other" to bound memory.
const MAX_COMPONENTS: usize = 32;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Labels of one request: client component, verb, resource, subresource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReqLabels {
    pub component: String,
    pub verb: &'static str,
    pub resource: String,
    pub subresource: String,
}

#[derive(Default)]
struct Tables {
    components: BTreeSet<String>,
    requests: BTreeMap<ReqLabels, BTreeMap<u16, u64>>,
    bytes_out: BTreeMap<ReqLabels, u64>,
    bytes_in: BTreeMap<ReqLabels, u64>,
    latency: BTreeMap<&'static str, Histogram>,
    upstream_errors: BTreeMap<(String, &'static str), u64>,
}

/// All hub counters. Cheap to update from any task.
#[derive(Default)]
pub struct Metrics {
    in_flight: AtomicI64,
    tables: Mutex<Tables>,
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave counters inconsistent enough to matter.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a request as in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Bounds the component label: known names pass, past the cap new ones become "other".
    pub fn component_label(&self, component: &str) -> String {
        let name = if component.is_empty() {
            "unknown"
        } else {
            component
        };
        let mut t = self.tables();
        if t.components.contains(name) {
            return name.to_string();
        }
        if t.components.len() < MAX_COMPONENTS {
            t.components.insert(name.to_string());
            return name.to_string();
        }
        "other".to_string()
    }

    /// Records one answered request and its status code.
    pub fn request(&self, labels: &ReqLabels, code: u16) {
        let mut t = self.tables();
        // Look up by reference first: the hot path allocates nothing for a known label set.
        match t.requests.get_mut(labels) {
            Some(codes) => *codes.entry(code).or_default() += 1,
            None => {
                t.requests
                    .insert(labels.clone(), BTreeMap::from([(code, 1)]));
            }
        }
    }

    /// Adds bytes sent to the client (`out`) or received from it (`in`).
    pub fn traffic(&self, labels: &ReqLabels, bytes_out: u64, bytes_in: u64) {
        let mut t = self.tables();
        let t = &mut *t;
        for (map, n) in [(&mut t.bytes_out, bytes_out), (&mut t.bytes_in, bytes_in)] {
            if n == 0 {
                continue;
            }
            match map.get_mut(labels) {
                Some(v) => *v += n,
                None => {
                    map.insert(labels.clone(), n);
                }
            }
        }
    }

    /// Records time from forwarding a request to the upstream's response head.
    pub fn upstream_latency(&self, verb: &'static str, d: Duration) {
        let secs = d.as_secs_f64();
        let mut t = self.tables();
        let h = t.latency.entry(verb).or_default();
        h.count += 1;
        h.sum += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
    }

    /// Counts a transport failure talking to `server`.
    pub fn upstream_error(&self, server: &str, reason: &'static str) {
        *self
            .tables()
            .upstream_errors
            .entry((server.to_string(), reason))
            .or_default() += 1;
    }

    /// The exposition text; `servers` gives each server's URL and health.
    pub fn render(&self, servers: &[(String, bool)]) -> String {
        let mut o = String::with_capacity(4096);
        head(
            &mut o,
            "node_yurthub_server_healthy_status",
            "gauge",
            "1 when the hub sends requests to this server",
        );
        for (url, healthy) in servers {
            let _ = writeln!(
                o,
                "node_yurthub_server_healthy_status{{server=\"{}\"}} {}",
                esc(url),
                u8::from(*healthy)
            );
        }
        head(
            &mut o,
            "node_yurthub_in_flight_requests_collector",
            "gauge",
            "requests being served",
        );
        let _ = writeln!(
            o,
            "node_yurthub_in_flight_requests_collector {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let t = self.tables();
        head(
            &mut o,
            "node_yurthub_requests_total",
            "counter",
            "answered requests by client component, verb, resource and code",
        );
        for (l, codes) in &t.requests {
            for (code, n) in codes {
                let _ = writeln!(
                    o,
                    "node_yurthub_requests_total{{{},code=\"{code}\"}} {n}",
                    labels(l)
                );
            }
        }
        head(
            &mut o,
            "node_yurthub_proxy_traffic_collector",
            "counter",
            "bytes sent to clients",
        );
        for (l, n) in &t.bytes_out {
            let _ = writeln!(
                o,
                "node_yurthub_proxy_traffic_collector{{{}}} {n}",
                labels(l)
            );
        }
        head(
            &mut o,
            "node_yurthub_proxy_request_bytes_total",
            "counter",
            "request body bytes received from clients",
        );
        for (l, n) in &t.bytes_in {
            let _ = writeln!(
                o,
                "node_yurthub_proxy_request_bytes_total{{{}}} {n}",
                labels(l)
            );
        }
        head(
            &mut o,
            "node_yurthub_upstream_latency_seconds",
            "histogram",
            "time to the upstream's response head",
        );
        for (verb, h) in &t.latency {
            for (le, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(o, "node_yurthub_upstream_latency_seconds_bucket{{verb=\"{verb}\",le=\"{le}\"}} {c}");
            }
            let _ = writeln!(
                o,
                "node_yurthub_upstream_latency_seconds_bucket{{verb=\"{verb}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                o,
                "node_yurthub_upstream_latency_seconds_sum{{verb=\"{verb}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "node_yurthub_upstream_latency_seconds_count{{verb=\"{verb}\"}} {}",
                h.count
            );
        }
        head(
            &mut o,
            "node_yurthub_upstream_errors_total",
            "counter",
            "transport failures by server and reason",
        );
        for ((server, reason), n) in &t.upstream_errors {
            let _ = writeln!(
                o,
                "node_yurthub_upstream_errors_total{{server=\"{}\",reason=\"{reason}\"}} {n}",
                esc(server)
            );
        }
        o
    }
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn labels(l: &ReqLabels) -> String {
    format!(
        "client=\"{}\",verb=\"{}\",resource=\"{}\",subresources=\"{}\"",
        esc(&l.component),
        l.verb,
        esc(&l.resource),
        esc(&l.subresource)
    )
}

/// Escapes a label value per the exposition format.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parseable_text() {
        let m = Metrics::default();
        let l = ReqLabels {
            component: m.component_label("kubelet"),
            verb: "list",
            resource: "pods".into(),
            subresource: String::new(),
        };
        m.request(&l, 200);
        m.traffic(&l, 1234, 0);
        m.upstream_latency("list", Duration::from_millis(3));
        m.upstream_error("https://a\"b", "connect");
        {
            let _g = m.in_flight();
            let text = m.render(&[("https://a:6443".into(), true), ("https://b".into(), false)]);
            assert!(text.contains("node_yurthub_server_healthy_status{server=\"https://b\"} 0"));
            assert!(text.contains("node_yurthub_in_flight_requests_collector 1"));
            assert!(text.contains("node_yurthub_requests_total{client=\"kubelet\",verb=\"list\",resource=\"pods\",subresources=\"\",code=\"200\"} 1"));
            assert!(text.contains("node_yurthub_proxy_traffic_collector{client=\"kubelet\",verb=\"list\",resource=\"pods\",subresources=\"\"} 1234"));
            assert!(text.contains(
                "node_yurthub_upstream_latency_seconds_bucket{verb=\"list\",le=\"0.005\"} 1"
            ));
            assert!(text.contains(
                "node_yurthub_upstream_latency_seconds_bucket{verb=\"list\",le=\"0.0025\"} 0"
            ));
            assert!(text.contains("server=\"https://a\\\"b\""));
        }
        assert!(m
            .render(&[])
            .contains("node_yurthub_in_flight_requests_collector 0"));
    }

    #[test]
    fn component_cardinality_is_bounded() {
        let m = Metrics::default();
        for i in 0..100 {
            m.component_label(&format!("c{i}"));
        }
        assert_eq!(m.component_label("c5"), "c5");
        assert_eq!(m.component_label("c99"), "other");
    }
}
