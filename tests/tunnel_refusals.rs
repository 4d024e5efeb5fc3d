//! Refusals, each with a clear error and without disturbing other streams: agents with no, an
//! untrusted, a non-node, or another node's certificate; CONNECT to unknown nodes and
//! non-allowlisted or unreachable destinations; garbage on every listener.

mod tunnel_support;

use std::sync::Arc;
use std::time::Duration;

use futures_rustls::TlsConnector;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use tunnel_support::*;
use yurt::net::shutdown::Shutdown;
use yurt::testpki::TestPki;
use yurt::tunnel::agent::link::{run_once, LinkError};
use yurt::tunnel::agent::{AgentConfig, AgentState};

const LIMIT: Duration = Duration::from_secs(60);

async fn attempt(config: AgentConfig, server: &Server) -> Result<String, LinkError> {
    let state = Arc::new(AgentState::new(config));
    run_once(server.agents, "127.0.0.1", &state, &Shutdown::never()).await
}

fn with_identity(pki: &TestPki, node: &str, id: &yurt::net::tls::Identity) -> AgentConfig {
    let mut c = agent_config(pki, node, &[]);
    c.tls = yurt::tunnel::tls::agent_dial_config(pki.ca_pem.as_bytes(), id).expect("tls");
    c
}

#[test]
fn agents_without_a_valid_node_certificate_are_refused() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;

        let stranger = TestPki::generate(&[]).expect("pki");
        let foreign = stranger.node_client("edge-x").expect("cert").identity();
        let r = attempt(with_identity(&pki, "edge-x", &foreign), &server).await;
        assert!(
            r.is_err(),
            "a certificate from another CA must be refused: {r:?}"
        );

        let mut no_cert = agent_config(&pki, "edge-x", &[]);
        let mut roots = rustls::RootCertStore::empty();
        for c in yurt::net::tls::certs_from_pem(pki.ca_pem.as_bytes(), "ca").expect("ca") {
            roots.add(c).expect("root");
        }
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_no_client_auth();
        tls.alpn_protocols = vec![yurt::tunnel::tls::ALPN.to_vec()];
        no_cert.tls = Arc::new(tls);
        let r = attempt(no_cert, &server).await;
        assert!(
            r.is_err(),
            "an agent without a certificate must be refused: {r:?}"
        );

        let admin = pki
            .client("admin", Some("system:masters"))
            .expect("cert")
            .identity();
        match attempt(with_identity(&pki, "admin", &admin), &server).await {
            Err(LinkError::Rejected(why)) => assert!(why.contains("system:node:"), "{why}"),
            other => panic!("a non-node certificate must be rejected with a reason: {other:?}"),
        }

        let agents = http_get(server.meta, "/v1/agents").await;
        assert!(agents.ends_with("[]\n"), "nobody registered: {agents}");
    });
}

#[test]
fn an_agent_registering_another_node_than_its_certificate_is_rejected() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;
        let edge_a = pki.node_client("edge-a").expect("cert").identity();
        match attempt(with_identity(&pki, "edge-b", &edge_a), &server).await {
            Err(LinkError::Rejected(why)) => {
                assert_eq!(
                    why,
                    "certificate names node \"edge-a\" but the agent registers \"edge-b\""
                )
            }
            other => panic!("expected a rejection: {other:?}"),
        }
        let agents = http_get(server.meta, "/v1/agents").await;
        assert!(!agents.contains("edge-"), "{agents}");
    });
}

