//! What convert deploys works together: the tunnel server runs with exactly the args, Secret and
//! ConfigMap volumes of the DaemonSet convert created; the node's conversion Job's args turn a
//! kubeadm node root into the `yurt edge` static pod; that pod's args (kubelet's node
//! certificate, the tunnel CA the Job copied, the node IP) bring its agent up on the server, so
//! `yurtctl status` says connected and a CONNECT (kube-apiserver's path) reaches the kubelet.
//! Only host paths, ports and the API server address are rewritten to this machine's.

mod hubkit;
mod support;
mod yurtctl_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use hubkit::{addr_after, spawn_yurt, Child, EchoUpstream};
use serde_json::Value;
use yurtctl_support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// The first container of a pod spec: (subcommand after `/usr/local/bin/yurt`, args).
fn container(spec: &Value) -> (Vec<String>, Vec<String>) {
    let c = &spec["containers"][0];
    let cmd = strs(&c["command"]);
    assert_eq!(cmd[0], "/usr/local/bin/yurt", "{cmd:?}");
    (cmd[1..].to_vec(), strs(&c["args"]))
}

/// Lays out a pod's Secret, ConfigMap and hostPath volumes under `dir` as the kubelet would
/// mount them; returns mountPath → local directory.
fn mount_volumes(env: &Env, spec: &Value, dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let c = &spec["containers"][0];
    for m in c["volumeMounts"].as_array().expect("mounts") {
        let name = m["name"].as_str().expect("name");
        let vol = spec["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == name)
            .expect("volume of mount");
        let local = dir.join(name);
        std::fs::create_dir_all(&local).expect("mkdir");
        let ns = "/api/v1/namespaces/kube-system";
        if let Some(s) = vol["secret"]["secretName"].as_str() {
            let secret = env
                .srv
                .double
                .get(&format!("{ns}/secrets/{s}"))
                .expect("secret");
            for (k, v) in secret["data"].as_object().expect("data") {
                let b = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().expect("b64"))
                    .expect("base64");
                std::fs::write(local.join(k), b).expect("write");
            }
        } else if let Some(n) = vol["configMap"]["name"].as_str() {
            let cm = env
                .srv
                .double
                .get(&format!("{ns}/configmaps/{n}"))
                .unwrap_or_else(|| panic!("ConfigMap {n} the pod mounts"));
            let items: Vec<(String, String)> = match vol["configMap"]["items"].as_array() {
                Some(items) => items
                    .iter()
                    .map(|i| {
                        (
                            i["key"].as_str().expect("key").into(),
                            i["path"].as_str().expect("path").into(),
                        )
                    })
                    .collect(),
                None => cm["data"]
                    .as_object()
                    .expect("data")
                    .keys()
                    .map(|k| (k.clone(), k.clone()))
                    .collect(),
            };
            for (key, path) in items {
                let v = cm["data"][&key].as_str().expect("key in ConfigMap");
                std::fs::write(local.join(path), v).expect("write");
            }
        } else {
            assert!(vol["hostPath"].is_object(), "{vol}");
        }
        out.insert(m["mountPath"].as_str().expect("path").to_string(), local);
    }
    out
}

/// `--flag=value` with a value under a mount path rewritten to the local directory.
fn remap(arg: &str, mounts: &BTreeMap<String, PathBuf>) -> String {
    let Some((flag, value)) = arg.split_once('=') else {
        return arg.to_string();
    };
    for (mount, local) in mounts {
        if let Some(rest) = value.strip_prefix(mount.as_str()) {
            return format!("{flag}={}{rest}", local.display());
        }
    }
    arg.to_string()
}

