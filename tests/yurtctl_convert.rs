//! `yurtctl convert` / `revert` / `status` against the API double (1 cloud + 2 edge nodes), the
//! binary run as users run it. The double has no kubelet, so a "fake kubelet" thread marks
//! conversion Jobs complete through the double's status subresource (except for nodes a test
//! holds back, to interrupt a conversion).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use support::DoubleServer;
use yurt::apidouble::ApiDouble;

const NODES: [(&str, &str); 3] = [
    ("cloud-1", "10.0.0.10"),
    ("edge-1", "10.0.0.21"),
    ("edge-2", "10.0.0.22"),
];
/// Collections compared in full dumps.
const DUMPED: [&str; 13] = [
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/api/v1/configmaps",
    "/api/v1/services",
    "/api/v1/serviceaccounts",
    "/apis/apps/v1/daemonsets",
    "/apis/apps/v1/deployments",
    "/apis/batch/v1/jobs",
    "/apis/coordination.k8s.io/v1/leases",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/rbac.authorization.k8s.io/v1/roles",
    "/apis/rbac.authorization.k8s.io/v1/rolebindings",
];

fn node(name: &str, ip: &str, ready: bool) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": "KubeletReady"}]
        }
    })
}

fn cluster() -> ApiDouble {
    let d = ApiDouble::new();
    for ns in ["default", "kube-system"] {
        d.create("/api/v1/namespaces", json!({"metadata": {"name": ns}}))
            .expect("ns");
    }
    for (n, ip) in NODES {
        d.create("/api/v1/nodes", node(n, ip, true)).expect("node");
    }
    d.create(
        "/api/v1/namespaces/kube-system/configmaps",
        json!({"metadata": {"name": "kubeadm-config"}, "data": {"a": "b"}}),
    )
    .expect("cm");
    d
}

/// A temp dir with the kubeconfig; removed on drop.
struct Env {
    srv: DoubleServer,
    dir: PathBuf,
    kubelet: FakeKubelet,
}

