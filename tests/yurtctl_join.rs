//! `yurtctl join` / `reset` for one node of a converted cluster (the node's files in a temp root
//! copied from a kubeadm fixture), and `yurtctl status` with a tunnel server's `/v1/agents`.

mod support;
mod yurtctl_support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use yurtctl_support::*;

fn files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                out.push((p.clone(), Vec::new()));
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn join_then_reset_one_node() {
    let d = cluster();
    let env = Env::new(d);
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    // A node joined to Kubernetes after the conversion.
    env.srv
        .double
        .create("/api/v1/nodes", node("edge-3", "10.0.0.23", true))
        .expect("node");
    let before = without_rv(&env.dump());
    let root = env.dir.join("edge-3-root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kubelet-layouts"
    );
    copy_tree(&Path::new(fixtures).join("kubeadm-deb"), &root);
    let files_before = files(&root);
    let root_flag = format!("--root={}", root.display());

    let o = env.yurtctl(&["join", "--node-name=edge-3", "--autonomous", &root_flag]);
    assert!(o.status.success(), "{}", out(&o));
    let n = env.srv.double.get("/api/v1/nodes/edge-3").expect("node");
    assert_eq!(
        n["metadata"]["labels"]["openyurt.io/is-edge-worker"],
        "true"
    );
    assert_eq!(
        n["metadata"]["annotations"]["node.beta.openyurt.io/autonomy"],
        "true"
    );
    let cm = env
        .srv
        .double
        .get("/api/v1/namespaces/kube-system/configmaps/yurt-hub-cfg")
        .expect("cm");
    assert_eq!(cm["data"]["edgeNodes"], "edge-1,edge-2,edge-3");
    assert_eq!(cm["data"]["autonomousNodes"], "edge-2,edge-3");
    let pod = std::fs::read_to_string(root.join("etc/kubernetes/manifests/yurt-edge.yaml"))
        .expect("static pod");
    assert!(
        pod.contains("--tunnel-server-addr=10.0.0.10:10262"),
        "{pod}"
    );
    assert!(pod.contains("--node-ip=10.0.0.23"), "{pod}");
    let ca = env
        .srv
        .double
        .get("/api/v1/namespaces/kube-system/configmaps/yurt-tunnel-ca")
        .expect("tunnel CA");
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/openyurt/tunnel-ca.crt")).expect("CA file"),
        ca["data"]["ca.crt"].as_str().expect("ca.crt"),
        "join copies the cluster's tunnel CA"
    );
    assert!(pod.contains(&format!(
        "image: \"reg.example/yurt:{}\"",
        env!("CARGO_PKG_VERSION")
    )));
    // The cluster's plan now includes edge-3: convert again changes nothing.
    let mut again = CONVERT.to_vec();
    again[2] = "--autonomous-nodes=edge-2,edge-3";
    let o = env.yurtctl(&again);
    assert!(o.status.success(), "{}", out(&o));

    let o = env.yurtctl(&["reset", "--node-name=edge-3", &root_flag]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(files(&root), files_before, "node files not restored");
    assert_eq!(
        without_rv(&env.dump()),
        before,
        "cluster not back to before the join"
    );

    // Refusals: a cloud node, an unconverted cluster.
    let o = env.yurtctl(&["join", "--node-name=cloud-1", &root_flag]);
    one_line_failure(&o, 1, "node cloud-1 is a cloud node");
    let r = env.yurtctl(&["revert"]);
    assert!(r.status.success(), "{}", out(&r));
    let o = env.yurtctl(&["join", "--node-name=edge-3", &root_flag]);
    one_line_failure(&o, 1, "cluster not converted");
    assert_eq!(files(&root), files_before);
}

/// Serves one `/v1/agents` answer per connection, like a tunnel server's meta port.
fn fake_tunnel_meta(body: &'static str) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for s in l.incoming().take(4) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// A mirror pod of the `yurt-edge` static pod on `node`, as kubelet reports it.
fn mirror_pod(node: &str, ready: bool, mirror: bool) -> serde_json::Value {
    let mut p = json!({
        "metadata": {"name": format!("yurt-edge-{node}"), "namespace": "kube-system",
                     "labels": {"app.kubernetes.io/name": "yurt-edge"},
                     "annotations": {"kubernetes.io/config.mirror": "0123abcd"}},
        "spec": {"nodeName": node, "containers": [{"name": "yurt-edge", "image": "yurt"}]},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    });
    if !mirror {
        p["metadata"]["name"] = json!(format!("impostor-{node}"));
        p["metadata"]["annotations"] = json!({});
        p["status"]["conditions"][0]["status"] = json!("True");
    }
    p
}

#[test]
fn status_shows_role_autonomy_hub_and_tunnel() {
    let env = Env::new(cluster());
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    let pods = "/api/v1/namespaces/kube-system/pods";
    for p in [
        mirror_pod("edge-1", true, true),
        mirror_pod("edge-2", false, true),
        // A pod with the label but not kubelet's mirror of the static pod does not count.
        mirror_pod("edge-2", true, false),
    ] {
        env.srv.double.create(pods, p).expect("pod");
    }
    let meta = fake_tunnel_meta(
        r#"[{"node":"edge-1","addresses":["10.0.0.21"],"peer":"x","connectedSince":1}]"#,
    );
    let o = env.yurtctl(&["status", "--tunnel-meta", &meta]);
    assert!(o.status.success(), "{}", out(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let line = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(line(&text, "cloud-1"), "cloud-1 cloud no - -");
    assert_eq!(line(&text, "edge-1"), "edge-1 edge no healthy connected");
    assert_eq!(
        line(&text, "edge-2"),
        "edge-2 edge yes unhealthy not connected"
    );

    // No mirror pod: no hub there. A node whose kubelet stopped reporting: unknown.
    env.srv
        .double
        .delete(&format!("{pods}/yurt-edge-edge-2"))
        .expect("delete");
    let mut n = env.srv.double.get("/api/v1/nodes/edge-1").expect("node");
    n["status"]["conditions"][0]["status"] = json!("Unknown");
    env.srv
        .double
        .update("/api/v1/nodes/edge-1/status", n)
        .expect("not ready");
    let o = env.yurtctl(&["status"]);
    assert!(o.status.success(), "{}", out(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(line(&text, "edge-1"), "edge-1 edge no unknown unknown");
    assert_eq!(line(&text, "edge-2"), "edge-2 edge yes no pod unknown");
}
