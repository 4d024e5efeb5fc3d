//! Medians of the rounds, as a markdown table with one column per hub binary.

use crate::run::Figures;
use crate::Opts;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median over rounds of one figure.
fn m(c: &[Figures], f: fn(&Figures) -> f64) -> f64 {
    median(c.iter().map(f).collect())
}

fn object(c: &[Figures]) -> f64 {
    m(c, |f| f.object_bytes)
}

/// The table: a row per measure, a column per hub, the goal last.
pub fn table(o: &Opts, columns: &[(String, Vec<Figures>)]) -> String {
    type Cell = Box<dyn Fn(&[Figures]) -> String>;
    let rows: Vec<(String, Cell, &str)> = vec![
        (
            "offline LIST of 1,000 pods, p50 / p99".into(),
            Box::new(|c| {
                format!(
                    "{:.1} / {:.1} ms",
                    m(c, |f| f.list1k.0),
                    m(c, |f| f.list1k.1)
                )
            }),
            "",
        ),
        (
            "offline LIST of 10,000 pods, p50 / p99".into(),
            Box::new(|c| {
                format!(
                    "{:.1} / {:.1} ms",
                    m(c, |f| f.list10k.0),
                    m(c, |f| f.list10k.1)
                )
            }),
            "",
        ),
        (
            "cold start to the first complete cached 10,000-pod LIST, p50 (min–max)".into(),
            Box::new(|c| {
                format!(
                    "{:.0} ms ({:.0}–{:.0})",
                    m(c, |f| f.cold.0),
                    m(c, |f| f.cold.1),
                    m(c, |f| f.cold.2)
                )
            }),
            "< 200 ms",
        ),
        (
            "the same, the cache's files evicted from the page cache first (as after a reboot)"
                .into(),
            Box::new(|c| {
                format!(
                    "{:.0} ms ({:.0}–{:.0})",
                    m(c, |f| f.cold_evicted.0),
                    m(c, |f| f.cold_evicted.1),
                    m(c, |f| f.cold_evicted.2)
                )
            }),
            "< 200 ms",
        ),
        (
            format!(
                "bytes written per watch event, one at a time ({} events)",
                o.events
            ),
            Box::new(|c| {
                let b = m(c, |f| f.single);
                format!("{b:.0} B = {:.2}x", b / object(c))
            }),
            "< 3x",
        ),
        (
            format!(
                "bytes written per watch event, bursts of {} ({} events)",
                o.burst, o.events
            ),
            Box::new(|c| {
                let b = m(c, |f| f.burst);
                format!("{b:.0} B = {:.2}x", b / object(c))
            }),
            "< 3x",
        ),
        (
            "cache on disk after the events (of it the journal, replayed at start) / objects in it"
                .into(),
            Box::new(|c| {
                format!(
                    "{:.1} ({:.1}) / {:.1} MiB",
                    m(c, |f| f.disk.0),
                    m(c, |f| f.disk.2),
                    m(c, |f| f.disk.1)
                )
            }),
            "",
        ),
        (
            "hub RSS, 10,000 objects cached online then served offline: VmRSS / VmHWM".into(),
            Box::new(|c| {
                format!(
                    "{:.1} / {:.1} MiB",
                    m(c, |f| f.online.0),
                    m(c, |f| f.online.1)
                )
            }),
            "< 16 MiB",
        ),
        (
            "the same VmRSS: anonymous / file-backed (the binary and libraries, shared page cache)"
                .into(),
            Box::new(|c| {
                format!(
                    "{:.1} / {:.1} MiB",
                    m(c, |f| f.online.2),
                    m(c, |f| f.online.3)
                )
            }),
            "",
        ),
        (
            "hub RSS after a cold start serving them: VmRSS / VmHWM".into(),
            Box::new(|c| {
                format!(
                    "{:.1} / {:.1} MiB",
                    m(c, |f| f.cold_rss.0),
                    m(c, |f| f.cold_rss.1)
                )
            }),
            "< 16 MiB",
        ),
    ];
    let mut out = format!(
        "| measure | {} | goal |\n|---|",
        columns
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    out.push_str(&"---|".repeat(columns.len() + 1));
    out.push('\n');
    for (name, cell, goal) in &rows {
        let cells: Vec<String> = columns.iter().map(|(_, c)| cell(c)).collect();
        out.push_str(&format!("| {name} | {} | {goal} |\n", cells.join(" | ")));
    }
    let obj = columns.first().map_or(f64::NAN, |(_, c)| object(c));
    out.push_str(&format!(
        "\nPods of {obj:.0} bytes (JSON, padded with incompressible hex); {} rounds, medians; {} offline LISTs per size, {} cold starts per round.\n",
        o.rounds, o.lists, o.cold
    ));
    out
}
