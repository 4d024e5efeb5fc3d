//! `yurtctl node convert` / `node revert` on copies of real kubelet layouts
//! (tests/fixtures/kubelet-layouts) in a temp root: revert restores every byte, convert twice is
//! harmless, an unknown layout is refused with one line and nothing changed.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/kubelet-layouts"
);

/// A temp directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "yurtctl-node-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&p).expect("mkdir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Every path under `root` with its mode and (for files) its bytes.
type Snapshot = BTreeMap<String, (u32, Option<Vec<u8>>)>;

fn snapshot(root: &Path) -> Snapshot {
    fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(root).expect("prefix").display().to_string();
            let meta = std::fs::metadata(&p).expect("meta");
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                out.insert(rel, (mode, None));
                walk(root, &p, out);
            } else {
                out.insert(rel, (mode, Some(std::fs::read(&p).expect("read"))));
            }
        }
    }
    let mut out = Snapshot::new();
    walk(root, root, &mut out);
    out
}

fn yurtctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yurt"))
        .arg("yurtctl")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run yurt")
}

/// A tunnel CA as the Job mounts it (ConfigMap yurt-tunnel-ca), outside every root.
fn tunnel_ca() -> &'static str {
    static CA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CA.get_or_init(|| {
        let pem = yurt::yurtctl::certs::TunnelCerts::generate("10.0.0.10")
            .expect("certs")
            .ca_pem;
        // Cargo's scratch directory for integration tests (inside target/).
        let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("yurtctl-node-tunnel-ca-{}.crt", std::process::id()));
        std::fs::write(&p, pem).expect("write CA");
        p.display().to_string()
    })
}

fn convert(root: &Path) -> Output {
    yurtctl(&[
        "node",
        "convert",
        &format!("--root={}", root.display()),
        "--node-name=edge-1",
        "--tunnel-server-address=10.0.0.10:10262",
        &format!("--tunnel-ca-file={}", tunnel_ca()),
        "--node-ip=10.0.0.21",
    ])
}

fn revert(root: &Path) -> Output {
    yurtctl(&["node", "revert", "--root", &root.display().to_string()])
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn known_layouts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() && !p.ends_with("unknown"))
        .collect();
    v.sort();
    v
}

fn check_converted(root: &Path, name: &str) {
    let conf = std::fs::read_to_string(root.join("var/lib/openyurt/kubelet.conf")).expect("conf");
    assert!(conf.contains("server: http://127.0.0.1:10261"), "{name}");
    for secret in ["client-certificate", "client-key", "token", "password"] {
        assert!(
            !conf.contains(secret),
            "{name}: kubelet.conf carries {secret}"
        );
    }
    let pod_dir = if name.ends_with("systemd-unit") {
        "etc/kubelet.d" // its kubelet config's staticPodPath
    } else {
        "etc/kubernetes/manifests"
    };
    let pod = std::fs::read_to_string(root.join(pod_dir).join("yurt-edge.yaml"))
        .unwrap_or_else(|e| panic!("{name}: static pod: {e}"));
    assert!(
        pod.contains("--server-addr=https://10.0.0.10:6443"),
        "{name}: {pod}"
    );
    for arg in [
        "--node-ip=10.0.0.21",
        "--tunnel-ca-file=/var/lib/openyurt/tunnel-ca.crt",
    ] {
        assert!(pod.contains(arg), "{name}: {arg} missing in {pod}");
    }
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/openyurt/tunnel-ca.crt")).expect("tunnel CA"),
        std::fs::read_to_string(tunnel_ca()).expect("CA"),
        "{name}: the tunnel CA is copied where the static pod mounts it"
    );
    let mut pointed = 0;
    for (rel, (_, bytes)) in snapshot(root) {
        let Some(bytes) = bytes else { continue };
        let t = String::from_utf8_lossy(&bytes);
        if rel.contains("openyurt") || !t.contains("kubeconfig") || rel.ends_with(".yaml") {
            continue;
        }
        assert!(!t.contains("--bootstrap-kubeconfig"), "{name}: {rel}");
        if t.contains("/var/lib/openyurt/kubelet.conf") {
            pointed += 1;
        }
    }
    assert!(pointed >= 1, "{name}: no kubelet file points at the hub");
}

#[test]
fn every_known_layout_converts_and_reverts_byte_for_byte() {
    let layouts = known_layouts();
    assert!(layouts.len() >= 4, "fixtures: {layouts:?}");
    for fixture in layouts {
        let name = fixture.display().to_string();
        let tmp = TempDir::new("rt");
        copy_tree(&fixture, &tmp.0);
        let before = snapshot(&tmp.0);

        let out = convert(&tmp.0);
        assert!(out.status.success(), "{name}: {}", text(&out));
        check_converted(&tmp.0, &name);
        let converted = snapshot(&tmp.0);
        assert_ne!(converted, before);

        let again = convert(&tmp.0);
        assert!(again.status.success(), "{name}: {}", text(&again));
        assert!(text(&again).contains("unchanged"), "{}", text(&again));
        assert_eq!(
            snapshot(&tmp.0),
            converted,
            "{name}: second convert changed files"
        );

        let out = revert(&tmp.0);
        assert!(out.status.success(), "{name}: {}", text(&out));
        assert_eq!(
            snapshot(&tmp.0),
            before,
            "{name}: revert is not byte-identical"
        );

        let out = revert(&tmp.0);
        assert!(out.status.success() && text(&out).contains("nothing to do"));
        assert_eq!(snapshot(&tmp.0), before);
    }
}

