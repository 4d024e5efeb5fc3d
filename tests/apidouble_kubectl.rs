//! Real `kubectl` (v1.32, /usr/bin/kubectl) against the API double over TLS with a client cert:
//! discovery, Table lists, `-o json`, `get -w` seeing a pod created meanwhile, raw GETs, label and
//! delete. Skipped, with a printed reason, only when kubectl is not installed.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use support::DoubleServer;
use yurt::apidouble::ApiDouble;

const KUBECTL: &str = "/usr/bin/kubectl";

/// Kills and reaps the child when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Env {
    srv: DoubleServer,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A sandbox double and a private kubeconfig + cache dir; `None` (after printing why) without kubectl.
fn setup(test: &str) -> Option<Env> {
    if !Path::new(KUBECTL).exists() {
        eprintln!("skipping {test}: {KUBECTL} is not installed");
        return None;
    }
    let srv = DoubleServer::start(ApiDouble::sandbox("edge-1"));
    let dir = std::env::temp_dir().join(format!(
        "yurt-apidouble-kubectl-{}-{test}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("kubeconfig"), srv.kubeconfig()).expect("kubeconfig");
    Some(Env { srv, dir })
}

impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(KUBECTL);
        c.arg("--kubeconfig")
            .arg(self.dir.join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .arg("--request-timeout=20s")
            .args(args)
            .env("HOME", &self.dir)
            .stdin(Stdio::null());
        c
    }

    /// Runs kubectl to completion; panics with its stderr on failure.
    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("kubectl runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?} failed: {stderr}");
        String::from_utf8(out.stdout).expect("utf8 output")
    }
}

#[test]
fn kubectl_get_pods_all_namespaces() {
    let Some(env) = setup("get-pods") else { return };
    let out = env.run(&["get", "pods", "-A"]);
    let header: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        vec!["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert_eq!(out.lines().count(), 5, "header + 4 pods:\n{out}");
    let kp = out
        .lines()
        .find(|l| l.contains("kube-proxy-edge-1"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        kp.starts_with("kube-system") && kp.contains("1/1") && kp.contains("Running"),
        "{kp}"
    );
    let wide = env.run(&[
        "get",
        "pods",
        "-o",
        "wide",
        "--field-selector",
        "spec.nodeName=other-node",
    ]);
    assert!(
        wide.contains("web-1") && wide.contains("other-node") && !wide.contains("web-0"),
        "{wide}"
    );
    let log = env.srv.double.requests();
    assert!(log
        .iter()
        .any(|r| r.accept.contains("as=Table") && r.path_and_query.starts_with("/api/v1/pods")));
    assert!(
        log.iter().all(|r| r.client_cert),
        "kubectl authenticates with the admin certificate"
    );
}

#[test]
fn kubectl_get_nodes_json() {
    let Some(env) = setup("get-nodes") else {
        return;
    };
    let out = env.run(&["get", "nodes", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("kubectl prints JSON");
    assert_eq!(v["kind"], "List");
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "Node");
    assert_eq!(items[0]["metadata"]["name"], "edge-1");
    assert_eq!(items[0]["status"]["conditions"][0]["type"], "Ready");
    let table = env.run(&["get", "nodes"]);
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with("edge-1")
            && l.contains("Ready")
            && l.contains("v1.32.0")),
        "{table}"
    );
}

#[test]
fn kubectl_get_raw_version() {
    let Some(env) = setup("raw-version") else {
        return;
    };
    let out = env.run(&["get", "--raw", "/version"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["gitVersion"], "v1.36.2");
    let api = env.run(&["get", "--raw", "/api/v1/namespaces/default/pods/web-0"]);
    let pod: serde_json::Value = serde_json::from_str(&api).expect("JSON");
    assert_eq!(pod["spec"]["nodeName"], "edge-1");
}

#[test]
fn kubectl_label_and_delete() {
    let Some(env) = setup("label-delete") else {
        return;
    };
    let out = env.run(&["label", "pod", "web-0", "tier=edge"]);
    assert!(out.contains("labeled"), "{out}");
    let pod = env
        .srv
        .double
        .get("/api/v1/namespaces/default/pods/web-0")
        .expect("pod");
    assert_eq!(pod["metadata"]["labels"]["tier"], "edge");
    let sel = env.run(&["get", "pods", "-l", "tier=edge", "-o", "name"]);
    assert_eq!(sel.trim(), "pod/web-0");
    let del = env.run(&["delete", "configmap", "kube-root-ca.crt"]);
    assert!(del.contains("deleted"), "{del}");
    assert!(env
        .srv
        .double
        .get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")
        .is_none());
}

#[test]
fn kubectl_watch_sees_a_new_pod() {
    let Some(env) = setup("watch") else { return };
    let mut child = ChildGuard(
        env.cmd(&["get", "pods", "-w"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    seen.push(l);
                    if hit {
                        return seen;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("kubectl never printed {needle:?}; saw {seen:?}");
    };
    let first = wait_for("worker-0");
    assert!(first.iter().any(|l| l.starts_with("NAME")), "{first:?}");
    // The watch is open once the double has a watcher; then create the pod.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.srv.double.watch_count() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(env.srv.double.watch_count() > 0, "kubectl opened a watch");
    env.srv
        .double
        .create("/api/v1/namespaces/default/pods", json!({"metadata": {"name": "live-pod"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}))
        .expect("create");
    let after = wait_for("live-pod");
    let line = after.last().cloned().unwrap_or_default();
    assert!(line.contains("0/1") && line.contains("Pending"), "{line}");
    let watch_req = env
        .srv
        .double
        .requests()
        .into_iter()
        .find(|r| r.path_and_query.contains("watch=true"))
        .expect("watch request");
    assert!(watch_req.accept.contains("as=Table"), "{watch_req:?}");
}
