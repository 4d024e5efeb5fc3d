//! Flow control through one agent link: 200 concurrent streams where one is never read (the
//! other 199 finish, the stalled one resumes intact), and a port-forward-style stream moving
//! bulk data both ways at once with no deadlock, byte-exact.
//!
//! Bulk size: 1 GiB each way in release builds; 256 MiB each way in debug builds, where
//! unoptimised TLS and yamux make 1 GiB take minutes on a 2-core machine
//! (`YURT_BULK_MIB` overrides either).

mod tunnel_support;

use std::time::{Duration, Instant};

use smol::io::{AsyncReadExt, AsyncWriteExt};
use tunnel_support::*;

async fn setup(node: &str) -> (Server, Agent, std::net::SocketAddr) {
    let pki = pki();
    let server = start_server(&pki, 0, Duration::from_secs(5)).await;
    let service = plain_service().await;
    let mut cfg = agent_config(&pki, node, &[server.agents]);
    cfg.allow = yurt::tunnel::allow::Allowlist::parse(&format!("127.0.0.1:{}", service.port()))
        .expect("allow");
    let agent = start_agent(cfg).await;
    wait_agent(server.meta, node, true).await;
    (server, agent, service)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn two_hundred_streams_with_one_never_read() {
    const EACH: usize = 1 << 20;
    const STALLED: usize = 16 << 20;
    run(Duration::from_secs(240), async {
        let (server, _agent, service) = setup("flow-1").await;
        let target = format!("127.0.0.1:{}", service.port());
        let rss_before = rss_kib();

        let mut stalled = tunnel_plain(server.proxy_plain, &target).await;
        stalled.write_all(b"B").await.expect("write");
        stalled
            .write_all(&(STALLED as u32).to_be_bytes())
            .await
            .expect("write");

        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..199 {
            let proxy = server.proxy_plain;
            let target = target.clone();
            tasks.push(smol::spawn(async move {
                let mut s = tunnel_plain(proxy, &target).await;
                s.write_all(b"B").await.expect("write");
                s.write_all(&(EACH as u32).to_be_bytes())
                    .await
                    .expect("write");
                // Compare as it arrives, so the test itself holds little memory.
                let mut buf = vec![0u8; 16 * 1024];
                let mut at = 0usize;
                loop {
                    let n = s.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break at == EACH;
                    }
                    if buf[..n] != pattern(at as u64, n)[..] {
                        break false;
                    }
                    at += n;
                }
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await as usize;
        }
        assert_eq!(ok, 199, "every read stream must arrive complete");
        let took = started.elapsed();
        // Only the stalled stream stays open (the others wind down as their clients hang up).
        let one_open = "yurt_tunnel_server_streams_open 1\n";
        wait_page(server.meta, "/metrics", one_open, Duration::from_secs(10)).await;
        let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
        eprintln!("199 streams x 1 MiB in {took:?}; RSS grew {grown_mib} MiB");
        assert!(
            grown_mib < 256,
            "memory must stay bounded, grew {grown_mib} MiB"
        );

        // The stalled stream was only paused: it still delivers every byte.
        let mut got = Vec::with_capacity(STALLED);
        stalled.read_to_end(&mut got).await.expect("read stalled");
        assert!(
            got == pattern(0, STALLED),
            "stalled stream must resume intact"
        );
    });
}

#[test]
fn bulk_both_ways_at_once_without_deadlock() {
    let default_mib = if cfg!(debug_assertions) { 256 } else { 1024 };
    let mib: usize = std::env::var("YURT_BULK_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_mib);
    let total = (mib as u64) << 20;
    run(Duration::from_secs(540), async move {
        let (server, _agent, service) = setup("flow-2").await;
        let mut s =
            tunnel_plain(server.proxy_plain, &format!("127.0.0.1:{}", service.port())).await;
        s.write_all(b"E").await.expect("write");
        let mut writer = s.clone();
        let started = Instant::now();
        let send = smol::spawn(async move {
            let mut at = 0u64;
            let block = 64 * 1024;
            while at < total {
                let n = block.min((total - at) as usize);
                writer.write_all(&pattern(at, n)).await.expect("send");
                at += n as u64;
            }
            writer.close().await.expect("half-close");
        });
        let mut at = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = s.read(&mut buf).await.expect("receive");
            if n == 0 {
                break;
            }
            assert!(buf[..n] == pattern(at, n)[..], "mismatch at byte {at}");
            at += n as u64;
        }
        send.await;
        assert_eq!(at, total, "every byte must come back");
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{mib} MiB each way in {secs:.1} s ({:.0} MiB/s each way)",
            mib as f64 / secs
        );
    });
}

#[test]
fn the_stream_cap_refuses_one_more_and_keeps_the_link() {
    run(Duration::from_secs(60), async {
        let pki = pki();
        let mut config = server_config(&pki, Duration::from_secs(5));
        config.mux.max_streams = 4;
        let server = start_server_with(0, config).await;
        let service = plain_service().await;
        let mut cfg = agent_config(&pki, "flow-3", &[server.agents]);
        cfg.allow = yurt::tunnel::allow::Allowlist::parse(&format!("127.0.0.1:{}", service.port()))
            .expect("allow");
        cfg.mux.max_streams = 4;
        let _agent = start_agent(cfg).await;
        wait_agent(server.meta, "flow-3", true).await;
        let target = format!("flow-3:{}", service.port());

        let mut held = Vec::new();
        for i in 0..4u8 {
            let mut s = tunnel_plain(server.proxy_plain, &target).await;
            s.write_all(&[b'E', i]).await.expect("write");
            held.push(s);
        }
        let mut extra = smol::net::TcpStream::connect(server.proxy_plain)
            .await
            .expect("connect");
        let (code, _) = connect_on(&mut extra, &target).await;
        let mut body = String::new();
        let _ = extra.read_to_string(&mut body).await;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("limit of 4 streams"), "{body}");
        // The link and its streams are untouched.
        for (i, s) in held.iter_mut().enumerate() {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.expect("echo");
            assert_eq!(b[0], i as u8);
        }
        // A freed place is usable again once the server has wound the stream down.
        drop(held.pop());
        let start = Instant::now();
        loop {
            let mut s = smol::net::TcpStream::connect(server.proxy_plain)
                .await
                .expect("connect");
            if connect_on(&mut s, &target).await.0 == 200 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "no place freed");
            smol::Timer::after(Duration::from_millis(20)).await;
        }
    });
}
