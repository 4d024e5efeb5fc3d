//! Hub metrics in Prometheus text format, named as OpenYurt's (`node_yurthub_*`) where they exist
//! so dashboards carry over.

use crate::sync::lock;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the upstream latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Distinct components tracked by name; more are counted as "other" to bound memory.
const MAX_COMPONENTS: usize = 32;

/// Upstream latency of one verb; atomics, so recording takes no lock.
#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (le, c) in BUCKETS.iter().zip(&self.counts) {
            if secs <= *le {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Labels of one request: client component, verb, resource, subresource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReqLabels {
    pub component: String,
    pub verb: &'static str,
    pub resource: String,
    pub subresource: String,
}

/// The counters of one label set, shared by every request that carries it: a request looks its
/// series up once ([`Metrics::series`]) and then counts with atomic adds, no lock or map lookup.
pub struct Series {
    pub labels: ReqLabels,
    /// Answers by status code (few distinct codes per series).
    codes: Mutex<Vec<(u16, u64)>>,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    latency: Arc<Histogram>,
}

impl Series {
    /// Records one answered request and its status code.
    pub fn request(&self, code: u16) {
        let mut codes = lock(&self.codes);
        match codes.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => codes.push((code, 1)),
        }
    }

    /// Adds bytes sent to the client (`out`) or received from it (`in`).
    pub fn traffic(&self, bytes_out: u64, bytes_in: u64) {
        if bytes_out > 0 {
            self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        }
        if bytes_in > 0 {
            self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        }
    }

    /// Records time from forwarding a request to the upstream's response head (by verb).
    pub fn upstream_latency(&self, d: Duration) {
        self.latency.observe(d);
    }
}

#[derive(Default)]
struct Tables {
    components: BTreeSet<String>,
    /// Every series, bucketed by a hash of its labels (looked up without building a key).
    series: HashMap<u64, Vec<Arc<Series>>, BuildHasherDefault<Prehashed>>,
    latency: BTreeMap<&'static str, Arc<Histogram>>,
    upstream_errors: BTreeMap<(String, &'static str), u64>,
}

/// Hasher for keys that already are a (keyed) hash: passes the `u64` through.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// All hub counters. Cheap to update from any task.
pub struct Metrics {
    /// Tells this instance's entries in [`RECENT`] from another's (tests run many hubs).
    id: u64,
    in_flight: AtomicI64,
    tables: Mutex<Tables>,
    hasher: RandomState,
}

impl Default for Metrics {
    fn default() -> Metrics {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicI64::new(0),
            tables: Mutex::default(),
            hasher: RandomState::new(),
        }
    }
}

/// A series looked up recently on this thread, by the arguments of [`Metrics::series`].
struct Recent {
    metrics: u64,
    component: String,
    verb: &'static str,
    resource: String,
    subresource: String,
    series: Arc<Series>,
}

/// Series lookups remembered per thread: clients repeat the same few requests (kubelet's lease
/// renewals and pod GETs, a proxy's endpoint watches), and a hit skips the lock, the component
/// set and hashing the labels.
const RECENT_LEN: usize = 8;

