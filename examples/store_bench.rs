//! Benchmark of the hub cache store (src/store) with its board defaults; prints a markdown table.
//!
//! `cargo run --release --example store_bench [-- DIR]` (DIR defaults to a fresh directory under
//! the system temp dir, which must be a real disk for the bytes-written figure, not tmpfs).
//! Cold start runs in a fresh process (this program, `--cold DIR`), so its RSS is the store's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use yurt::store::{Encoding, Event, Gvr, Item, ListMeta, Store, StoreConfig, ViewKey};

const OBJECT_BYTES: usize = 2048;
const RUNS: usize = 7;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--cold") {
        return cold_start(Path::new(args.get(2).ok_or("--cold DIR")?));
    }
    let dir = match args.get(1) {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("yurt-store-bench-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let rows = run(&dir)?;
    println!("| measure | result |\n|---|---|");
    for (name, value) in rows {
        println!("| {name} | {value} |");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn view(selector: &str) -> ViewKey {
    ViewKey {
        component: "kubelet".into(),
        gvr: Gvr::new("", "v1", "pods"),
        label_selector: selector.into(),
        ..ViewKey::default()
    }
    .normalized()
}

fn meta(rv: u64) -> ListMeta {
    ListMeta {
        api_version: "v1".into(),
        kind: "PodList".into(),
        resource_version: rv,
        encoding: Encoding::Json,
    }
}

/// `n` pod-like JSON objects of `OBJECT_BYTES` each, at resourceVersion `rv`.
fn pods(n: usize, rv: u64) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let name = format!("pod-{i:05}");
            (name.clone(), pod_bytes(&name, rv))
        })
        .collect()
}

fn pod_bytes(name: &str, rv: u64) -> Vec<u8> {
    let head = format!(
        r#"{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"{name}","namespace":"default","resourceVersion":"{rv}"}},"pad":""#
    );
    let mut b = head.into_bytes();
    // Varied filler, so compression does not flatter the numbers too much.
    let mut x = rv.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while b.len() < OBJECT_BYTES - 2 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.push(b'a' + (x % 26) as u8);
    }
    b.extend_from_slice(b"\"}");
    b
}

fn items(objects: &[(String, Vec<u8>)], rv: u64) -> Vec<Item<'_>> {
    objects
        .iter()
        .map(|(name, bytes)| Item {
            namespace: "default",
            name,
            resource_version: rv,
            bytes,
        })
        .collect()
}

