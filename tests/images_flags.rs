//! Every flag the images pass (systemd units, the SysV script, the env file from images/board-env)
//! is one the binary accepts, per its own `--help`. A unit with an unknown flag exits 64 at boot.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

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
    let out = Command::new(root().join("images/board-env"))
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
