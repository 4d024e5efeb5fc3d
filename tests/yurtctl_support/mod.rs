//! Shared by the yurtctl cluster tests: a 3-node API double (1 cloud, 2 edge), a kubeconfig in
//! a temp dir, the binary run as users run it, a fake kubelet that completes Jobs, full dumps.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::DoubleServer;
use serde_json::{json, Value};
use yurt::apidouble::ApiDouble;

pub const NODES: [(&str, &str); 3] = [
    ("cloud-1", "10.0.0.10"),
    ("edge-1", "10.0.0.21"),
    ("edge-2", "10.0.0.22"),
];
/// Collections compared in full dumps.
pub const DUMPED: [&str; 15] = [
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/api/v1/configmaps",
    "/api/v1/secrets",
    "/api/v1/pods",
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

pub fn node(name: &str, ip: &str, ready: bool) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": "KubeletReady"}]
        }
    })
}

pub fn cluster() -> ApiDouble {
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
pub struct Env {
    pub srv: DoubleServer,
    pub dir: PathBuf,
    pub kubelet: FakeKubelet,
}

impl Env {
    /// Serves `d`, publishing the server's client CA the way kube-apiserver does
    /// (`kube-system/extension-apiserver-authentication`, key `client-ca-file`).
    pub fn new(d: ApiDouble) -> Env {
        let srv = DoubleServer::start(d);
        srv.double
            .create(
                "/api/v1/namespaces/kube-system/configmaps",
                json!({"metadata": {"name": "extension-apiserver-authentication"},
                       "data": {"client-ca-file": srv.pki.ca_pem}}),
            )
            .expect("client CA");
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

    pub fn kubeconfig(&self) -> String {
        self.dir.join("kubeconfig").display().to_string()
    }

    pub fn yurtctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_yurt"))
            .arg("yurtctl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", &self.dir)
            .output()
            .expect("run yurt")
    }

    pub fn dump(&self) -> BTreeMap<String, Value> {
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
pub struct FakeKubelet {
    stop: Arc<AtomicBool>,
    /// Job name → what it does: "hold" (stay running) or "fail".
    modes: Arc<Mutex<BTreeMap<String, &'static str>>>,
}

fn finished(job: &Value) -> bool {
    job["status"]["succeeded"] == 1 || job["status"]["failed"] == 1
}

impl FakeKubelet {
    pub fn start(d: ApiDouble) -> FakeKubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let modes = Arc::new(Mutex::new(BTreeMap::new()));
        let (s, m) = (stop.clone(), modes.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                for job in d.list("/apis/batch/v1/jobs").unwrap_or_default() {
                    let name = job["metadata"]["name"].as_str().unwrap_or("").to_string();
                    let mode = m.lock().expect("modes").get(&name).copied();
                    let status = match mode {
                        _ if finished(&job) => continue,
                        Some("hold") => continue,
                        Some(_) => {
                            json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]})
                        }
                        None => {
                            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
                        }
                    };
                    let mut done = job.clone();
                    done["status"] = status;
                    let path = format!("/apis/batch/v1/namespaces/kube-system/jobs/{name}/status");
                    let _ = d.update(&path, done);
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        });
        FakeKubelet { stop, modes }
    }

    /// Job `job` stays running while on.
    pub fn hold(&self, job: &str, on: bool) {
        self.set(job, on.then_some("hold"));
    }

    /// Job `job` fails while on.
    pub fn fail(&self, job: &str, on: bool) {
        self.set(job, on.then_some("fail"));
    }

    fn set(&self, job: &str, mode: Option<&'static str>) {
        let mut m = self.modes.lock().expect("modes");
        match mode {
            Some(x) => m.insert(job.to_string(), x),
            None => m.remove(job),
        };
    }
}

pub fn key(o: &Value) -> String {
    format!(
        "{}/{}/{}",
        o["kind"].as_str().unwrap_or(""),
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

pub fn dump(d: &ApiDouble) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for path in DUMPED {
        for o in d.list(path).expect("list") {
            out.insert(key(&o), o);
        }
    }
    out
}

pub fn without_rv(m: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
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

/// `obj` with every value of its `data` emptied: the tunnel's key material, as `yurtctl
/// manifests` prints it.
pub fn redacted(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(data) = o["data"].as_object_mut() {
        for v in data.values_mut() {
            *v = json!("");
        }
    }
    o
}

/// The objects whose key material convert generates.
pub const GENERATED: [&str; 2] = [
    "Secret/kube-system/yurt-tunnel-server-certs",
    "ConfigMap/kube-system/yurt-tunnel-ca",
];

pub fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn one_line_failure(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{}", out(o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

pub const CONVERT: [&str; 5] = [
    "convert",
    "--cloud-nodes=cloud-1",
    "--autonomous-nodes=edge-2",
    "--tunnel-server-address=10.0.0.10:10262",
    "--image-registry=reg.example",
];

/// Copies a directory tree (a fixture node root) into `to`.
#[allow(dead_code)]
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
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