fn percentile(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn proc_field(file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn run(dir: &Path) -> Res<Vec<(String, String)>> {
    let mut rows = Vec::new();
    let store = Store::open(dir, &StoreConfig::default())?;
    let (big, small) = (view("size=10k"), view("size=1k"));
    let mut commits = Vec::new();
    for run in 0..RUNS as u64 {
        let objects = pods(10_000, 100 + run);
        let list = items(&objects, 100 + run);
        let t = Instant::now();
        store.commit_list(&big, &meta(100 + run), &list)?;
        commits.push(t.elapsed());
    }
    rows.push((
        "commit 10,000-object LIST (2 KiB each), p50".into(),
        ms(percentile(commits, 50)),
    ));
    let objects = pods(1_000, 1);
    store.commit_list(&small, &meta(1), &items(&objects, 1))?;
    for (name, v, n) in [("1,000", &small, 1_000), ("10,000", &big, 10_000)] {
        let times = (0..RUNS * 3)
            .map(|_| time_list(&store, v, n))
            .collect::<Res<Vec<_>>>()?;
        let (p50, p99) = (percentile(times.clone(), 50), percentile(times, 99));
        rows.push((
            format!("offline LIST {name} objects, p50 / p99"),
            format!("{} / {}", ms(p50), ms(p99)),
        ));
    }
    for burst in [1, 10] {
        let per_event = event_bytes(&store, &small, burst)?;
        let ratio = per_event as f64 / OBJECT_BYTES as f64;
        rows.push((
            format!(
                "bytes written per watch event (2 KiB object, bursts of {burst}, one sync each)"
            ),
            format!("{per_event} B ({ratio:.2}x the object)"),
        ));
    }
    rows.push((
        "cache on disk after all that".into(),
        format!("{:.1} MiB", store.disk_bytes()? as f64 / 1048576.0),
    ));
    drop(store);
    rows.extend(cold_starts(dir)?);
    Ok(rows)
}

/// Streams every object of the view, touching its bytes, as an offline LIST would.
fn time_list(store: &Store, v: &ViewKey, expect: usize) -> Res<Duration> {
    let t = Instant::now();
    let (_, objects) = store.scan(v)?.ok_or("view missing")?;
    let (mut n, mut sum) = (0usize, 0usize);
    for item in objects {
        let item = item?;
        sum += item.bytes().len();
        n += 1;
    }
    let elapsed = t.elapsed();
    if n != expect || sum != expect * OBJECT_BYTES {
        return Err(format!("listed {n} objects, {sum} bytes").into());
    }
    Ok(elapsed)
}

/// Applies MODIFIED events in bursts (one batch, one sync each) and divides the bytes the
/// process wrote to disk (/proc/self/io write_bytes, flushes and compactions included) by their
/// count.
fn event_bytes(store: &Store, v: &ViewKey, burst: u64) -> Res<u64> {
    const EVENTS: u64 = 4_000;
    let rv0 = store.list(v)?.ok_or("view missing")?.0.resource_version + 1;
    let before = proc_field("/proc/self/io", "write_bytes:");
    for first in (0..EVENTS).step_by(burst as usize) {
        let objects: Vec<(String, Vec<u8>)> = (first..first + burst)
            .map(|i| {
                let name = format!("pod-{:05}", i % 1_000);
                let bytes = pod_bytes(&name, rv0 + i);
                (name, bytes)
            })
            .collect();
        let events: Vec<Event> = objects
            .iter()
            .zip(first..)
            .map(|((name, bytes), i)| {
                Event::Put(Item {
                    namespace: "default",
                    name,
                    resource_version: rv0 + i,
                    bytes,
                })
            })
            .collect();
        store.apply(v, &events)?;
    }
    std::thread::sleep(Duration::from_secs(2)); // let background flushes land
    let after = proc_field("/proc/self/io", "write_bytes:");
    Ok(after.saturating_sub(before) / EVENTS)
}

/// Runs `--cold` in fresh processes and reports medians.
fn cold_starts(dir: &Path) -> Res<Vec<(String, String)>> {
    let exe = std::env::current_exe()?;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); 5];
    for _ in 0..RUNS {
        let out = Command::new(&exe).arg("--cold").arg(dir).output()?;
        let text = String::from_utf8(out.stdout)?;
        let values: Vec<f64> = text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if values.len() != 5 {
            return Err(format!(
                "--cold said {text:?} {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        for (s, v) in samples.iter_mut().zip(values) {
            s.push(v);
        }
    }
    let med = |i: usize| {
        let mut v = samples[i].clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(vec![
        (
            "cold start: Store::open, p50".into(),
            format!("{:.1} ms", med(0)),
        ),
        (
            "cold start: open + first LIST of 1,000 objects, p50".into(),
            format!("{:.1} ms", med(1)),
        ),
        (
            "RSS after open, p50".into(),
            format!("{:.1} MiB", med(4) / 1024.0),
        ),
        (
            "RSS after open + LIST of 10,000 objects (streamed), p50".into(),
            format!("{:.1} MiB", med(2) / 1024.0),
        ),
        (
            "journal replayed at open".into(),
            format!("{:.1} MiB", med(3) / 1048576.0),
        ),
    ])
}

/// Child: open, first list, full scan; prints `open_ms first_list_ms rss_kib journal_bytes
/// rss_after_open_kib`.
fn cold_start(dir: &Path) -> Res<()> {
    let journal: u64 = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jnl"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let t = Instant::now();
    let store = Store::open(dir, &StoreConfig::default())?;
    let opened = t.elapsed();
    let rss_open = proc_field("/proc/self/status", "VmRSS:");
    time_list(&store, &view("size=1k"), 1_000)?;
    let listed = t.elapsed();
    time_list(&store, &view("size=10k"), 10_000)?;
    let rss = proc_field("/proc/self/status", "VmRSS:");
    let f = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:.2} {:.2} {rss} {journal} {rss_open}",
        f(opened),
        f(listed)
    );
    Ok(())
}
