//! Board configs (`board-configs/<board>/board.toml`): every file parses with unknown fields denied,
//! and its values are sane for the board (known target, real CPU name, memory sized to the RAM).
//! Schema and the reasons behind each limit: `board-configs/README.md`.

#![cfg(feature = "edge")]

use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The boards issue 5 promises; the test fails if any is missing or an unexpected one appears
/// without being added here.
const EXPECTED: [&str; 7] = [
    "jetson-nano",
    "jetson-orin",
    "qemu-virt-arm64",
    "qemu-virt-armv7",
    "rpi3",
    "rpi4",
    "rpi5",
];

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Board {
    schema: u32,
    board: String,
    description: String,
    build: Build,
    hardware: Hardware,
    image: Image,
    hub: Hub,
    agent: Agent,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Build {
    target: String,
    target_cpu: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Hardware {
    ram_mib: u64,
    cpus: u32,
    storage: Storage,
}

#[derive(Deserialize, Debug, PartialEq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum Storage {
    Sd,
    Emmc,
    Nvme,
    Virtio,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Image {
    init: Init,
    service: Service,
    persistent_mount: String,
    persistent_device: String,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Init {
    Systemd,
    Sysvinit,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Service {
    /// Hub and agent in one process (`yurt edge`).
    YurtEdge,
    /// `yurthub` and `yurt-tunnel-agent` as two services.
    Split,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Hub {
    cache_dir: String,
    block_cache_mib: u64,
    memtable_mib: u64,
    journal_mib: u64,
    sync: Sync,
    sync_coalesce_ms: u64,
    proxy_port: u16,
    server_port: u16,
    max_requests_in_flight: u32,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Sync {
    EachBatch,
    Coalesce,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Agent {
    meta_port: u16,
    allowed_ports: Vec<u16>,
    stream_window_kib: u64,
    max_streams: u64,
    keepalive_s: u64,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Target triples cross/build knows: one `targets/<triple>.env` each.
fn known_targets() -> BTreeSet<String> {
    let dir = root().join("targets");
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let name = e
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(t) = name.strip_suffix(".env") {
            out.insert(t.to_string());
        }
    }
    assert!(!out.is_empty(), "no targets/*.env found");
    out
}

/// CPUs we tune for, per architecture (the first part of the triple). rustc knows each
/// (`cpus_are_known_to_rustc` checks that against the installed toolchain).
fn cpus_for(target: &str) -> &'static [&'static str] {
    match target.split('-').next() {
        Some("aarch64") => &[
            "generic",
            "cortex-a53",
            "cortex-a57",
            "cortex-a72",
            "cortex-a76",
            "cortex-a78ae",
            "carmel",
        ],
        Some("armv7") => &[
            "generic",
            "cortex-a7",
            "cortex-a15",
            "cortex-a53",
            "cortex-a72",
        ],
        _ => &[],
    }
}

/// Every problem with one parsed board, as human-readable lines (empty = valid).
fn validate(b: &Board, dir_name: &str, targets: &BTreeSet<String>) -> Vec<String> {
    let mut errs = Vec::new();
    let mut check = |ok: bool, msg: String| {
        if !ok {
            errs.push(msg);
        }
    };
    let (h, hub, agent, img) = (&b.hardware, &b.hub, &b.agent, &b.image);
    check(b.schema == 1, format!("schema {} (want 1)", b.schema));
    check(
        b.board == dir_name,
        format!("board {:?} != folder {dir_name:?}", b.board),
    );
    check(!b.description.trim().is_empty(), "empty description".into());
    check(
        targets.contains(&b.build.target),
        format!("target {} has no targets/*.env", b.build.target),
    );
    check(
        cpus_for(&b.build.target).contains(&b.build.target_cpu.as_str()),
        format!(
            "target_cpu {} not known for {}",
            b.build.target_cpu, b.build.target
        ),
    );
    check(
        (128..=65536).contains(&h.ram_mib),
        format!("ram_mib {} outside 128..=65536", h.ram_mib),
    );
    check(
        (1..=32).contains(&h.cpus),
        format!("cpus {} outside 1..=32", h.cpus),
    );
    // Memory: fjall's block cache + memtables stay within 1/16 of the board's RAM.
    let hub_mib = hub.block_cache_mib + hub.memtable_mib;
    check(
        hub_mib * 16 <= h.ram_mib,
        format!("block cache + memtable {hub_mib} MiB > RAM/16"),
    );
    check(
        hub.block_cache_mib >= 1,
        "block_cache_mib must be >= 1".into(),
    );
    // fjall 3 panics on a write buffer under 1 MiB and on a journal cap under 64 MiB (the hub's
    // --cache-config refuses both first).
    check(
        hub.memtable_mib >= 1,
        "memtable_mib must be >= 1 (store minimum)".into(),
    );
    check(
        (64..=512).contains(&hub.journal_mib),
        format!(
            "journal_mib {} outside 64..=512 (fjall 3 minimum 64)",
            hub.journal_mib
        ),
    );
    // The hub gets these values as flags (images/board-env); the store must take them.
    let mut store = yurt::store::StoreConfig::default();
    let flags = yurt::hub::cache::config::StoreFlags {
        block_cache_mib: Some(hub.block_cache_mib),
        memtable_mib: Some(hub.memtable_mib),
        journal_mib: Some(hub.journal_mib),
        sync: Some(match hub.sync {
            Sync::EachBatch => "each-batch".into(),
            Sync::Coalesce => "coalesce".into(),
        }),
        sync_coalesce_ms: (hub.sync == Sync::Coalesce).then_some(hub.sync_coalesce_ms),
    };
    let taken = flags
        .apply(&mut store)
        .and_then(|()| store.validate().map_err(|e| e.to_string()));
    check(
        taken.is_ok(),
        format!("the hub refuses the [hub] values: {taken:?}"),
    );
    check(
        hub.journal_mib >= 2 * hub.memtable_mib,
        "journal_mib < 2 x memtable_mib".into(),
    );
    match hub.sync {
        Sync::EachBatch => check(
            hub.sync_coalesce_ms == 0,
            "each-batch needs sync_coalesce_ms = 0".into(),
        ),
        Sync::Coalesce => check(
            (1..=1000).contains(&hub.sync_coalesce_ms),
            format!(
                "coalesce window {} ms outside 1..=1000",
                hub.sync_coalesce_ms
            ),
        ),
    }
    // SD cards: slow fsync and wear; bursts must be coalesced.
    check(
        h.storage != Storage::Sd || hub.sync == Sync::Coalesce,
        "storage sd needs sync = \"coalesce\"".into(),
    );
    check(
        !b.board.starts_with("qemu-") || img.init == Init::Sysvinit,
        "qemu boards boot a busybox initramfs: init = \"sysvinit\"".into(),
    );
    check(
        h.ram_mib >= 512 || img.service == Service::YurtEdge,
        "under 512 MiB RAM run hub and agent in one process: service = \"yurt-edge\"".into(),
    );
    check(
        img.persistent_mount.starts_with('/'),
        "persistent_mount must be absolute".into(),
    );
    check(
        Path::new(&hub.cache_dir).starts_with(&img.persistent_mount)
            && hub.cache_dir != img.persistent_mount,
        format!(
            "cache_dir {} not inside persistent_mount {}",
            hub.cache_dir, img.persistent_mount
        ),
    );
    check(
        img.persistent_device == "rootfs" || img.persistent_device.starts_with("/dev/"),
        format!(
            "persistent_device {:?}: a /dev path or \"rootfs\"",
            img.persistent_device
        ),
    );
    check(
        hub.proxy_port == 10261,
        "proxy_port: kubelet's kubeconfig points at 10261".into(),
    );
    check(
        hub.server_port == 10267,
        "server_port: 10267 (healthz) per DESIGN.md".into(),
    );
    check(
        agent.meta_port == 10266,
        "agent meta_port: 10266 per DESIGN.md".into(),
    );
    check(
        (1..=5000).contains(&hub.max_requests_in_flight),
        "max_requests_in_flight outside 1..=5000".into(),
    );
    check(
        agent.allowed_ports.contains(&10250),
        "allowed_ports must include kubelet's 10250".into(),
    );
    check(
        !agent.allowed_ports.contains(&0),
        "allowed_ports holds 0".into(),
    );
    check(
        (16..=16384).contains(&agent.stream_window_kib),
        "stream_window_kib outside 16..=16384".into(),
    );
    check(
        (1..=4096).contains(&agent.max_streams),
        "max_streams outside 1..=4096".into(),
    );
    // Worst case every stream's window is full: stay within 1/8 of RAM.
    let agent_mib = agent.stream_window_kib * agent.max_streams / 1024;
    check(
        agent_mib * 8 <= h.ram_mib,
        format!("stream windows {agent_mib} MiB > RAM/8"),
    );
    check(
        (1..=300).contains(&agent.keepalive_s),
        "keepalive_s outside 1..=300".into(),
    );
    errs
}

fn board_files() -> Vec<(String, PathBuf)> {
    let dir = root().join("board-configs");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let e = e.expect("dir entry");
        if e.file_type().expect("file type").is_dir() {
            let f = e.path().join("board.toml");
            assert!(f.is_file(), "{} has no board.toml", e.path().display());
            out.push((e.file_name().to_string_lossy().into_owned(), f));
        }
    }
    out.sort();
    out
}

fn parse(path: &Path) -> Result<Board, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e| e.to_string())
}

#[test]
fn every_board_config_parses_and_is_sane() {
    let targets = known_targets();
    let files = board_files();
    assert!(!files.is_empty(), "found no board-configs/*/board.toml");
    let mut failures = Vec::new();
    for (name, path) in &files {
        match parse(path) {
            Ok(b) => {
                for e in validate(&b, name, &targets) {
                    failures.push(format!("{name}: {e}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "invalid board configs:\n{}",
        failures.join("\n")
    );
    let found: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        found, EXPECTED,
        "board set changed: update EXPECTED and the README together"
    );
}

#[test]
fn every_target_has_a_board_and_cross_settings() {
    let targets = known_targets();
    let used: BTreeSet<String> = board_files()
        .iter()
        .map(|(_, p)| parse(p).expect("parses").build.target)
        .collect();
    assert_eq!(
        used, targets,
        "a targets/*.env no board uses, or a board target without settings"
    );
}

#[test]
fn unknown_fields_and_bad_sizes_are_rejected() {
    let good = std::fs::read_to_string(root().join("board-configs/rpi4/board.toml")).expect("rpi4");
    let targets = known_targets();
    let typo = good.replace("memtable_mib", "memtabel_mib");
    assert!(
        toml::from_str::<Board>(&typo).is_err(),
        "a misspelt key must not parse"
    );
    let extra = format!("{good}\n[extra]\nx = 1\n");
    assert!(
        toml::from_str::<Board>(&extra).is_err(),
        "an unknown table must not parse"
    );
    let bad_sync = good.replace("sync = \"coalesce\"", "sync = \"sometimes\"");
    assert!(
        toml::from_str::<Board>(&bad_sync).is_err(),
        "an unknown sync policy must not parse"
    );

    let too_big = good.replace("block_cache_mib = 8", "block_cache_mib = 512");
    let b: Board = toml::from_str(&too_big).expect("parses");
    assert!(validate(&b, "rpi4", &targets)
        .iter()
        .any(|e| e.contains("RAM/16")));
    let small_journal = good.replace("journal_mib = 64", "journal_mib = 32");
    let b: Board = toml::from_str(&small_journal).expect("parses");
    assert!(validate(&b, "rpi4", &targets)
        .iter()
        .any(|e| e.contains("journal_mib")));
    let sd_each = good
        .replace("sync = \"coalesce\"", "sync = \"each-batch\"")
        .replace("sync_coalesce_ms = 50", "sync_coalesce_ms = 0");
    let b: Board = toml::from_str(&sd_each).expect("parses");
    assert!(validate(&b, "rpi4", &targets)
        .iter()
        .any(|e| e.contains("storage sd")));
    let b: Board = toml::from_str(&good.replace("cortex-a72", "cortex-a9000")).expect("parses");
    assert!(validate(&b, "rpi4", &targets)
        .iter()
        .any(|e| e.contains("target_cpu")));
    let b: Board = toml::from_str(&good).expect("parses");
    assert!(validate(&b, "rpi4", &targets).is_empty());
}

#[test]
fn cpus_are_known_to_rustc() {
    // The CPU names go to `-C target-cpu`; a name rustc does not know is a silent no-op with a warning.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut checked = 0;
    for (name, path) in board_files() {
        let b = parse(&path).expect("parses");
        let out = std::process::Command::new(&rustc)
            .args(["--print", "target-cpus", "--target", &b.build.target])
            .output()
            .expect("run rustc --print target-cpus");
        assert!(
            out.status.success(),
            "rustc --print target-cpus --target {}",
            b.build.target
        );
        let listing = String::from_utf8_lossy(&out.stdout);
        let known = listing
            .lines()
            .any(|l| l.split_whitespace().next() == Some(b.build.target_cpu.as_str()));
        assert!(
            known,
            "{name}: rustc does not know target-cpu {}",
            b.build.target_cpu
        );
        checked += 1;
    }
    assert_eq!(checked, EXPECTED.len());
}
