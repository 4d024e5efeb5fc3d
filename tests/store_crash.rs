//! kill -9 during a stream of relists (whole, and streamed in chunks) and watch-event bursts:
//! after every restart each view is its old or its new complete state, every object's bytes are intact, nothing acknowledged is
//! lost, and the store keeps working.
//!
//! The writer is this test binary run again with `YURT_STORE_CRASH_WRITER=<dir>` (test
//! `crash_writer_child`). Knobs: `YURT_STORE_CRASH_CYCLES` (default 100), `YURT_STORE_CRASH_SEED`.
//! Run with `--nocapture` to see how many steps were acknowledged and how many kills landed
//! between a commit and its acknowledgement.
#![cfg(feature = "edge")]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use yurt::store::{Encoding, Event, Gvr, Item, ListMeta, Store, StoreConfig, SyncPolicy, ViewKey};

const WRITER_ENV: &str = "YURT_STORE_CRASH_WRITER";
const LIST_SIZES: [usize; 4] = [20, 120, 300, 3];
/// Kill/restart cycles on one cache directory before starting over.
const FRESH_EVERY: u64 = 20;
/// Index of the GET-style single-object view among [`views`].
const OBJECT_VIEW: usize = 4;

/// Set in the writer's environment when it uses the group-commit sync policy.
const COALESCE_ENV: &str = "YURT_STORE_CRASH_COALESCE";

/// The smallest memtables fjall takes, so the writer also gets killed while flushing.
fn config() -> StoreConfig {
    let sync = match std::env::var_os(COALESCE_ENV) {
        Some(_) => SyncPolicy::CoalesceMs(5),
        None => SyncPolicy::EveryBatch,
    };
    StoreConfig {
        write_buffer_bytes: 1024 * 1024,
        sync,
        ..StoreConfig::default()
    }
}

/// The views the writer keeps busy: three components, selectors, and one GET's own view.
fn views() -> Vec<ViewKey> {
    let v = |component: &str, resource: &str, labels: &str, fields: &str, name: &str| ViewKey {
        component: component.into(),
        gvr: Gvr::new("", "v1", resource),
        label_selector: labels.into(),
        field_selector: fields.into(),
        name: name.into(),
        ..ViewKey::default()
    };
    vec![
        v("kubelet", "pods", "", "spec.nodeName=n1", ""),
        v(
            "kube-proxy",
            "services",
            "!service.kubernetes.io/headless",
            "",
            "",
        ),
        v("kube-proxy", "endpoints", "app in (a,b)", "", ""),
        v("coredns", "services", "", "", ""),
        v("kubelet", "nodes", "", "", "n1"),
    ]
    .into_iter()
    .map(ViewKey::normalized)
    .collect()
}

/// Generation `g` of a collection view is an event burst when `g % 3 == 0`, else a full list.
fn is_burst(view: usize, g: u64) -> bool {
    view != OBJECT_VIEW && g >= 3 && g % 3 == 0
}

fn list_size(g: u64) -> usize {
    LIST_SIZES[(g % 4) as usize]
}

/// Object indices a view holds at generation `g`.
fn expected_indices(view: usize, g: u64) -> Vec<usize> {
    if view == OBJECT_VIEW {
        return vec![0];
    }
    if !is_burst(view, g) {
        return (0..list_size(g)).collect();
    }
    let n = list_size(g - 1);
    (0..n * 3 / 4).chain(n..n + 5).collect()
}

fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// `YURT` + view + generation + index + filler of varying length + FNV-64 of all that.
fn payload(view: usize, g: u64, index: usize) -> Vec<u8> {
    let mut p = b"YURT".to_vec();
    p.extend_from_slice(&(view as u32).to_be_bytes());
    p.extend_from_slice(&g.to_be_bytes());
    p.extend_from_slice(&(index as u32).to_be_bytes());
    let filler = 32 + (fnv64(&p) % 300) as usize;
    p.extend((0..filler).map(|i| (i as u8) ^ (g as u8)));
    let sum = fnv64(&p);
    p.extend_from_slice(&sum.to_be_bytes());
    p
}

/// Checks a payload's checksum and returns (view, generation, index).
fn parse_payload(p: &[u8]) -> Option<(usize, u64, usize)> {
    let (body, sum) = p.split_at_checked(p.len().checked_sub(8)?)?;
    if fnv64(body).to_be_bytes() != sum || body.get(..4)? != b"YURT" {
        return None;
    }
    let view = u32::from_be_bytes(body.get(4..8)?.try_into().ok()?) as usize;
    let g = u64::from_be_bytes(body.get(8..16)?.try_into().ok()?);
    let index = u32::from_be_bytes(body.get(16..20)?.try_into().ok()?) as usize;
    Some((view, g, index))
}

