//! Every template under manifests/yurtctl/ renders and parses; `yurtctl manifests` prints the
//! objects convert creates, with the given node, image and address values.

use std::process::{Command, Output};

use serde_json::Value;
use yurt::yurtctl::template;

fn yurtctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yurt"))
        .arg("yurtctl")
        .args(args)
        .output()
        .expect("run yurt")
}

fn files_under(dir: &std::path::Path, out: &mut Vec<String>, base: &std::path::Path) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files_under(&p, out, base);
        } else {
            out.push(p.strip_prefix(base).expect("prefix").display().to_string());
        }
    }
}

#[test]
fn every_template_file_is_compiled_in_and_parses_after_rendering() {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/yurtctl");
    let mut files = Vec::new();
    files_under(&base, &mut files, &base);
    files.retain(|f| f != "README.md");
    assert!(files.len() >= 8, "{files:?}");
    let compiled: Vec<&str> = template::all().iter().map(|t| t.name).collect();
    let values = [
        ("cloud_nodes", "c1"),
        ("edge_nodes", "e1,e2"),
        ("autonomous_nodes", "e2"),
        ("tunnel_server_address", "10.0.0.10:10262"),
        ("image", "reg.example/yurt:1"),
        ("node", "e1"),
        ("server_addr", "https://10.0.0.10:6443"),
        ("original_kubeconfig", "/etc/kubernetes/kubelet.conf"),
        ("kubeconfig_dir", "/etc/kubernetes"),
        ("node_ip", "10.0.0.21"),
        ("tunnel_ca_b64", "Q0E="),
        ("tunnel_cert_b64", "Q0VSVA=="),
        ("tunnel_key_b64", "S0VZ"),
        ("tunnel_ca_json", "\"CA\""),
    ];
    for f in &files {
        assert!(
            compiled.contains(&f.as_str()),
            "{f} is not in template::all()"
        );
    }
    for t in template::all() {
        let out = template::render(&t, &values).expect("render");
        assert!(!out.contains("{{"), "{}", t.name);
        let docs = template::parse(t.name, &out).expect("parse");
        assert!(!docs.is_empty(), "{}", t.name);
        for d in docs {
            assert!(
                d["apiVersion"].is_string() && d["kind"].is_string(),
                "{}: {d}",
                t.name
            );
        }
    }
}

fn docs(yaml: &str) -> Vec<Value> {
    template::parse("stdout", yaml).expect("manifests output parses")
}

#[test]
fn manifests_prints_every_object_with_the_values() {
    let out = yurtctl(&[
        "manifests",
        "--cloud-nodes=c1",
        "--edge-nodes",
        "e1,e2",
        "--autonomous-nodes=e2",
        "--tunnel-server-address=10.0.0.10:10262",
        "--image-registry=reg.example/yurt",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objs = docs(&String::from_utf8_lossy(&out.stdout));
    let kinds: Vec<String> = objs
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap/yurt-hub-cfg",
            "ServiceAccount/yurt-tunnel-server",
            "ClusterRole/yurt-tunnel-server",
            "ClusterRoleBinding/yurt-tunnel-server",
            "Role/yurt-hub-cfg-reader",
            "RoleBinding/yurt-hub-cfg-reader",
            "Secret/yurt-tunnel-server-certs",
            "ConfigMap/yurt-tunnel-ca",
            "DaemonSet/yurt-tunnel-server",
            "Service/yurt-tunnel-server",
            "Job/yurtctl-convert-e1",
            "Job/yurtctl-convert-e2",
        ]
    );
    let cm = &objs[0]["data"];
    assert_eq!(cm["cloudNodes"], "c1");
    assert_eq!(cm["edgeNodes"], "e1,e2");
    assert_eq!(cm["autonomousNodes"], "e2");
    let image = format!("reg.example/yurt/yurt:{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        objs[8]["spec"]["template"]["spec"]["containers"][0]["image"],
        image.as_str()
    );
    // Key material is convert's to generate: printed empty.
    assert_eq!(objs[6]["data"]["tls.key"], "");
    assert_eq!(objs[7]["data"]["ca.crt"], "");
    let job = &objs[11]["spec"]["template"]["spec"];
    assert_eq!(job["nodeName"], "e2");
    let args = job["containers"][0]["args"].to_string();
    assert!(
        args.contains("--tunnel-server-address=10.0.0.10:10262"),
        "{args}"
    );
}

#[test]
fn generate_tunnel_certs_prints_fresh_consistent_material() {
    use base64::Engine;
    let run = || {
        let out = yurtctl(&[
            "manifests",
            "--cloud-nodes=c1",
            "--tunnel-server-address=tunnel.example:10262",
            "--generate-tunnel-certs",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let objs = docs(&String::from_utf8_lossy(&out.stdout));
        let find = |kind: &str, name: &str| {
            objs.iter()
                .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
                .cloned()
                .expect("object printed")
        };
        let secret = find("Secret", "yurt-tunnel-server-certs");
        let cm = find("ConfigMap", "yurt-tunnel-ca");
        let dec = |k: &str| {
            let b = base64::engine::general_purpose::STANDARD
                .decode(secret["data"][k].as_str().expect("b64"))
                .expect("base64");
            String::from_utf8(b).expect("utf8")
        };
        assert!(dec("tls.crt").starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(dec("tls.key").contains("PRIVATE KEY"));
        assert_eq!(cm["data"]["ca.crt"], dec("ca.crt").as_str());
        dec("ca.crt")
    };
    assert_ne!(run(), run(), "each run generates a new tunnel CA");
}

#[test]
fn conflicting_node_sets_are_one_line_and_exit_64() {
    for bad in [
        vec!["manifests", "--cloud-nodes=a", "--edge-nodes=a"],
        vec![
            "manifests",
            "--cloud-nodes=a",
            "--edge-nodes=b",
            "--autonomous-nodes=a",
        ],
        vec!["manifests", "--cloud-nodes="],
        vec!["manifests"],
    ] {
        let out = yurtctl(&bad);
        assert_eq!(out.status.code(), Some(64), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_link_named_yurtctl_runs_yurtctl() {
    let dir = std::env::temp_dir().join(format!("yurtctl-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let link = dir.join("yurtctl");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_yurt"), &link).expect("symlink");
    let out = Command::new(&link)
        .args(["manifests", "--cloud-nodes=c1"])
        .output()
        .expect("run link");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: yurt-hub-cfg"));
}