#[test]
fn converted_cluster_brings_an_edge_agent_up_on_the_tunnel_server() {
    let env = Env::new(cluster());
    let [agent_port, proxy_port, plain_port, meta_port] = [(); 4].map(|_| free_port());
    let o = env.yurtctl(&[
        "convert",
        "--cloud-nodes=cloud-1",
        &format!("--tunnel-server-address=127.0.0.1:{agent_port}"),
    ]);
    assert!(o.status.success(), "{}", out(&o));

    // The cloud: the DaemonSet's container as the kubelet would run it.
    let ds = env
        .srv
        .double
        .get("/apis/apps/v1/namespaces/kube-system/daemonsets/yurt-tunnel-server")
        .expect("DaemonSet");
    let spec = &ds["spec"]["template"]["spec"];
    let (sub, args) = container(spec);
    let mounts = mount_volumes(&env, spec, &env.dir.join("server"));
    let ports = [
        ("--agent-port", agent_port),
        ("--proxy-port", proxy_port),
        ("--proxy-plain-port", plain_port),
        ("--meta-port", meta_port),
    ];
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            let flag = a.split('=').next().unwrap_or("");
            match ports.iter().find(|(f, _)| *f == flag) {
                Some((f, p)) => format!("{f}={p}"),
                None if flag == "--bind-address" => "--bind-address=127.0.0.1".into(),
                None => remap(a, &mounts),
            }
        })
        .collect();
    assert!(
        args.iter().any(|a| a.starts_with("--proxy-uds=")),
        "{args:?}"
    );
    let _server = Child(
        Command::new(env!("CARGO_BIN_EXE_yurt"))
            .args(&sub)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tunnel server"),
    );

    // The node: a kubeadm root converted by the Job's own args.
    let root = env.dir.join("edge-1-root");
    std::fs::create_dir_all(&root).expect("mkdir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubelet-layouts/kubeadm-deb"),
        &root,
    );
    let job = env
        .srv
        .double
        .get("/apis/batch/v1/namespaces/kube-system/jobs/yurtctl-convert-edge-1")
        .expect("Job");
    let spec = &job["spec"]["template"]["spec"];
    assert_eq!(spec["hostPID"], true);
    assert_eq!(
        spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "status.hostIP"
    );
    let (sub, args) = container(spec);
    let mut mounts = mount_volumes(&env, spec, &env.dir.join("job"));
    mounts.insert("/host".into(), root.clone());
    let args: Vec<String> = args
        .iter()
        .filter(|a| !["--wait-hub", "--restart-kubelet"].contains(&a.as_str()))
        .filter(|a| !a.starts_with("--check-ports"))
        .map(|a| remap(&a.replace("$(NODE_IP)", "127.0.0.1"), &mounts))
        .collect();
    let o = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(&sub)
        .args(&args)
        .output()
        .expect("node convert");
    assert!(o.status.success(), "{}", out(&o));

    // The static pod it wrote, run with kubelet's node certificate from the cluster's CA.
    let pod_text = std::fs::read_to_string(root.join("etc/kubernetes/manifests/yurt-edge.yaml"))
        .expect("static pod");
    let pod = &yurt::yurtctl::template::parse("pod", &pod_text).expect("parse")[0];
    let (sub, args) = container(&pod["spec"]);
    let kubeconfig = env.dir.join("kubelet.conf");
    let cert = env.srv.pki.node_client("edge-1").expect("node cert");
    std::fs::write(&kubeconfig, env.srv.pki.kubeconfig(&env.srv.url(), &cert)).expect("kc");
    let kubelet = EchoUpstream::start("kubelet");
    let mut run: Vec<String> = args
        .iter()
        .map(|a| match a.split_once('=') {
            Some(("--kubeconfig", _)) => format!("--kubeconfig={}", kubeconfig.display()),
            Some(("--server-addr", _)) => format!("--server-addr={}", env.srv.url()),
            Some(("--disk-cache-path", _)) => {
                format!("--disk-cache-path={}", env.dir.join("cache").display())
            }
            // hostPath volumes: the node's files, under the root.
            Some((flag, v)) if v.starts_with("/var/lib/openyurt/") => {
                format!("{flag}={}", root.join(&v[1..]).display())
            }
            _ => a.clone(),
        })
        .collect();
    assert!(run.contains(&"--node-ip=127.0.0.1".to_string()), "{run:?}");
    run.extend([
        "--proxy-port=0".into(),
        "--port=0".into(),
        "--agent-meta-port=0".into(),
        format!("--allow=127.0.0.1:{}", kubelet.addr.port()),
    ]);
    let mut argv: Vec<&str> = sub.iter().map(String::as_str).collect();
    argv.extend(run.iter().map(String::as_str));
    let (_edge, lines) = spawn_yurt(&argv, "proxy listening on");
    let _ = addr_after(&lines, "proxy listening on http://");

    // The agent is accepted: status (from the server's /v1/agents) says connected.
    let meta = format!("127.0.0.1:{meta_port}");
    let t = Instant::now();
    loop {
        let o = env.yurtctl(&["status", "--tunnel-meta", &meta]);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let connected = text.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.first() == Some(&"edge-1")
                && words.last() == Some(&"connected")
                && !l.contains("not connected")
        });
        if o.status.success() && connected {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "edge-1 never connected: {}\n{lines:#?}",
            out(&o)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // And carries kube-apiserver's CONNECT to the node IP it registered.
    let ca = env.dir.join("kubelet-ca.crt");
    std::fs::write(&ca, &hubkit::pki().ca_pem).expect("ca");
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(&ca)
        .args([
            "--proxy",
            &format!("http://127.0.0.1:{plain_port}"),
            &format!("https://127.0.0.1:{}/readyz", kubelet.addr.port()),
        ])
        .output()
        .expect("curl");
    assert_eq!(o.stdout, b"ok", "{}", String::from_utf8_lossy(&o.stderr));
}