fn names(view: usize, index: usize) -> (String, String) {
    if view == OBJECT_VIEW {
        return (String::new(), "n1".into());
    }
    (format!("ns-{}", index % 3), format!("obj-{index}"))
}

fn meta(g: u64) -> ListMeta {
    ListMeta {
        api_version: "v1".into(),
        kind: "List".into(),
        resource_version: g,
        encoding: Encoding::Protobuf,
    }
}

type Object = ((String, String), Vec<u8>);

fn as_item(((namespace, name), bytes): &Object, g: u64) -> Item<'_> {
    Item {
        namespace,
        name,
        resource_version: g,
        bytes,
    }
}

/// Moves view `vi` from generation `g - 1` to `g` with one list commit or one event burst.
fn step(store: &Store, key: &ViewKey, vi: usize, g: u64) {
    let objects: Vec<Object> = expected_indices(vi, g)
        .into_iter()
        .map(|i| (names(vi, i), payload(vi, g, i)))
        .collect();
    let item = |o| as_item(o, g);
    if vi == OBJECT_VIEW {
        store
            .put_object(key, &meta(g), &item(&objects[0]))
            .expect("put_object");
        return;
    }
    if !is_burst(vi, g) && g % 2 == 0 {
        let items: Vec<Item> = objects.iter().map(item).collect();
        store
            .commit_list(key, &meta(g), &items)
            .expect("commit_list");
        return;
    }
    if !is_burst(vi, g) {
        // Streamed in small pushes, so kills land between the chunks of one LIST too.
        let mut list = store.begin_list(key).expect("begin_list");
        for chunk in objects.chunks(16) {
            let items: Vec<Item> = chunk.iter().map(item).collect();
            list.push(store, &items).expect("push");
        }
        list.finish(store, &meta(g)).expect("finish");
        return;
    }
    let n = list_size(g - 1);
    let stale_bytes = payload(vi, g - 1, 0);
    let gone: Vec<(String, String)> = (n * 3 / 4..n).map(|i| names(vi, i)).collect();
    let mut events: Vec<Event> = objects.iter().map(|o| Event::Put(item(o))).collect();
    // An older copy of object 0 arriving after the new one must not win.
    let (ns0, name0) = names(vi, 0);
    events.push(Event::Put(Item {
        namespace: &ns0,
        name: &name0,
        resource_version: g - 1,
        bytes: &stale_bytes,
    }));
    events.extend(gone.iter().map(|(namespace, name)| Event::Delete {
        namespace,
        name,
        resource_version: g,
    }));
    events.push(Event::Bookmark {
        resource_version: g,
    });
    store.apply(key, &events).expect("apply");
}

/// The writer: advances every view forever, printing `ack <view> <gen>` once a step returned.
#[test]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os(WRITER_ENV) else {
        return; // Only meaningful as the child of `kill_9_never_leaves_a_half_written_view`.
    };
    let store = Store::open(Path::new(&dir), &config()).expect("child open");
    let views = views();
    let mut out = std::io::stdout().lock();
    // On its own line: libtest has printed "test crash_writer_child ... " without a newline.
    writeln!(out, "\nready").expect("stdout");
    out.flush().expect("stdout");
    for vi in (0..views.len()).cycle() {
        let current = store
            .list(&views[vi])
            .expect("list")
            .map_or(0, |(m, _)| m.resource_version);
        step(&store, &views[vi], vi, current + 1);
        writeln!(out, "ack {vi} {}", current + 1).expect("stdout");
        out.flush().expect("stdout");
    }
}

/// splitmix64: a seeded, dependency-free PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// When to kill the writer: `delay` after it opened the store, or after it was spawned (then
/// the kill may land while fjall recovers from the previous one).
enum Kill {
    AfterReady(Duration),
    AfterSpawn(Duration),
}