#[test]
fn connect_refusals_and_garbage_leave_other_streams_untouched() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;
        let service = plain_service().await;
        let dead_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let mut cfg = agent_config(&pki, "edge-r", &[server.agents]);
        let allow = format!("127.0.0.1:{},127.0.0.1:{dead_port}", service.port());
        cfg.allow = yurt::tunnel::allow::Allowlist::parse(&allow).expect("allow");
        let _agent = start_agent(cfg).await;
        wait_agent(server.meta, "edge-r", true).await;

        // A long-lived stream that must survive everything below.
        let mut live =
            tunnel_plain(server.proxy_plain, &format!("edge-r:{}", service.port())).await;
        live.write_all(b"E").await.expect("write");
        let ping = |live: &mut TcpStream, i: u8| {
            let mut live = live.clone();
            async move {
                live.write_all(&[i; 100]).await.expect("write");
                let mut back = [0u8; 100];
                live.read_exact(&mut back).await.expect("echo");
                assert_eq!(back, [i; 100]);
            }
        };
        ping(&mut live, 1).await;

        let plain = server.proxy_plain;
        let ask = |target: String| async move {
            let mut s = TcpStream::connect(plain).await.expect("connect");
            let (code, _) = connect_on(&mut s, &target).await;
            let mut body = String::new();
            let _ = s.read_to_string(&mut body).await;
            (code, body)
        };
        let (code, body) = ask("127.0.0.1:22".into()).await;
        assert_eq!(
            (code, body.as_str()),
            (403, "127.0.0.1:22 is not in the agent's allowlist\n")
        );
        let (code, body) = ask("edge-r:10250".into()).await;
        assert_eq!(code, 403, "{body}");
        let (code, body) = ask("no-such-node:10250".into()).await;
        assert_eq!(
            (code, body.as_str()),
            (503, "no tunnel agent connected for no-such-node\n")
        );
        let (code, body) = ask(format!("127.0.0.1:{dead_port}")).await;
        assert_eq!(code, 502, "{body}");
        assert!(body.contains("cannot connect"), "{body}");
        ping(&mut live, 2).await;

        for (garbage, want) in [
            (&b"\x16\x03\x01\x00\x05hello\r\n\r\n"[..], "HTTP/1.1 400 "),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 "),
            (b"CONNECT nohost HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "),
            (&[b'A'; 9000][..], "HTTP/1.1 431 "),
        ] {
            let mut s = TcpStream::connect(plain).await.expect("connect");
            let _ = s.write_all(garbage).await;
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer).await;
            assert!(answer.starts_with(want), "{answer:?}");
            let mut u = smol::net::unix::UnixStream::connect(&server.uds)
                .await
                .expect("uds");
            let _ = u.write_all(garbage).await;
            let mut answer = String::new();
            let _ = u.read_to_string(&mut answer).await;
            assert!(answer.starts_with(want), "uds: {answer:?}");
        }
        // Garbage on the TLS front end and on the agent listener: the connection is closed.
        for addr in [server.proxy_tls, server.agents] {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            let _ = s
                .write_all(b"CONNECT x:1 HTTP/1.1\r\n\r\n\x00\xff garbage")
                .await;
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest).await;
            assert!(!String::from_utf8_lossy(&rest).contains("200"), "{addr}");
        }
        // A valid agent certificate followed by bytes that are not yamux: the link is dropped.
        let id = pki.node_client("edge-g").expect("cert").identity();
        let tls = yurt::tunnel::tls::agent_dial_config(pki.ca_pem.as_bytes(), &id).expect("tls");
        let tcp = TcpStream::connect(server.agents).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let mut t = TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .expect("handshake");
        let _ = t.write_all(&[0xee; 64]).await;
        let _ = t.flush().await;
        let mut rest = Vec::new();
        let _ = t.read_to_end(&mut rest).await;

        ping(&mut live, 3).await;
        let agents = http_get(server.meta, "/v1/agents").await;
        assert!(
            agents.contains("edge-r") && !agents.contains("edge-g"),
            "{agents}"
        );
        let metrics = http_get(server.meta, "/metrics").await;
        for line in [
            "reason=\"refused\"} 2\n",
            "reason=\"unknown_node\"} 1\n",
            "reason=\"unreachable\"} 1\n",
            "reason=\"bad_request\"} 8\n",
        ] {
            assert!(metrics.contains(line), "{line} in {metrics}");
        }
    });
}
