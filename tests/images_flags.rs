//! Every flag the images pass (systemd units, the SysV script, the env file from images/board-env)
//! is one the binary accepts, per its own `--help`. A unit with an unknown flag exits 64 at boot.
//! The board's cache tuning (`images/board-env --cache-json`, passed as `--cache-config`) resolves
//! through the hub's own code for every board, carries the board's numbers, and is what a started
//! hub reports using.

mod hubkit;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use yurt::hub::cache::config::DEFAULT_AGENTS;
use yurt::hub::cache::CacheConfig;
use yurt::store::{StoreConfig, SyncPolicy};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn help_flags(cmd: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args([cmd, "--help"])
        .output()
        .expect("run yurt");
    assert_eq!(out.status.code(), Some(0), "yurt {cmd} --help");
    flags_in(&String::from_utf8_lossy(&out.stdout))
}

/// `--name` tokens in `text` (without `=value`).
fn flags_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`' || c == ',')
        .filter_map(|t| t.strip_prefix("--"))
        .map(|t| {
            t.split('=')
                .next()
                .unwrap_or("")
                .trim_end_matches(['\\', ';', ')'])
                .to_string()
        })
        .filter(|t| !t.is_empty() && t.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect()
}

/// The command a line of a unit or script runs, by the binary or link it names.
fn command_of(line: &str) -> Option<&'static str> {
    [
        ("yurt-edge", "edge"),
        ("yurt-tunnel-agent", "tunnel-agent"),
        ("yurthub", "hub"),
    ]
    .into_iter()
    .find(|(bin, _)| line.contains(&format!("/usr/bin/{bin} ")))
    .map(|(_, cmd)| cmd)
}

/// Joins shell continuation lines.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in text.lines() {
        match l.trim_end().strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(l);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    out
}

fn board_env(board: &str) -> String {
    board_env_with(&[], board)
}

/// `images/board-env [extra...] board-configs/<board>/board.toml`'s output.
fn board_env_with(extra: &[&str], board: &str) -> String {
    let out = Command::new(root().join("images/board-env"))
        .args(extra)
        .arg(root().join(format!("board-configs/{board}/board.toml")))
        .output()
        .expect("run board-env");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// The flags inside `NAME="..."` in an env file.
fn env_flags(env: &str, name: &str) -> BTreeSet<String> {
    let line = env
        .lines()
        .find(|l| l.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in env"));
    flags_in(line)
}

#[test]
fn units_and_init_script_pass_only_accepted_flags() {
    let files = [
        "images/systemd/yurt-edge.service",
        "images/systemd/yurthub.service",
        "images/systemd/yurt-tunnel-agent.service",
        "images/buildroot/package/yurt/S99yurt",
    ];
    let mut checked = 0;
    let env = board_env("rpi4");
    for f in files {
        let text = std::fs::read_to_string(root().join(f)).expect(f);
        for line in logical_lines(&text) {
            let Some(cmd) = command_of(&line) else {
                continue;
            };
            let accepted = help_flags(cmd);
            let mut used = flags_in(&line);
            for var in ["YURT_HUB_FLAGS", "YURT_EDGE_FLAGS", "YURT_AGENT_FLAGS"] {
                if line.contains(&format!("${var}")) {
                    used.extend(env_flags(&env, var));
                }
            }
            assert!(!used.is_empty());
            let unknown: Vec<_> = used.difference(&accepted).collect();
            assert!(
                unknown.is_empty(),
                "{f}: `yurt {cmd}` does not accept {unknown:?} (line: {line})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "found only {checked} command lines to check");
}

#[test]
fn the_check_catches_an_unknown_flag() {
    let accepted = help_flags("edge");
    let used = flags_in("/usr/bin/yurt-edge --tunnelserver-addr=x --node-name=%H");
    assert!(used.difference(&accepted).any(|f| f == "tunnelserver-addr"));
    assert!(!used.difference(&accepted).any(|f| f == "node-name"));
}

/// Every board folder's name.
fn boards() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("board-configs"))
        .expect("board-configs")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("board.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "found no board-configs/*/board.toml");
    out
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "yurt-images-flags-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// `[hub]` of a board config, as TOML.
fn hub_table(board: &str) -> toml::Table {
    let path = root().join(format!("board-configs/{board}/board.toml"));
    let text = std::fs::read_to_string(&path).expect("board.toml");
    let doc: toml::Table = toml::from_str(&text).expect("board.toml parses");
    doc["hub"].as_table().expect("[hub]").clone()
}

fn mib(t: &toml::Table, key: &str) -> u64 {
    let v = t[key].as_integer().unwrap_or_else(|| panic!("hub.{key}"));
    u64::try_from(v).expect("non-negative") * 1024 * 1024
}

#[test]
fn every_board_cache_config_resolves_in_the_hub_with_the_board_numbers() {
    let dir = scratch("resolve");
    let mut checked = 0;
    for board in boards() {
        let file = dir.join(format!("{board}.json"));
        std::fs::write(&file, board_env_with(&["--cache-json"], &board)).expect("write");
        // The same call `yurt hub --cache-config FILE` makes.
        let cfg = CacheConfig::resolve(&dir.join("cache"), DEFAULT_AGENTS, Some(&file), None)
            .unwrap_or_else(|e| panic!("{board}: the hub refuses its cache config: {e}"));
        let hub = hub_table(&board);
        let coalesce =
            u64::try_from(hub["sync_coalesce_ms"].as_integer().expect("ms")).expect("ms");
        let sync = match hub["sync"].as_str().expect("sync") {
            "each-batch" => SyncPolicy::EveryBatch,
            "coalesce" => SyncPolicy::CoalesceMs(coalesce),
            other => panic!("{board}: sync {other}"),
        };
        let want = StoreConfig {
            block_cache_bytes: mib(&hub, "block_cache_mib"),
            write_buffer_bytes: mib(&hub, "memtable_mib"),
            max_journal_bytes: mib(&hub, "journal_mib"),
            sync,
            ..StoreConfig::default()
        };
        assert_eq!(cfg.store, want, "{board}");
        assert_ne!(
            cfg.store,
            StoreConfig::default(),
            "{board}: the board tuning must differ from the built-in defaults to be seen"
        );
        // The env file points the units at the path the images install this JSON to.
        let env = board_env(&board);
        assert!(
            env.lines()
                .any(|l| l == "YURT_CACHE_CONFIG=/etc/yurt/cache.json"),
            "{board}: {env}"
        );
        assert!(env_flags(&env, "YURT_HUB_FLAGS").contains("cache-config"));
        checked += 1;
    }
    assert_eq!(checked, 7, "seven boards");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_env_passes_the_cache_config_path_to_the_hub() {
    let env = board_env("rpi4");
    let line = env
        .lines()
        .find(|l| l.starts_with("YURT_HUB_FLAGS="))
        .expect("YURT_HUB_FLAGS");
    assert!(
        line.contains("--cache-config=/etc/yurt/cache.json"),
        "{line}"
    );
}

#[test]
fn a_started_hub_reports_the_board_tuning_it_was_given() {
    let dir = scratch("started");
    let file = dir.join("cache.json");
    std::fs::write(&file, board_env_with(&["--cache-json"], "rpi4")).expect("write");
    let kc = dir.join("kubelet.conf");
    let client = hubkit::pki().node_client("edge-node-1").expect("cert");
    std::fs::write(
        &kc,
        hubkit::pki().kubeconfig("https://127.0.0.1:1", &client),
    )
    .expect("kc");
    let (kc_flag, cache_flag, dir_flag) = (
        format!("--kubeconfig={}", kc.display()),
        format!("--cache-config={}", file.display()),
        format!("--disk-cache-path={}", dir.join("cache").display()),
    );
    let (child, lines) = hubkit::spawn_yurt(
        &[
            "hub",
            "--node-name=edge-node-1",
            &kc_flag,
            &cache_flag,
            &dir_flag,
            "--proxy-port=0",
            "--port=0",
        ],
        "proxy listening on",
    );
    drop(child);
    let opened = lines
        .iter()
        .find(|l| l.contains("cache in "))
        .unwrap_or_else(|| panic!("no cache line in {lines:?}"));
    // rpi4: 8 MiB block cache, 4 MiB memtables, 64 MiB journal, 50 ms group commit.
    for want in [
        "block_cache_bytes: 8388608",
        "write_buffer_bytes: 4194304",
        "max_journal_bytes: 67108864",
        "sync: CoalesceMs(50)",
    ] {
        assert!(opened.contains(want), "{want} not in {opened}");
    }

    // A board file fjall would panic on is refused with a clear line and exit 64, before fjall.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"max_journal_bytes": 25165824}"#).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args([
            "hub",
            "--node-name=edge-node-1",
            &kc_flag,
            &dir_flag,
            "--proxy-port=0",
            "--port=0",
        ])
        .arg(format!("--cache-config={}", bad.display()))
        .output()
        .expect("run yurt");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("max_journal_bytes"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
