//! The real binaries: `yurt tunnel-server` and `yurt tunnel-agent` started with flags in both
//! `--flag value` and `--flag=value` forms, curl through them to a kubelet stand-in, SIGTERM
//! ends both with exit 0; bad flags exit 64.

mod tunnel_support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tunnel_support::*;

const YURT: &str = env!("CARGO_BIN_EXE_yurt");

/// Kills the child (started by this test) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn start(args: &[String]) -> Proc {
        let child = Command::new(YURT)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start yurt");
        Proc(child)
    }

    /// SIGTERM, then the exit code within `within`.
    fn terminate(&mut self, within: Duration) -> Option<i32> {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = std::time::Instant::now();
        while start.elapsed() < within {
            if let Ok(Some(status)) = self.0.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn binaries_carry_curl_to_the_kubelet_and_stop_on_sigterm() {
    run(Duration::from_secs(60), async {
        let pki = pki();
        let dir = tempdir::Dir::new();
        let files = pki.write_files(&dir.path).expect("files");
        let node = pki.node_client("edge-c").expect("cert");
        // One file with certificate and key, as kubelet-client-current.pem is.
        let combined = dir.path.join("kubelet-client-current.pem");
        std::fs::write(&combined, format!("{}{}", node.cert, node.key)).expect("write");
        let (ncert, nkey) = (combined.clone(), combined);
        let kubelet = kubelet(&pki).await;
        let [agent_port, proxy_port, plain_port, meta_port, agent_meta] =
            [(); 5].map(|_| free_port());
        let p = |x: &std::path::Path| x.to_string_lossy().into_owned();
        let uds = dir.path.join("proxy.sock");

        let mut server = Proc::start(
            &[
                s(&["tunnel-server", "--bind-address=127.0.0.1", "--agent-port"]),
                vec![agent_port.to_string(), format!("--proxy-port={proxy_port}")],
                vec![
                    "--proxy-plain-port".into(),
                    plain_port.to_string(),
                    format!("--meta-port={meta_port}"),
                ],
                vec![
                    format!("--proxy-uds={}", p(&uds)),
                    "--cert-file".into(),
                    p(&files.server_cert),
                ],
                vec![
                    format!("--key-file={}", p(&files.server_key)),
                    "--ca-file".into(),
                    p(&files.ca),
                ],
            ]
            .concat(),
        );
        let mut agent = Proc::start(
            &[
                s(&[
                    "tunnel-agent",
                    "--node-name=edge-c",
                    "--node-ip",
                    "127.0.0.1",
                ]),
                vec![format!("--tunnel-server-addr=127.0.0.1:{agent_port}")],
                vec![
                    "--cert-file".into(),
                    p(&ncert),
                    format!("--key-file={}", p(&nkey)),
                ],
                vec![
                    format!("--ca-file={}", p(&files.ca)),
                    "--allow".into(),
                    format!("127.0.0.1:{}", kubelet.port()),
                ],
                vec![format!("--meta-port={agent_meta}")],
            ]
            .concat(),
        );

        let meta: std::net::SocketAddr = format!("127.0.0.1:{meta_port}").parse().expect("addr");
        // The server needs a moment to bind; the agent to register.
        for _ in 0..250 {
            if smol::net::TcpStream::connect(meta).await.is_ok() {
                break;
            }
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        wait_agent(meta, "edge-c", true).await;

        let url = format!("https://127.0.0.1:{}/healthz", kubelet.port());
        let args = s(&[
            "-sS",
            "--max-time",
            "20",
            "--cacert",
            &p(&files.ca),
            "--proxy",
        ]);
        let args = [args, vec![format!("http://127.0.0.1:{plain_port}"), url]].concat();
        let out =
            smol::unblock(move || Command::new("curl").args(&args).output().expect("curl")).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"ok");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&uds)
            .expect("the Unix socket front end is listening")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only the owner may use the plain front end"
        );
        let agent_metrics = http_get(
            format!("127.0.0.1:{agent_meta}").parse().expect("addr"),
            "/metrics",
        )
        .await;
        assert!(
            agent_metrics.contains("yurt_tunnel_agent_links_connected 1\n"),
            "{agent_metrics}"
        );

        let codes = smol::unblock(move || {
            (
                agent.terminate(Duration::from_secs(5)),
                server.terminate(Duration::from_secs(5)),
            )
        })
        .await;
        assert_eq!(codes, (Some(0), Some(0)), "both exit 0 on SIGTERM");
    });
}

#[test]
fn bad_flags_exit_64() {
    let code = |args: &[&str]| {
        Command::new(YURT)
            .args(args)
            .output()
            .expect("run")
            .status
            .code()
    };
    assert_eq!(code(&["tunnel-server", "--no-such-flag"]), Some(64));
    assert_eq!(code(&["tunnel-server", "--agent-port=x"]), Some(64));
    assert_eq!(code(&["tunnel-agent", "--node-name", "n"]), Some(64));
    let missing = [
        "--tunnel-server-addr=a:1",
        "--cert-file=/nonexistent",
        "--key-file=/x",
        "--ca-file=/x",
    ];
    assert_eq!(
        code(&[&["tunnel-agent", "--node-name=n"][..], &missing[..]].concat()),
        Some(64)
    );
    assert_eq!(code(&["tunnel-server", "--help"]), Some(0));
    assert_eq!(code(&["tunnel-agent", "--help"]), Some(0));
}

#[test]
fn manifest_flags_parse() {
    use argh::FromArgs;
    let mut seen = 0;
    for file in [
        "manifests/tunnel/server.yaml",
        "manifests/tunnel/agent.yaml",
    ] {
        let text = std::fs::read_to_string(file).expect("manifest");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = serde_yaml_ng::Value::deserialize(doc).expect("yaml");
            let containers = &v["spec"]["template"]["spec"]["containers"];
            let Some(containers) = containers.as_sequence() else {
                continue;
            };
            for c in containers {
                let cmd: Vec<String> =
                    serde_yaml_ng::from_value(c["command"].clone()).expect("command");
                let args: Vec<String> = serde_yaml_ng::from_value(c["args"].clone()).expect("args");
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        a.replace("$(NODE_NAME)", "edge-1")
                            .replace("$(NODE_IP)", "10.0.0.1")
                    })
                    .collect();
                let args = yurt::cli::split_equals(&args);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let ok = match cmd[1].as_str() {
                    "tunnel-server" => {
                        yurt::tunnel::server::cli::ServerArgs::from_args(&["yurt"], &args).is_ok()
                    }
                    "tunnel-agent" => {
                        yurt::tunnel::agent::cli::AgentArgs::from_args(&["yurt"], &args).is_ok()
                    }
                    other => panic!("unexpected command {other}"),
                };
                assert!(ok, "{file}: {args:?}");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 2, "both manifests hold a container");
}
