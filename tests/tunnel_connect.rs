//! Through the CONNECT front ends (plain loopback port with real curl, TLS port with curl and
//! client certificates, Unix socket with a Rust client) to a kubelet stand-in behind the agent:
//! HTTPS answers, an exec-style upgrade exchange and a chunked logs stream, byte-exact; the meta
//! server's pages.

mod tunnel_support;

use std::process::Command;
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use tunnel_support::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs curl off the executor threads with `args`.
async fn curl(args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    smol::unblock(move || run_curl(args)).await
}

fn run_curl(args: Vec<String>) -> (bool, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(&args)
        .output()
        .expect("run curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_through_plain_and_tls_front_ends_reaches_the_kubelet() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;
        let kubelet = kubelet(&pki).await;
        let mut cfg = agent_config(&pki, "edge-1", &[server.agents]);
        cfg.allow = yurt::tunnel::allow::Allowlist::parse(&format!("127.0.0.1:{}", kubelet.port()))
            .expect("allow");
        let _agent = start_agent(cfg).await;
        wait_agent(server.meta, "edge-1", true).await;

        let dir = tempdir::Dir::new();
        let files = pki.write_files(&dir.path).expect("pki files");
        let ca = files.ca.to_string_lossy().into_owned();
        let url = format!("https://127.0.0.1:{}/healthz", kubelet.port());
        let proxy = format!("http://{}", server.proxy_plain);
        let (ok, body, err) = curl(&["--cacert", &ca, "--proxy", &proxy, &url]).await;
        assert!(ok, "curl via plain CONNECT failed: {err}");
        assert_eq!(body, "ok");

        // The TLS front end wants a client certificate (kube-apiserver's proxy client cert).
        let client = pki
            .client("system:kube-apiserver", None)
            .expect("client cert");
        let (cert, key) = (
            dir.path.join("apiserver.crt"),
            dir.path.join("apiserver.key"),
        );
        std::fs::write(&cert, &client.cert).expect("write");
        std::fs::write(&key, &client.key).expect("write");
        let tls_proxy = format!("https://localhost:{}", server.proxy_tls.port());
        let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
        let (ok, body, err) = curl(&[
            "--cacert",
            &ca,
            "--proxy-cacert",
            &ca,
            "--proxy-cert",
            &cert,
            "--proxy-key",
            &key,
            "--proxy",
            &tls_proxy,
            &url,
        ])
        .await;
        assert!(ok, "curl via TLS CONNECT failed: {err}");
        assert_eq!(body, "ok");
        let (ok, _, _) = curl(&[
            "--cacert",
            &ca,
            "--proxy-cacert",
            &ca,
            "--proxy",
            &tls_proxy,
            &url,
        ])
        .await;
        assert!(
            !ok,
            "TLS front end must refuse a client without a certificate"
        );

        // A node's kubelet certificate is refused: nodes may not reach each other's kubelets.
        let node = pki.node_client("edge-9").expect("node cert");
        let (ncert, nkey) = (dir.path.join("node.crt"), dir.path.join("node.key"));
        std::fs::write(&ncert, &node.cert).expect("write");
        std::fs::write(&nkey, &node.key).expect("write");
        let (ncert, nkey) = (ncert.to_string_lossy(), nkey.to_string_lossy());
        let (ok, _, err) = curl(&[
            "--cacert",
            &ca,
            "--proxy-cacert",
            &ca,
            "--proxy-cert",
            &ncert,
            "--proxy-key",
            &nkey,
            "--proxy",
            &tls_proxy,
            &url,
        ])
        .await;
        assert!(
            !ok && err.contains("403"),
            "node certificate must get 403: {err}"
        );
        let metrics = http_get(server.meta, "/metrics").await;
        assert!(
            metrics.contains("reason=\"client_refused\"} 1\n"),
            "{metrics}"
        );
    });
}