impl Env {
    fn new(d: ApiDouble) -> Env {
        let srv = DoubleServer::start(d);
        let dir = std::env::temp_dir().join(format!(
            "yurtctl-conv-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("kubeconfig"), srv.kubeconfig()).expect("kubeconfig");
        let kubelet = FakeKubelet::start(srv.double.clone());
        Env { srv, dir, kubelet }
    }

    fn kubeconfig(&self) -> String {
        self.dir.join("kubeconfig").display().to_string()
    }

    fn yurtctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_yurt"))
            .arg("yurtctl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", &self.dir)
            .output()
            .expect("run yurt")
    }

    fn dump(&self) -> BTreeMap<String, Value> {
        dump(&self.srv.double)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.kubelet.stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Marks Jobs complete, as a kubelet running them would, except on held-back nodes.
struct FakeKubelet {
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<BTreeSet<String>>>,
}

impl FakeKubelet {
    fn start(d: ApiDouble) -> FakeKubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(BTreeSet::new()));
        let (s, h) = (stop.clone(), held.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                for job in d.list("/apis/batch/v1/jobs").unwrap_or_default() {
                    let node = job["spec"]["template"]["spec"]["nodeName"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    if job["status"]["succeeded"] == 1 || h.lock().expect("held").contains(&node) {
                        continue;
                    }
                    let name = job["metadata"]["name"].as_str().unwrap_or("");
                    let mut done = job.clone();
                    done["status"] = json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
                    let _ = d.update(
                        &format!("/apis/batch/v1/namespaces/kube-system/jobs/{name}/status"),
                        done,
                    );
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        });
        FakeKubelet { stop, held }
    }

    fn hold(&self, node: &str, on: bool) {
        let mut h = self.held.lock().expect("held");
        if on {
            h.insert(node.to_string());
        } else {
            h.remove(node);
        }
    }
}

fn key(o: &Value) -> String {
    format!(
        "{}/{}/{}",
        o["kind"].as_str().unwrap_or(""),
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn dump(d: &ApiDouble) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for path in DUMPED {
        for o in d.list(path).expect("list") {
            out.insert(key(&o), o);
        }
    }
    out
}

fn without_rv(m: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    m.iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            if let Some(meta) = v["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
            (k.clone(), v)
        })
        .collect()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn one_line_failure(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{}", out(o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

const CONVERT: [&str; 5] = [
    "convert",
    "--cloud-nodes=cloud-1",
    "--autonomous-nodes=edge-2",
    "--tunnel-server-address=10.0.0.10:10262",
    "--image-registry=reg.example",
];

/// True when `small` is contained in `big` (objects key by key, everything else equal).
fn contains(big: &Value, small: &Value) -> bool {
    match (big, small) {
        (Value::Object(b), Value::Object(s)) => s
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|bv| contains(bv, v))),
        _ => big == small,
    }
}

#[test]
fn convert_creates_exactly_the_manifests_is_idempotent_and_revert_restores_everything() {
    let env = Env::new(cluster());
    let before = env.dump();
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    for line in [
        "[1/5] preflight ok",
        "node edge-1 (1/2): converted",
        "node edge-2 (2/2): converted",
        "node edge-2: edge, autonomous: labelled",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    let after = env.dump();
    let node = |n: &str| after[&format!("Node//{n}")].clone();
    assert_eq!(
        node("cloud-1")["metadata"]["labels"]["openyurt.io/is-edge-worker"],
        "false"
    );
    assert_eq!(
        node("edge-1")["metadata"]["labels"]["openyurt.io/is-edge-worker"],
        "true"
    );
    assert_eq!(
        node("edge-2")["metadata"]["labels"]["openyurt.io/is-edge-worker"],
        "true"
    );
    assert_eq!(
        node("edge-2")["metadata"]["annotations"]["node.beta.openyurt.io/autonomy"],
        "true"
    );
    assert!(node("edge-1")["metadata"].get("annotations").is_none());
    assert!(node("cloud-1")["metadata"].get("annotations").is_none());

    // Exactly the objects `yurtctl manifests` prints, each as printed.
    let mut margs = vec!["manifests"];
    margs.extend_from_slice(&CONVERT[1..]);
    margs.push("--edge-nodes=edge-1,edge-2");
    let m = env.yurtctl(&margs);
    assert!(m.status.success(), "{}", out(&m));
    let printed = yurt::yurtctl::template::parse("manifests", &String::from_utf8_lossy(&m.stdout))
        .expect("parse");
    let new_keys: BTreeSet<String> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    let printed_keys: BTreeSet<String> = printed.iter().map(key).collect();
    assert_eq!(new_keys, printed_keys);
    for p in &printed {
        assert!(
            contains(&after[&key(p)], p),
            "{} differs from the manifest",
            key(p)
        );
    }

    // A second convert changes nothing (not even a resourceVersion).
    let again = env.yurtctl(&CONVERT);
    assert!(again.status.success(), "{}", out(&again));
    assert!(out(&again).contains("resuming"), "{}", out(&again));
    assert_eq!(env.dump(), after);

    // Status shows roles and autonomy.
    let s = env.yurtctl(&["status"]);
    assert!(s.status.success(), "{}", out(&s));
    let st = String::from_utf8_lossy(&s.stdout);
    assert!(
        st.lines().any(|l| l.starts_with("edge-2")
            && l.contains("edge")
            && l.contains("yes")
            && l.contains("unknown")),
        "{st}"
    );
    assert!(
        st.lines()
            .any(|l| l.starts_with("cloud-1") && l.contains("cloud")),
        "{st}"
    );

    // Revert restores every object.
    let r = env.yurtctl(&["revert", "--timeout=20s"]);
    assert!(r.status.success(), "{}", out(&r));
    assert_eq!(without_rv(&env.dump()), without_rv(&before));
    let r = env.yurtctl(&["revert"]);
    assert!(
        r.status.success() && out(&r).contains("nothing to do"),
        "{}",
        out(&r)
    );
}
