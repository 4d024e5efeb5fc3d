//! Benchmark of the hub cache end to end: the real `yurt hub` in front of `yurt api-double`, the
//! cache filled online by a kubelet-style LIST + WATCH, then the cloud cut. Prints a markdown
//! table; `bench/cache.sh` builds it, runs it and writes the table into docs/BENCHMARKS.md.
//!
//! ```text
//! cache_bench --yurt target/release/yurt [--hub NAME=PATH]... --dir DIR [--rounds 3]
//!             [--pod-bytes 2048] [--events 10000] [--burst 10] [--lists 50] [--cold 7]
//! ```
//!
//! `--yurt` runs the API double (and is the hub when no `--hub` is given); each `--hub` is a
//! hub binary measured in its own column. DIR must be on a real disk (write_bytes stays 0 on
//! tmpfs). Figures: offline LIST of 1,000 and 10,000 pods (p50/p99), cold start to the first
//! complete cached 10,000-pod answer, bytes written per watch event (from /proc/<pid>/io of the
//! hub), hub RSS with 10,000 cached objects (VmRSS and VmHWM from /proc/<pid>/status, and how
//! much of it is anonymous memory and how much the mapped binary and libraries). Every figure is
//! the median of the rounds. With `CACHE_BENCH_KEEP` set in the environment, DIR is left behind
//! (the last round's caches, to look at their files).

mod http;
mod procs;
mod report;
mod run;

use std::path::PathBuf;

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// What to run.
pub struct Opts {
    pub yurt: PathBuf,
    pub hubs: Vec<(String, PathBuf)>,
    pub dir: PathBuf,
    pub rounds: usize,
    pub pod_bytes: usize,
    pub events: usize,
    pub burst: usize,
    pub lists: usize,
    pub cold: usize,
}

fn opts() -> Res<Opts> {
    let mut o = Opts {
        yurt: PathBuf::from("target/release/yurt"),
        hubs: Vec::new(),
        dir: std::env::temp_dir().join(format!("yurt-cache-bench-{}", std::process::id())),
        rounds: 3,
        pod_bytes: 2048,
        events: 10_000,
        burst: 10,
        lists: 50,
        cold: 7,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("{pair:?}: flags take a value").into());
        };
        match flag.as_str() {
            "--yurt" => o.yurt = value.into(),
            "--hub" => {
                let (name, path) = value.split_once('=').ok_or("--hub NAME=PATH")?;
                o.hubs.push((name.into(), path.into()));
            }
            "--dir" => o.dir = value.into(),
            "--rounds" => o.rounds = value.parse()?,
            "--pod-bytes" => o.pod_bytes = value.parse()?,
            "--events" => o.events = value.parse()?,
            "--burst" => o.burst = value.parse()?,
            "--lists" => o.lists = value.parse()?,
            "--cold" => o.cold = value.parse()?,
            other => {
                return Err(format!(
                    "unknown flag {other}; see the top of examples/cache_bench/main.rs"
                )
                .into())
            }
        }
    }
    if o.hubs.is_empty() {
        o.hubs.push(("hub".into(), o.yurt.clone()));
    }
    Ok(o)
}

fn main() -> Res<()> {
    let o = opts()?;
    let mut columns = Vec::new();
    for (name, hub) in &o.hubs {
        let mut rounds = Vec::new();
        for round in 1..=o.rounds {
            eprintln!("== {name}, round {round} of {}", o.rounds);
            let _ = std::fs::remove_dir_all(&o.dir);
            std::fs::create_dir_all(&o.dir)?;
            rounds.push(run::all(&o, hub)?);
        }
        columns.push((name.clone(), rounds));
    }
    if std::env::var_os("CACHE_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&o.dir);
    }
    print!("{}", report::table(&o, &columns));
    Ok(())
}
