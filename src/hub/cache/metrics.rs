//! Cache counters: offline answers by component and resource, write failures, tees that held
//! their client for the writer or gave up on it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Tables {
    offline: BTreeMap<(String, String, u16), u64>,
    write_failures: BTreeMap<&'static str, u64>,
    abandoned: BTreeMap<String, u64>,
    /// Frames held back for the writer, and for how long in all, by component.
    paced: BTreeMap<String, (u64, Duration)>,
    gc: GcTables,
}

/// What the GC at start did.
#[derive(Default)]
struct GcTables {
    /// Views and objects dropped, by (component, resource).
    dropped: BTreeMap<(String, String), (u64, u64)>,
    /// Views left as they were for want of a definite answer, by reason.
    left: BTreeMap<String, u64>,
    passes: u64,
}

/// Counters of the cache, rendered after the hub's own metrics.
#[derive(Default)]
pub struct CacheMetrics {
    tables: Mutex<Tables>,
}

impl CacheMetrics {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One answer given from the cache (or refused by it) while the cloud was unreachable.
    pub fn offline(&self, component: &str, resource: &str, code: u16) {
        *self
            .tables()
            .offline
            .entry((component.into(), resource.into(), code))
            .or_default() += 1;
    }

    /// A store write that failed (`full`, `io`, `invalid`, ...).
    pub fn write_failure(&self, reason: &'static str) {
        *self.tables().write_failures.entry(reason).or_default() += 1;
    }

    /// A response not cached because the writer could not keep up.
    pub fn abandoned(&self, component: &str) {
        *self.tables().abandoned.entry(component.into()).or_default() += 1;
    }

    /// A frame of a `component`'s answer was held back `held` until the writer had room (the
    /// disk is slower than the network).
    pub fn paced(&self, component: &str, held: Duration) {
        let mut t = self.tables();
        let e = t.paced.entry(component.into()).or_default();
        e.0 += 1;
        e.1 += held;
    }

    /// GC dropped `views` whole views and `objects` objects of `component`'s `resource`.
    pub fn gc_dropped(&self, component: &str, resource: &str, views: u64, objects: u64) {
        let mut t = self.tables();
        let e =
            t.gc.dropped
                .entry((component.into(), resource.into()))
                .or_default();
        e.0 += views;
        e.1 += objects;
    }

    /// GC left a view as it was: the upstream gave no definite answer (`reason`).
    pub fn gc_left(&self, reason: &str) {
        *self.tables().gc.left.entry(reason.into()).or_default() += 1;
    }

    /// A GC pass finished.
    pub fn gc_pass(&self) {
        self.tables().gc.passes += 1;
    }

    /// Prometheus exposition text.
    pub fn render(&self) -> String {
        let t = self.tables();
        let mut o = String::new();
        let _ = writeln!(o, "# HELP node_yurthub_cache_offline_answers_total answers given from the cache while offline\n# TYPE node_yurthub_cache_offline_answers_total counter");
        for ((c, r, code), n) in &t.offline {
            let _ = writeln!(
                o,
                "node_yurthub_cache_offline_answers_total{{component=\"{}\",resource=\"{}\",code=\"{code}\"}} {n}",
                esc(c),
                esc(r)
            );
        }
        let _ = writeln!(o, "# HELP node_yurthub_cache_write_failures_total store writes that failed\n# TYPE node_yurthub_cache_write_failures_total counter");
        for (r, n) in &t.write_failures {
            let _ = writeln!(
                o,
                "node_yurthub_cache_write_failures_total{{reason=\"{r}\"}} {n}"
            );
        }
        let _ = writeln!(o, "# HELP node_yurthub_cache_abandoned_responses_total responses not cached because the writer fell behind\n# TYPE node_yurthub_cache_abandoned_responses_total counter");
        for (c, n) in &t.abandoned {
            let _ = writeln!(
                o,
                "node_yurthub_cache_abandoned_responses_total{{component=\"{}\"}} {n}",
                esc(c)
            );
        }
        let _ = writeln!(o, "# HELP node_yurthub_cache_paced_total frames of answers held back until the cache writer had room (disk slower than the network)\n# TYPE node_yurthub_cache_paced_total counter");
        for (c, (n, _)) in &t.paced {
            let _ = writeln!(
                o,
                "node_yurthub_cache_paced_total{{component=\"{}\"}} {n}",
                esc(c)
            );
        }
        let _ = writeln!(o, "# HELP node_yurthub_cache_paced_seconds_total time answers were held back for the cache writer\n# TYPE node_yurthub_cache_paced_seconds_total counter");
        for (c, (_, held)) in &t.paced {
            let _ = writeln!(
                o,
                "node_yurthub_cache_paced_seconds_total{{component=\"{}\"}} {:.6}",
                esc(c),
                held.as_secs_f64()
            );
        }
        render_gc(&t.gc, &mut o);
        o
    }
}

fn render_gc(gc: &GcTables, o: &mut String) {
    let _ = writeln!(o, "# HELP node_yurthub_cache_gc_passes_total GC passes finished (one per start, once online)\n# TYPE node_yurthub_cache_gc_passes_total counter\nnode_yurthub_cache_gc_passes_total {}", gc.passes);
    for (name, help, pick) in [
        ("dropped_views", "cached views GC dropped: gone upstream", 0),
        (
            "dropped_objects",
            "cached objects GC dropped: gone upstream",
            1,
        ),
    ] {
        let _ = writeln!(o, "# HELP node_yurthub_cache_gc_{name}_total {help}\n# TYPE node_yurthub_cache_gc_{name}_total counter");
        for ((c, r), n) in &gc.dropped {
            let n = if pick == 0 { n.0 } else { n.1 };
            let _ = writeln!(
                o,
                "node_yurthub_cache_gc_{name}_total{{component=\"{}\",resource=\"{}\"}} {n}",
                esc(c),
                esc(r)
            );
        }
    }
    let _ = writeln!(o, "# HELP node_yurthub_cache_gc_left_views_total views GC left as they were: no definite answer upstream\n# TYPE node_yurthub_cache_gc_left_views_total counter");
    for (r, n) in &gc.left {
        let _ = writeln!(
            o,
            "node_yurthub_cache_gc_left_views_total{{reason=\"{}\"}} {n}",
            esc(r)
        );
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
