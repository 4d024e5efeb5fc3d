//! Link loss and replicas: the server is killed (streams end, never hang) and restarted on the
//! same port (the agent is back within the backoff cap); a blackholed link is detected within two
//! keepalive intervals; the newest link of a node wins; two server replicas both route.

mod tunnel_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use tunnel_support::*;
use yurt::net::shutdown::Shutdown;
use yurt::tunnel::agent::{link, AgentState};

const LIMIT: Duration = Duration::from_secs(60);

/// Opens an echo stream through `proxy` to `service` and checks one exchange.
async fn echo_stream(proxy: SocketAddr, target: &str) -> TcpStream {
    let mut s = tunnel_plain(proxy, target).await;
    s.write_all(b"Ehello").await.expect("write");
    let mut back = [0u8; 5];
    s.read_exact(&mut back).await.expect("echo");
    assert_eq!(&back, b"hello");
    s
}

/// Reads until EOF or error; panics if the stream is still open after `within`.
async fn ends_within(mut s: TcpStream, within: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let ended = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    }
    .or(async {
        smol::Timer::after(within).await;
        false
    })
    .await;
    assert!(ended, "stream still open {within:?} after its link died");
    start.elapsed()
}

#[test]
fn agent_reconnects_after_server_restart_and_streams_end_cleanly() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;
        let port = server.agents.port();
        let service = plain_service().await;
        let mut cfg = agent_config(&pki, "edge-k", &[server.agents]);
        cfg.allow = yurt::tunnel::allow::Allowlist::parse(&format!("127.0.0.1:{}", service.port()))
            .expect("allow");
        let cap = cfg.backoff.max;
        let _agent = start_agent(cfg).await;
        wait_agent(server.meta, "edge-k", true).await;
        let target = format!("edge-k:{}", service.port());
        let live = echo_stream(server.proxy_plain, &target).await;

        server.stop().await;
        let took = ends_within(live, Duration::from_secs(3)).await;
        eprintln!("stream ended {took:?} after the server stopped");
        // Let the agent's backoff climb to its cap while the server is away.
        smol::Timer::after(cap * 3).await;

        let server = start_server(&pki, port, Duration::from_secs(5)).await;
        let back = wait_agent(server.meta, "edge-k", true).await;
        eprintln!("agent re-registered {back:?} after the restart (cap {cap:?})");
        assert!(
            back <= cap + Duration::from_millis(1500),
            "took {back:?}, cap {cap:?}"
        );
        drop(echo_stream(server.proxy_plain, &target).await);
    });
}

/// A TCP relay whose existing connections can be frozen (bytes stop, sockets stay open).
async fn relay(to: SocketAddr, frozen: Arc<AtomicBool>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    smol::spawn(async move {
        while let Ok((a, _)) = l.accept().await {
            let Ok(b) = TcpStream::connect(to).await else {
                continue;
            };
            let generation = frozen.load(Ordering::SeqCst);
            for (mut from, mut into) in [(a.clone(), b.clone()), (b, a)] {
                let frozen = frozen.clone();
                smol::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = from.read(&mut buf).await {
                        if n == 0 || frozen.load(Ordering::SeqCst) != generation {
                            // Frozen: swallow everything, keep the socket open.
                            if n == 0 {
                                break;
                            }
                            continue;
                        }
                        if into.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = into.close().await;
                })
                .detach();
            }
        }
    })
    .detach();
    addr
}

#[test]
fn a_blackholed_link_is_detected_within_two_keepalive_intervals() {
    run(LIMIT, async {
        let pki = pki();
        let interval = Duration::from_millis(400);
        let server = start_server(&pki, 0, interval).await;
        let service = plain_service().await;
        let frozen = Arc::new(AtomicBool::new(false));
        let via = relay(server.agents, frozen.clone()).await;
        let mut cfg = agent_config(&pki, "edge-d", &[via]);
        cfg.allow = yurt::tunnel::allow::Allowlist::parse(&format!("127.0.0.1:{}", service.port()))
            .expect("allow");
        cfg.keepalive = interval;
        let _agent = start_agent(cfg).await;
        wait_agent(server.meta, "edge-d", true).await;
        let live = echo_stream(server.proxy_plain, &format!("edge-d:{}", service.port())).await;

        // Flip the generation: connections made so far go silent; new ones pass again.
        frozen.store(true, Ordering::SeqCst);
        let start = Instant::now();
        let gone = wait_agent(server.meta, "edge-d", false).await;
        eprintln!("server dropped the silent link after {gone:?}");
        assert!(
            gone <= interval * 2 + Duration::from_secs(1),
            "took {gone:?}"
        );
        ends_within(live, Duration::from_secs(2)).await;
        let back = wait_agent(server.meta, "edge-d", true).await;
        eprintln!("agent re-registered {:?} after the freeze", start.elapsed());
        assert!(
            start.elapsed() < interval * 2 + Duration::from_secs(3),
            "took {back:?}"
        );
    });
}

