//! `yurt edge`: hub and tunnel agent in one process sharing the kubeconfig's node certificate —
//! kubectl-style requests through the hub, and a CONNECT through the tunnel server to a kubelet
//! stand-in on the node; SIGTERM stops both; missing agent flags exit 64.

mod hubkit;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hubkit::*;
use yurt::apidouble::ApiDouble;
use yurt::net::shutdown;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("yurt-edge-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn edge_runs_hub_and_agent_in_one_process() {
    // The cloud: the API double and a tunnel server, with the test CA.
    let double = ApiDouble::sandbox("edge-node-1");
    let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let api = listener.local_addr().expect("addr");
    let (_stop, sd) = shutdown::channel();
    let d = double.clone();
    smol::spawn(async move { d.serve(listener, Some(pki().server_config()), sd).await }).detach();
    let dir = temp_dir("run");
    let files = pki().write_files(&dir).expect("pki files");
    let [agent_port, proxy_port, plain_port, meta_port] = [(); 4].map(|_| free_port());
    let p = |x: &std::path::Path| x.to_string_lossy().into_owned();
    let _server = Child(
        Command::new(env!("CARGO_BIN_EXE_yurt"))
            .args(["tunnel-server", "--bind-address=127.0.0.1"])
            .args([
                format!("--agent-port={agent_port}"),
                format!("--proxy-port={proxy_port}"),
            ])
            .args([
                format!("--proxy-plain-port={plain_port}"),
                format!("--meta-port={meta_port}"),
            ])
            .args([
                format!("--cert-file={}", p(&files.server_cert)),
                format!("--key-file={}", p(&files.server_key)),
            ])
            .arg(format!("--ca-file={}", p(&files.ca)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tunnel server"),
    );
    // The node: a kubelet stand-in (HTTPS, answers /readyz) and `yurt edge`.
    let kubelet = EchoUpstream::start("kubelet");
    let kc = dir.join("kubelet.conf");
    let node = pki().node_client("edge-node-1").expect("cert");
    std::fs::write(
        &kc,
        pki().kubeconfig(&format!("https://127.0.0.1:{}", api.port()), &node),
    )
    .expect("kubeconfig");
    let (mut edge, lines) = spawn_yurt(
        &[
            "edge",
            "--node-name=edge-node-1",
            &format!("--kubeconfig={}", kc.display()),
            "--proxy-port=0",
            "--port=0",
            "--agent-meta-port=0",
            "--node-ip=127.0.0.1",
            &format!("--tunnel-server-addr=127.0.0.1:{agent_port}"),
            &format!("--allow=127.0.0.1:{}", kubelet.addr.port()),
        ],
        "proxy listening on",
    );
    let hub = addr_after(&lines, "proxy listening on http://");

    // The hub half answers with the node from the cloud.
    let r = request(hub, "GET /api/v1/nodes/edge-node-1 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["metadata"]["name"], "edge-node-1");

    // The agent half: curl through the tunnel server's CONNECT front end reaches the kubelet.
    let url = format!("https://127.0.0.1:{}/readyz", kubelet.addr.port());
    let t = Instant::now();
    loop {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                "--cacert",
                &p(&files.ca),
                "--proxy",
                &format!("http://127.0.0.1:{plain_port}"),
                &url,
            ])
            .output()
            .expect("curl");
        if out.status.success() {
            assert_eq!(out.stdout, b"ok");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "tunnel never carried curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let pid = edge.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let t = Instant::now();
    let code = loop {
        if let Some(s) = edge.0.try_wait().expect("wait") {
            break s.code();
        }
        assert!(
            t.elapsed() < Duration::from_secs(8),
            "yurt edge did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn edge_needs_the_agent_flags_and_a_certificate() {
    let dir = temp_dir("bad");
    let kc = dir.join("kubelet.conf");
    let node = pki().node_client("n1").expect("cert");
    std::fs::write(&kc, pki().kubeconfig("https://127.0.0.1:1", &node)).expect("kubeconfig");
    let token_kc = dir.join("token.conf");
    let text = pki().kubeconfig("https://127.0.0.1:1", &node);
    let text = text
        .split("    client-certificate-data")
        .next()
        .expect("prefix")
        .to_string()
        + "    token: abc\n";
    std::fs::write(&token_kc, text).expect("kubeconfig");
    let kcs = format!("--kubeconfig={}", kc.display());
    let tks = format!("--kubeconfig={}", token_kc.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["edge", "--node-name=n1", &kcs],
            "--tunnel-server-addr is required",
        ),
        (
            vec!["edge", "--node-name=n1", &tks, "--tunnel-server-addr=a:1"],
            "needs a client certificate",
        ),
        (
            vec![
                "edge",
                "--node-name=n1",
                &kcs,
                "--tunnel-server-addr=nohostport",
            ],
            "host:port",
        ),
        (
            vec![
                "edge",
                "--node-name=n1",
                &kcs,
                "--tunnel-server-addr=a:1",
                "--node-ip=x",
            ],
            "not an IP address",
        ),
        (vec!["edge", "--bogus"], "Unrecognized argument"),
    ];
    for (args, want) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_yurt"))
            .args(&args)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err:?} lacks {want:?}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(["edge", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--tunnel-server-addr") && help.contains("--kubeconfig"),
        "{help}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