#[test]
fn kubeadm_flags_env_with_kubeconfig_is_repointed_too() {
    let tmp = TempDir::new("env");
    copy_tree(&Path::new(FIXTURES).join("kubeadm-etc"), &tmp.0);
    let out = convert(&tmp.0);
    assert!(out.status.success(), "{}", text(&out));
    let env =
        std::fs::read_to_string(tmp.0.join("var/lib/kubelet/kubeadm-flags.env")).expect("env");
    assert_eq!(
        env,
        "KUBELET_KUBEADM_ARGS=\"--network-plugin=cni --pod-infra-container-image=k8s.gcr.io/pause:3.2 --kubeconfig=/var/lib/openyurt/kubelet.conf\"\n"
    );
    let dropin = std::fs::read_to_string(
        tmp.0
            .join("etc/systemd/system/kubelet.service.d/10-kubeadm.conf"),
    )
    .expect("dropin");
    assert!(dropin.contains(
        "Environment=\"KUBELET_KUBECONFIG_ARGS=--kubeconfig=/var/lib/openyurt/kubelet.conf\"\n"
    ));
}

#[test]
fn unknown_layout_is_one_line_and_changes_nothing() {
    for fixture in ["unknown", "no-such-tree"] {
        let tmp = TempDir::new("unknown");
        let src = Path::new(FIXTURES).join(fixture);
        if src.is_dir() {
            copy_tree(&src, &tmp.0);
        }
        let before = snapshot(&tmp.0);
        let out = convert(&tmp.0);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("unknown kubelet layout"), "{err}");
        assert_eq!(snapshot(&tmp.0), before);
    }
}

#[test]
fn missing_or_bad_agent_inputs_are_usage_errors_before_anything_changes() {
    let out = yurtctl(&["node", "convert", "--root", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);

    let tmp = TempDir::new("inputs");
    copy_tree(&Path::new(FIXTURES).join("kubeadm-deb"), &tmp.0);
    let before = snapshot(&tmp.0);
    let not_pem = tmp.0.join("etc/hostname").display().to_string();
    let ca = tunnel_ca().to_string();
    for (ip, ca, want) in [
        ("", ca.as_str(), "--node-ip must name this node's IP"),
        (
            "10.0.0.300",
            ca.as_str(),
            "\"10.0.0.300\" is not an IP address",
        ),
        ("10.0.0.21", not_pem.as_str(), "tunnel CA:"),
        (
            "10.0.0.21",
            "/nonexistent/ca.crt",
            "--tunnel-ca-file /nonexistent/ca.crt",
        ),
    ] {
        let out = yurtctl(&[
            "node",
            "convert",
            &format!("--root={}", tmp.0.display()),
            "--tunnel-server-address=10.0.0.10:10262",
            &format!("--tunnel-ca-file={ca}"),
            &format!("--node-ip={ip}"),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{ip} {ca}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{want:?} not in {err}");
    }
    assert_eq!(snapshot(&tmp.0), before);
}

#[test]
fn check_restart_fails_clearly_where_kubelet_cannot_be_restarted() {
    // Here PID 1's mount namespace cannot be entered (or has no kubelet unit): a Job without
    // hostPID or privileges gets the same one line, before anything changes.
    let tmp = TempDir::new("restart");
    copy_tree(&Path::new(FIXTURES).join("kubeadm-deb"), &tmp.0);
    let before = snapshot(&tmp.0);
    let out = yurtctl(&[
        "node",
        "check",
        "--root",
        &tmp.0.display().to_string(),
        "--check-restart",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("kubelet restart route: systemctl is-active --quiet kubelet"),
        "{err}"
    );
    assert_eq!(snapshot(&tmp.0), before);
}

#[test]
fn host_run_names_what_it_could_not_do() {
    let out = yurtctl(&["node", "host-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no command given"));
}

#[test]
fn a_busy_hub_port_is_refused_before_anything_changes() {
    let tmp = TempDir::new("ports");
    copy_tree(&Path::new(FIXTURES).join("kubeadm-deb"), &tmp.0);
    let before = snapshot(&tmp.0);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let out = yurtctl(&[
        "node",
        "convert",
        &format!("--root={}", tmp.0.display()),
        "--tunnel-server-address=10.0.0.10:10262",
        &format!("--tunnel-ca-file={}", tunnel_ca()),
        "--node-ip=10.0.0.21",
        &format!("--check-ports={port}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("port {port} is already in use")),
        "{err}"
    );
    assert_eq!(snapshot(&tmp.0), before);
}

#[test]
fn node_check_passes_on_known_layouts_fails_on_unknown_and_never_writes() {
    for fixture in known_layouts() {
        let tmp = TempDir::new("check");
        copy_tree(&fixture, &tmp.0);
        let before = snapshot(&tmp.0);
        let out = yurtctl(&["node", "check", "--root", &tmp.0.display().to_string()]);
        assert!(
            out.status.success(),
            "{}: {}",
            fixture.display(),
            text(&out)
        );
        assert!(text(&out).contains("check ok"), "{}", text(&out));
        assert_eq!(snapshot(&tmp.0), before);
    }
    let tmp = TempDir::new("check-unknown");
    copy_tree(&Path::new(FIXTURES).join("unknown"), &tmp.0);
    let before = snapshot(&tmp.0);
    let out = yurtctl(&["node", "check", "--root", &tmp.0.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    assert_eq!(snapshot(&tmp.0), before);
}