#[test]
fn the_newest_link_of_a_node_wins_and_the_stale_one_is_closed() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;
        let state = Arc::new(AgentState::new(agent_config(
            &pki,
            "edge-n",
            &[server.agents],
        )));
        let first = {
            let state = state.clone();
            let addr = server.agents;
            smol::spawn(async move {
                link::run_once(addr, "127.0.0.1", &state, &Shutdown::never()).await
            })
        };
        wait_agent(server.meta, "edge-n", true).await;
        let before = http_get(server.meta, "/v1/agents").await;
        let second = {
            let state = state.clone();
            let addr = server.agents;
            smol::spawn(async move {
                link::run_once(addr, "127.0.0.1", &state, &Shutdown::never()).await
            })
        };
        let ended = first
            .or(async {
                smol::Timer::after(Duration::from_secs(5)).await;
                panic!("the stale link was not closed")
            })
            .await;
        assert!(ended.is_ok(), "the first link had registered: {ended:?}");
        let after = http_get(server.meta, "/v1/agents").await;
        assert_eq!(after.matches("\"node\":\"edge-n\"").count(), 1, "{after}");
        assert_ne!(before, after, "the route now points at the newer link");
        drop(second);
    });
}

#[test]
fn two_server_replicas_both_route_to_the_node() {
    run(LIMIT, async {
        let pki = pki();
        let a = start_server(&pki, 0, Duration::from_secs(5)).await;
        let b = start_server(&pki, 0, Duration::from_secs(5)).await;
        let service = plain_service().await;
        let mut cfg = agent_config(&pki, "edge-m", &[]);
        // One by name (resolved to all its addresses), one by address.
        cfg.servers = vec![
            format!("localhost:{}", a.agents.port()),
            b.agents.to_string(),
        ];
        cfg.allow = yurt::tunnel::allow::Allowlist::parse(&format!("127.0.0.1:{}", service.port()))
            .expect("allow");
        let _agent = start_agent(cfg).await;
        wait_agent(a.meta, "edge-m", true).await;
        wait_agent(b.meta, "edge-m", true).await;
        for server in [&a, &b] {
            for target in [
                format!("edge-m:{}", service.port()),
                format!("127.0.0.1:{}", service.port()),
            ] {
                drop(echo_stream(server.proxy_plain, &target).await);
            }
        }
    });
}

#[test]
fn a_rotated_certificate_is_picked_up_without_a_restart() {
    run(LIMIT, async {
        let pki = pki();
        let server = start_server(&pki, 0, Duration::from_secs(5)).await;
        let dir = tempdir::Dir::new();
        let files = yurt::tunnel::tls::AgentTlsFiles {
            cert: dir.path.join("kubelet-client-current.pem"),
            key: dir.path.join("kubelet-client-current.pem"),
            ca: dir.path.join("ca.crt"),
        };
        // Start with a certificate the server does not trust (an expired or revoked one, say).
        let stranger = yurt::testpki::TestPki::generate(&[]).expect("pki");
        let old = stranger.node_client("edge-r2").expect("cert");
        std::fs::write(&files.cert, format!("{}{}", old.cert, old.key)).expect("write");
        std::fs::write(&files.ca, &pki.ca_pem).expect("write");
        let mut cfg = agent_config(&pki, "edge-r2", &[server.agents]);
        cfg.tls = files.load().expect("loads");
        cfg.tls_files = Some(files.clone());
        let agent = start_agent(cfg).await;
        smol::Timer::after(Duration::from_millis(500)).await;
        let page = http_get(server.meta, "/v1/agents").await;
        assert!(
            !page.contains("edge-r2"),
            "untrusted certificate must not register: {page}"
        );
        let metrics = http_get(agent.meta, "/metrics").await;
        assert!(
            !metrics.contains("yurt_tunnel_agent_connect_failures_total 0\n"),
            "{metrics}"
        );

        // Rotation writes a new certificate in place; the next attempt uses it.
        let new = pki.node_client("edge-r2").expect("cert");
        std::fs::write(&files.cert, format!("{}{}", new.cert, new.key)).expect("write");
        let took = wait_agent(server.meta, "edge-r2", true).await;
        eprintln!("registered {took:?} after the rotation");
    });
}
