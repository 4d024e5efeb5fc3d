//! Real kubectl through the hub gives what it gives directly against the API double over TLS:
//! `get pods -A`, `get nodes -o json`, and `get pods -w` seeing a pod created meanwhile.

mod hubkit;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hubkit::*;
use serde_json::json;
use yurt::apidouble::ApiDouble;
use yurt::hub::config::LbMode;
use yurt::net::shutdown;

const KUBECTL: &str = "kubectl";

struct Setup {
    double: ApiDouble,
    _hub: HubUnderTest,
    _stop: shutdown::Trigger,
    dir: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The double (TLS, client certs) and a hub in front of it; kubeconfigs `direct` and `hub`.
fn setup(name: &str) -> Setup {
    let double = ApiDouble::sandbox("edge-node-1");
    let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, sd) = shutdown::channel();
    let d = double.clone();
    smol::spawn(async move { d.serve(listener, Some(pki().server_config()), sd).await }).detach();
    let hub = HubUnderTest::start(hub_config_for(&[addr], node_cert(), LbMode::RoundRobin));
    let dir = std::env::temp_dir().join(format!("yurt-hub-kubectl-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let admin = pki()
        .client("kubernetes-admin", Some("system:masters"))
        .expect("admin cert");
    std::fs::write(
        dir.join("direct"),
        pki().kubeconfig(&format!("https://127.0.0.1:{}", addr.port()), &admin),
    )
    .expect("write");
    let via_hub = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: http://{}\n  name: hub\ncontexts:\n- context:\n    cluster: hub\n  name: hub\ncurrent-context: hub\n",
        hub.proxy
    );
    std::fs::write(dir.join("hub"), via_hub).expect("write");
    Setup {
        double,
        _hub: hub,
        _stop: stop,
        dir,
    }
}

impl Setup {
    fn kubectl(&self, which: &str, args: &[&str]) -> Command {
        let mut c = Command::new(KUBECTL);
        c.arg("--kubeconfig")
            .arg(self.dir.join(which))
            .arg("--cache-dir")
            .arg(self.dir.join(format!("cache-{which}")));
        c.args(args);
        c
    }

    fn run(&self, which: &str, args: &[&str]) -> String {
        let out = self.kubectl(which, args).output().expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {which} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }
}

#[test]
fn get_pods_all_namespaces_and_nodes_json_match_direct() {
    if !kubectl_present() {
        return;
    }
    let s = setup("get");
    let direct = s.run("direct", &["get", "pods", "-A"]);
    let hub = s.run("hub", &["get", "pods", "-A"]);
    assert!(
        direct.lines().count() >= 5,
        "the sandbox has pods: {direct}"
    );
    assert_eq!(without_age(&hub), without_age(&direct));

    let direct: serde_json::Value =
        serde_json::from_str(&s.run("direct", &["get", "nodes", "-o", "json"])).expect("json");
    let hub: serde_json::Value =
        serde_json::from_str(&s.run("hub", &["get", "nodes", "-o", "json"])).expect("json");
    assert_eq!(hub, direct);
    assert_eq!(hub["items"][0]["metadata"]["name"], "edge-node-1");
}

/// Starts `kubectl get pods -w` and returns its stdout lines as they come.
fn watch(s: &Setup, which: &str) -> (ChildOnDrop, mpsc::Receiver<String>) {
    let mut child = s
        .kubectl(which, &["get", "pods", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    (ChildOnDrop(child), rx)
}

struct ChildOnDrop(std::process::Child);
impl Drop for ChildOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines_until(rx: &mpsc::Receiver<String>, pred: impl Fn(&str) -> bool) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = pred(&l);
            got.push(l);
            if done {
                return got;
            }
        }
    }
    panic!("watch never showed the expected line; got {got:#?}");
}

#[test]
fn get_pods_watch_sees_a_new_pod_like_direct() {
    if !kubectl_present() {
        return;
    }
    let s = setup("watch");
    let (_d, direct) = watch(&s, "direct");
    let (_h, hub) = watch(&s, "hub");
    let first_direct = lines_until(&direct, |l| l.starts_with("NAME") || l.contains("pod"));
    let first_hub = lines_until(&hub, |l| l.starts_with("NAME") || l.contains("pod"));
    assert_eq!(
        without_age(&first_hub.join("\n")),
        without_age(&first_direct.join("\n"))
    );
    // Let both watches be established before the change.
    std::thread::sleep(Duration::from_millis(500));
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watched-pod", "namespace": "default"},
        "spec": {"nodeName": "edge-node-1", "containers": [{"name": "c", "image": "busybox"}]}});
    s.double
        .create("/api/v1/namespaces/default/pods", pod)
        .expect("create pod");
    let d = lines_until(&direct, |l| l.starts_with("watched-pod"));
    let h = lines_until(&hub, |l| l.starts_with("watched-pod"));
    assert_eq!(
        without_age(d.last().expect("line")),
        without_age(h.last().expect("line"))
    );
}