thread_local! {
    static RECENT: std::cell::RefCell<(Vec<Recent>, usize)> =
        const { std::cell::RefCell::new((Vec::new(), 0)) };
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
        lock(&self.tables)
    }

    /// Counts a request as in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// The series of a request from `component` (its User-Agent's, see
    /// [`crate::k8s::request_info::component`]), created on first use. The component label is
    /// bounded: "unknown" when empty; known names pass; past [`MAX_COMPONENTS`] new ones become
    /// "other". Allocates only for a label set not seen before.
    pub fn series(
        &self,
        component: &str,
        verb: &'static str,
        resource: &str,
        subresource: &str,
    ) -> Arc<Series> {
        let hit = RECENT.with_borrow(|(recent, _)| {
            recent
                .iter()
                .find(|r| {
                    r.metrics == self.id
                        && r.verb == verb
                        && r.resource == resource
                        && r.component == component
                        && r.subresource == subresource
                })
                .map(|r| r.series.clone())
        });
        if let Some(s) = hit {
            return s;
        }
        let series = self.series_locked(component, verb, resource, subresource);
        RECENT.with_borrow_mut(|(recent, next)| {
            let entry = Recent {
                metrics: self.id,
                component: component.to_string(),
                verb,
                resource: resource.to_string(),
                subresource: subresource.to_string(),
                series: series.clone(),
            };
            if recent.len() < RECENT_LEN {
                recent.push(entry);
            } else {
                recent[*next] = entry;
                *next = (*next + 1) % RECENT_LEN;
            }
        });
        series
    }

    fn series_locked(
        &self,
        component: &str,
        verb: &'static str,
        resource: &str,
        subresource: &str,
    ) -> Arc<Series> {
        let name = if component.is_empty() {
            "unknown"
        } else {
            component
        };
        let mut t = self.tables();
        let t = &mut *t;
        let name = if t.components.contains(name) {
            name
        } else if t.components.len() < MAX_COMPONENTS {
            t.components.insert(name.to_string());
            name
        } else {
            "other"
        };
        let key = self.hasher.hash_one((name, verb, resource, subresource));
        let bucket = t.series.entry(key).or_default();
        let found = bucket.iter().find(|s| {
            let l = &s.labels;
            l.component == name
                && l.verb == verb
                && l.resource == resource
                && l.subresource == subresource
        });
        if let Some(s) = found {
            return s.clone();
        }
        let latency = t.latency.entry(verb).or_default().clone();
        let s = Arc::new(Series {
            labels: ReqLabels {
                component: name.to_string(),
                verb,
                resource: resource.to_string(),
                subresource: subresource.to_string(),
            },
            codes: Mutex::new(Vec::new()),
            bytes_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            latency,
        });
        bucket.push(s.clone());
        s
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
        let mut series: Vec<&Series> = t.series.values().flatten().map(|s| &**s).collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        head(
            &mut o,
            "node_yurthub_requests_total",
            "counter",
            "answered requests by client component, verb, resource and code",
        );
        for s in &series {
            let mut codes = lock(&s.codes).clone();
            codes.sort_unstable();
            for (code, n) in codes {
                let _ = writeln!(
                    o,
                    "node_yurthub_requests_total{{{},code=\"{code}\"}} {n}",
                    labels(&s.labels)
                );
            }
        }
        head(
            &mut o,
            "node_yurthub_proxy_traffic_collector",
            "counter",
            "bytes sent to clients",
        );
        for s in &series {
            let n = s.bytes_out.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    o,
                    "node_yurthub_proxy_traffic_collector{{{}}} {n}",
                    labels(&s.labels)
                );
            }
        }
        head(
            &mut o,
            "node_yurthub_proxy_request_bytes_total",
            "counter",
            "request body bytes received from clients",
        );
        for s in &series {
            let n = s.bytes_in.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    o,
                    "node_yurthub_proxy_request_bytes_total{{{}}} {n}",
                    labels(&s.labels)
                );
            }
        }
        head(
            &mut o,
            "node_yurthub_upstream_latency_seconds",
            "histogram",
            "time to the upstream's response head",
        );
        for (verb, h) in &t.latency {
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            for (le, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let c = c.load(Ordering::Relaxed);
                let _ = writeln!(o, "node_yurthub_upstream_latency_seconds_bucket{{verb=\"{verb}\",le=\"{le}\"}} {c}");
            }
            let _ = writeln!(
                o,
                "node_yurthub_upstream_latency_seconds_bucket{{verb=\"{verb}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                o,
                "node_yurthub_upstream_latency_seconds_sum{{verb=\"{verb}\"}} {sum}"
            );
            let _ = writeln!(
                o,
                "node_yurthub_upstream_latency_seconds_count{{verb=\"{verb}\"}} {count}"
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
        let s = m.series("kubelet", "list", "pods", "");
        s.request(200);
        s.traffic(1234, 0);
        s.upstream_latency(Duration::from_millis(3));
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
            assert!(
                text.contains("node_yurthub_upstream_latency_seconds_sum{verb=\"list\"} 0.003\n")
            );
            assert!(text.contains("server=\"https://a\\\"b\""));
            // Nothing received from the client: no request-bytes line for the series.
            assert!(!text.contains("node_yurthub_proxy_request_bytes_total{"));
        }
        assert!(m
            .render(&[])
            .contains("node_yurthub_in_flight_requests_collector 0"));
    }

    #[test]
    fn requests_with_the_same_labels_share_one_series() {
        let m = Metrics::default();
        let a = m.series("kubelet", "get", "pods", "");
        let b = m.series("kubelet", "get", "pods", "");
        assert!(Arc::ptr_eq(&a, &b));
        a.request(200);
        b.request(200);
        b.request(404);
        a.traffic(10, 0);
        b.traffic(5, 7);
        // Any label differing makes another series.
        for other in [
            m.series("kube-proxy", "get", "pods", ""),
            m.series("kubelet", "list", "pods", ""),
            m.series("kubelet", "get", "nodes", ""),
            m.series("kubelet", "get", "pods", "status"),
        ] {
            assert!(!Arc::ptr_eq(&a, &other), "{:?}", other.labels);
            other.request(500);
        }
        let text = m.render(&[]);
        let l = "client=\"kubelet\",verb=\"get\",resource=\"pods\",subresources=\"\"";
        assert!(text.contains(&format!(
            "node_yurthub_requests_total{{{l},code=\"200\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "node_yurthub_requests_total{{{l},code=\"404\"}} 1\n"
        )));
        assert!(text.contains(&format!("node_yurthub_proxy_traffic_collector{{{l}}} 15\n")));
        assert!(text.contains(&format!(
            "node_yurthub_proxy_request_bytes_total{{{l}}} 7\n"
        )));
        assert_eq!(text.matches("code=\"500\"} 1\n").count(), 4);
        // Lines come sorted by labels, then by code.
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("node_yurthub_requests_total{"))
            .collect();
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted);
    }

    /// The per-thread memory of recent lookups never hands one hub's series to another, and a
    /// lookup it forgot (more label sets than it keeps) still finds the same series.
    #[test]
    fn recent_lookups_stay_with_their_metrics() {
        let (m1, m2) = (Metrics::default(), Metrics::default());
        let a = m1.series("kubelet", "get", "pods", "");
        let b = m2.series("kubelet", "get", "pods", "");
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&b, &m2.series("kubelet", "get", "pods", "")));
        b.request(200);
        assert!(!m1.render(&[]).contains("code=\"200\""));
        // Push the first lookup out of the thread's memory, then ask again.
        for i in 0..2 * RECENT_LEN {
            m1.series("kubelet", "get", &format!("r{i}"), "");
        }
        assert!(Arc::ptr_eq(&a, &m1.series("kubelet", "get", "pods", "")));
    }

    #[test]
    fn component_cardinality_is_bounded() {
        let m = Metrics::default();
        assert_eq!(m.series("", "get", "pods", "").labels.component, "unknown");
        for i in 0..100 {
            m.series(&format!("c{i}"), "get", "pods", "");
        }
        assert_eq!(m.series("c5", "get", "pods", "").labels.component, "c5");
        assert_eq!(m.series("c99", "get", "pods", "").labels.component, "other");
    }
}