#[test]
fn unix_socket_exec_upgrade_and_logs_stream_are_byte_exact() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;
        let kubelet = kubelet(&pki).await;
        let mut cfg = agent_config(&pki, "edge-2", &[server.agents]);
        cfg.allow = yurt::tunnel::allow::Allowlist::parse(&format!("127.0.0.1:{}", kubelet.port()))
            .expect("allow");
        let _agent = start_agent(cfg).await;
        wait_agent(server.meta, "edge-2", true).await;

        // Exec-style: by node name, over the Unix socket; upgrade, then interactive echo.
        let mut uds = smol::net::unix::UnixStream::connect(&server.uds)
            .await
            .expect("uds");
        let (code, head) = connect_on(&mut uds, &format!("edge-2:{}", kubelet.port())).await;
        assert_eq!(code, 200, "{head}");
        let mut tls = kubelet_tls(&pki, uds).await;
        tls.write_all(b"GET /exec/default/pod/c?command=sh&stdin=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n").await.expect("write");
        tls.flush().await.expect("flush");
        let head = read_head(&mut tls).await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        for i in 0..200u32 {
            // A masked binary WebSocket frame: stdin channel 0 and a varying payload.
            let payload = pattern(i as u64, (i as usize * 37) % 300 + 1);
            let mut frame = vec![
                0x82,
                0x80 | 126,
                ((payload.len() + 1) >> 8) as u8,
                (payload.len() + 1) as u8,
                1,
                2,
                3,
                4,
                0,
            ];
            frame.extend_from_slice(&payload);
            tls.write_all(&frame).await.expect("write frame");
            tls.flush().await.expect("flush");
            let mut back = vec![0u8; frame.len()];
            tls.read_exact(&mut back).await.expect("echo");
            assert_eq!(back, frame, "exchange {i}");
        }
        tls.close().await.expect("close");
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).await.expect("clean end");
        assert!(rest.is_empty());

        // Logs-style: by node IP, over the plain port; a long chunked stream.
        let s = tunnel_plain(server.proxy_plain, &format!("127.0.0.1:{}", kubelet.port())).await;
        let mut tls = kubelet_tls(&pki, s).await;
        tls.write_all(b"GET /containerLogs/default/pod/c?follow=true HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        tls.flush().await.expect("flush");
        let head = read_head(&mut tls).await;
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        let mut raw = Vec::new();
        tls.read_to_end(&mut raw).await.expect("read logs");
        assert_eq!(dechunk(&raw), log_body());

        let metrics = http_get(server.meta, "/metrics").await;
        assert!(
            metrics.contains("yurt_tunnel_server_agents_connected 1\n"),
            "{metrics}"
        );
        assert!(
            !metrics.contains("yurt_tunnel_server_bytes_total{direction=\"from_edge\"} 0\n"),
            "{metrics}"
        );
        let agents = http_get(server.meta, "/v1/agents").await;
        assert!(
            agents.contains("\"addresses\":[\"127.0.0.1\"]") && agents.contains("connectedSince"),
            "{agents}"
        );
        assert!(http_get(server.meta, "/healthz")
            .await
            .ends_with("\r\n\r\nok"));
        assert!(http_get(_agent.meta, "/metrics")
            .await
            .contains("yurt_tunnel_agent_links_connected 1\n"));
    });
}

/// Decodes a chunked body (sizes in hex, CRLF after each) up to the last chunk.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).expect("hex"), 16)
            .expect("size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[test]
fn curls_real_connect_head_parses_over_every_prefix() {
    run(LIMIT, async {
        let l = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let proxy = format!("http://{}", l.local_addr().expect("addr"));
        let client = smol::spawn(async move {
            curl(&[
                "--proxy",
                &proxy,
                "https://node-x:10250/containerLogs/ns/p/c",
            ])
            .await
        });
        let (mut s, _) = l.accept().await.expect("curl connects");
        let head = read_head(&mut s).await.into_bytes();
        s.write_all(&yurt::tunnel::connect::error_response(503, "capture only"))
            .await
            .expect("write");
        drop(s);
        let (ok, _, err) = client.await;
        assert!(
            !ok && err.contains("503"),
            "curl reports the refusal: {err}"
        );
        use yurt::tunnel::connect::decode;
        for i in 0..head.len() {
            assert_eq!(decode(&head[..i]), Ok(None), "prefix {i}");
        }
        let (req, used) = decode(&head).expect("valid").expect("complete");
        assert_eq!(
            (req.host.as_str(), req.port, used),
            ("node-x", 10250, head.len())
        );
    });
}