/// Runs the writer, kill -9s it as `kill` says, and returns the acks it printed.
fn run_writer(dir: &Path, kill: Kill, coalesce: bool) -> Vec<(usize, u64)> {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    if coalesce {
        cmd.env(COALESCE_ENV, "1");
    }
    let mut child = cmd
        .args([
            "crash_writer_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut acks = Vec::new();
    let mut record = |line: String| {
        let mut it = line.strip_prefix("ack ")?.split(' ');
        acks.push((it.next()?.parse().ok()?, it.next()?.parse().ok()?));
        Some(())
    };
    match kill {
        Kill::AfterSpawn(delay) => std::thread::sleep(delay),
        Kill::AfterReady(delay) => {
            // libtest prints its own lines first; a writer that dies ends the iteration.
            let ready = lines.iter().any(|l| l == "ready");
            assert!(ready, "the writer never opened the store");
            std::thread::sleep(delay);
        }
    }
    let exited_early = child.try_wait().expect("try_wait").is_some();
    assert!(
        !exited_early,
        "the writer died on its own (run it alone to see why)"
    );
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    reader.join().expect("reader thread");
    lines.try_iter().for_each(|l| {
        record(l);
    });
    acks
}

/// Asserts view `vi` is one complete generation, between what was acknowledged and one more.
fn check_view(store: &Store, key: &ViewKey, vi: usize, acked: u64, seen: u64) -> u64 {
    let Some((m, items)) = store.list(key).expect("list after crash") else {
        assert_eq!(acked, 0, "view {vi}: acknowledged generation {acked} lost");
        return 0;
    };
    let g = m.resource_version;
    assert!(
        g == acked || g == acked + 1,
        "view {vi}: at {g}, acknowledged {acked}"
    );
    assert!(g >= seen, "view {vi}: went back from {seen} to {g}");
    let mut indices = Vec::new();
    for it in &items {
        let parsed = parse_payload(it.bytes());
        let Some((v, pg, index)) = parsed else {
            panic!("view {vi}: bytes of {}/{} damaged", it.namespace, it.name);
        };
        assert_eq!(
            (v, pg, it.resource_version),
            (vi, g, g),
            "view {vi}: mixed generations"
        );
        assert_eq!((it.namespace.clone(), it.name.clone()), names(vi, index));
        indices.push(index);
    }
    indices.sort_unstable();
    assert_eq!(
        indices,
        expected_indices(vi, g),
        "view {vi}: generation {g} incomplete"
    );
    let bytes: u64 = items.iter().map(|i| i.bytes().len() as u64).sum();
    assert_eq!(
        (m.count, m.bytes),
        (items.len() as u64, bytes),
        "view {vi}: metadata"
    );
    g
}

fn assert_private(dir: &Path) {
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode() & 0o777;
        if p.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
            stack.extend(
                std::fs::read_dir(&p)
                    .expect("ls")
                    .flatten()
                    .map(|e| e.path()),
            );
        } else {
            assert_eq!(mode, 0o600, "{}", p.display());
            files += 1;
        }
    }
    assert!(files > 0, "no files under {}", dir.display());
}

#[test]
fn kill_9_never_leaves_a_half_written_view() {
    let cycles = env_u64("YURT_STORE_CRASH_CYCLES", 100);
    let mut rng = Rng(env_u64("YURT_STORE_CRASH_SEED", 0x5EED_2026));
    let dir = std::env::temp_dir().join(format!("yurt-store-crash-{}", std::process::id()));
    let views = views();
    let (mut acked, mut seen) = (vec![0u64; views.len()], vec![0u64; views.len()]);
    let (mut total_acks, mut landed_unacked, started) = (0usize, 0usize, Instant::now());
    for cycle in 0..cycles {
        if cycle % FRESH_EVERY == 0 {
            // fjall replays its active journal (up to 64 MB) at open; starting over now and then
            // keeps a debug-build run short without giving up long kill/restart chains.
            let _ = std::fs::remove_dir_all(&dir);
            (acked, seen) = (vec![0; views.len()], vec![0; views.len()]);
        }
        let delay = Duration::from_millis(rng.next() % 200);
        let kill = match rng.next() % 8 {
            0 => Kill::AfterSpawn(delay),
            _ => Kill::AfterReady(delay),
        };
        // Every other run of cycles the writer uses group commit: acknowledged still means synced.
        let acks = run_writer(&dir, kill, (cycle / FRESH_EVERY) % 2 == 1);
        total_acks += acks.len();
        for (vi, g) in acks {
            acked[vi] = acked[vi].max(g);
        }
        let store = Store::open(&dir, &config()).expect("reopen after kill -9");
        for (vi, key) in views.iter().enumerate() {
            let g = check_view(&store, key, vi, acked[vi], seen[vi]);
            landed_unacked += usize::from(g > acked[vi]);
            // The next writer continues from what is on disk: that is the new baseline.
            (seen[vi], acked[vi]) = (g, g);
        }
        if cycle % FRESH_EVERY == 0 {
            assert_private(&dir);
        }
    }
    eprintln!(
        "store_crash: {cycles} kills in {:.1}s, {total_acks} acknowledged steps, \
         {landed_unacked} committed but killed before the ack",
        started.elapsed().as_secs_f64()
    );
    assert!(
        total_acks as u64 >= cycles / 2,
        "the writer barely wrote: {total_acks} steps"
    );

    // The store keeps working: one more step of every view, then read back.
    let store = Store::open(&dir, &config()).expect("final open");
    for (vi, key) in views.iter().enumerate() {
        step(&store, key, vi, seen[vi] + 1);
        check_view(&store, key, vi, seen[vi] + 1, seen[vi]);
    }
    assert_private(&dir);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
