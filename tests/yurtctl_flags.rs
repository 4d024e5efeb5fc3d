//! Every container the manifests run (yurtctl's rendered templates, the node's static pod, and
//! manifests/tunnel/) runs a `yurt` subcommand that exists, with flags that subcommand accepts
//! per its own `--help`, at the path the image (images/container/Containerfile) installs it.
//! A manifest with an unknown flag would crash-loop on a real cluster.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use yurt::yurtctl::template;

const YURT: &str = "/usr/local/bin/yurt";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `--name` tokens of a `--help` text.
fn help_flags(sub: &[String]) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(sub)
        .arg("--help")
        .output()
        .expect("run yurt");
    assert_eq!(out.status.code(), Some(0), "yurt {sub:?} --help");
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|t| t.strip_prefix("--"))
        .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .map(|t| {
            t.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .collect()
}

/// (where, subcommand, args) of every container in `objs` (pod templates and pods).
fn containers(name: &str, objs: &[Value]) -> Vec<(String, Vec<String>, Vec<String>)> {
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for o in objs {
        let spec = if o["kind"] == "Pod" {
            &o["spec"]
        } else {
            &o["spec"]["template"]["spec"]
        };
        for c in spec["containers"].as_array().into_iter().flatten() {
            let cmd = strs(&c["command"]);
            assert_eq!(
                cmd.first().map(String::as_str),
                Some(YURT),
                "{name}: {cmd:?}"
            );
            out.push((
                format!("{name} {}", o["metadata"]["name"]),
                cmd[1..].to_vec(),
                strs(&c["args"]),
            ));
        }
    }
    out
}

fn rendered() -> Vec<(String, Vec<Value>)> {
    let values = [
        ("cloud_nodes", "c1"),
        ("edge_nodes", "e1"),
        ("autonomous_nodes", ""),
        ("tunnel_server_address", "10.0.0.10:10262"),
        ("image", "reg.example/yurt:1"),
        ("node", "e1"),
        ("server_addr", "https://10.0.0.10:6443"),
        ("original_kubeconfig", "/etc/kubernetes/kubelet.conf"),
        ("kubeconfig_dir", "/etc/kubernetes"),
        ("node_ip", "10.0.0.21"),
        ("tunnel_ca_b64", ""),
        ("tunnel_cert_b64", ""),
        ("tunnel_key_b64", ""),
        ("tunnel_ca_json", "\"\""),
    ];
    let mut out = Vec::new();
    for t in template::all() {
        let text = template::render(&t, &values).expect("render");
        out.push((
            t.name.to_string(),
            template::parse(t.name, &text).expect("parse"),
        ));
    }
    for f in [
        "manifests/tunnel/server.yaml",
        "manifests/tunnel/agent.yaml",
    ] {
        let text = std::fs::read_to_string(root().join(f)).expect(f);
        out.push((f.to_string(), template::parse(f, &text).expect("parse")));
    }
    out
}

#[test]
fn every_manifest_container_passes_only_accepted_flags() {
    let mut checked = BTreeSet::new();
    for (name, objs) in rendered() {
        for (at, sub, args) in containers(&name, &objs) {
            let accepted = help_flags(&sub);
            for a in &args {
                let flag = a
                    .strip_prefix("--")
                    .unwrap_or_else(|| panic!("{at}: {a:?} is not a --flag"))
                    .split('=')
                    .next()
                    .unwrap_or("");
                assert!(
                    accepted.contains(flag),
                    "{at}: `yurt {}` does not accept --{flag}",
                    sub.join(" ")
                );
            }
            checked.insert(sub.join(" "));
        }
    }
    // The tunnel server, the three node Jobs, the static pod and the standalone agent.
    for sub in [
        "tunnel-server",
        "yurtctl node check",
        "yurtctl node convert",
        "yurtctl node revert",
        "edge",
        "tunnel-agent",
    ] {
        assert!(
            checked.contains(sub),
            "no manifest runs `yurt {sub}`: {checked:?}"
        );
    }
}

#[test]
fn the_image_installs_yurt_where_the_manifests_run_it() {
    let text = std::fs::read_to_string(root().join("images/container/Containerfile"))
        .expect("Containerfile");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(lines.first(), Some(&"FROM scratch"), "{lines:?}");
    assert!(
        lines.contains(&format!("COPY yurt {YURT}").as_str()),
        "{lines:?}"
    );
    assert!(
        text.contains("--features cloud"),
        "the Jobs run yurtctl: the image needs the cloud feature set"
    );
    // containers() asserts every manifest container runs this binary, nothing else (a scratch
    // image has no other program).
}
