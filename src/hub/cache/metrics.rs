//! Cache counters: offline answers by component and resource, write failures, abandoned tees.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

#[derive(Default)]
struct Tables {
    offline: BTreeMap<(String, String, u16), u64>,
    write_failures: BTreeMap<&'static str, u64>,
    abandoned: BTreeMap<String, u64>,
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
        o
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
