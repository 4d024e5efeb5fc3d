//! HTTP Upgrade (kubectl exec/attach/port-forward) through the hub: byte-exact both ways, including
//! bytes the upstream sends in the same packet as its 101.

mod hubkit;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use futures_rustls::TlsAcceptor;
use hubkit::*;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use yurt::hub::config::LbMode;

const EARLY: &[u8] = b"\x01early-bytes-in-the-101-packet";

/// A raw TLS upstream: reads one request head, answers 101 and EARLY in a single write, then echoes
/// every byte back with each byte incremented, until the client half-closes.
fn start_raw_upgrade_upstream() -> (std::net::SocketAddr, smol::channel::Receiver<Vec<u8>>) {
    let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(pki().server_config());
    let (tx, rx) = smol::channel::unbounded();
    smol::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.expect("accept");
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            smol::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    if let Some(head) = serve_raw(tls).await {
                        let _ = tx.send(head).await;
                    }
                }
            })
            .detach();
        }
    })
    .detach();
    (addr, rx)
}

/// Health probes get a plain 200; an upgrade request gets 101 + EARLY in one write, then echo.
async fn serve_raw(
    mut tls: futures_rustls::server::TlsStream<smol::net::TcpStream>,
) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tls.read_exact(&mut b).await.ok()?;
        head.push(b[0]);
    }
    if head.starts_with(b"GET /readyz") {
        tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .await
            .ok()?;
        tls.close().await.ok();
        return None;
    }
    let mut answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n".to_vec();
    answer.extend_from_slice(EARLY);
    tls.write_all(&answer).await.expect("write 101");
    tls.flush().await.expect("flush");
    let mut buf = [0u8; 8192];
    loop {
        let n = tls.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        let out: Vec<u8> = buf[..n].iter().map(|x| x.wrapping_add(1)).collect();
        tls.write_all(&out).await.expect("echo");
        tls.flush().await.expect("flush");
    }
    tls.write_all(b"bye").await.expect("bye");
    tls.close().await.ok();
    Some(head)
}

#[test]
fn upgrade_passes_bytes_both_ways_including_early_ones() {
    let (addr, upstream) = start_raw_upgrade_upstream();
    let up = EchoUpstream::start("probe-target");
    let mut cfg = hub_config(&[&up], node_cert(), LbMode::RoundRobin);
    cfg.servers[0].port = addr.port();
    cfg.servers[0].url = format!("https://127.0.0.1:{}", addr.port());
    let hub = HubUnderTest::start(cfg);

    let mut s = TcpStream::connect(hub.proxy).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"POST /api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true&stdout=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n").expect("write");

    // Read the 101 head, then whatever follows it.
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b).expect("read 101");
        assert!(
            n > 0,
            "closed before 101: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&b[..n]);
    }
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head end")
        + 4;
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("upgrade: spdy/3.1")
            && head.contains("x-stream-protocol-version: v4.channel.k8s.io"),
        "{head}"
    );
    let mut after = got[end..].to_vec();
    while after.len() < EARLY.len() {
        let n = s.read(&mut b).expect("read early");
        assert!(n > 0, "closed before the early bytes");
        after.extend_from_slice(&b[..n]);
    }
    assert_eq!(
        &after[..EARLY.len()],
        EARLY,
        "bytes sent with the 101 must not be lost"
    );

    // Every byte value, both ways.
    let payload: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    let writer = {
        let mut w = s.try_clone().expect("clone");
        let payload = payload.clone();
        std::thread::spawn(move || {
            w.write_all(&payload).expect("send payload");
            w.shutdown(std::net::Shutdown::Write).expect("half-close");
        })
    };
    let mut echoed = after[EARLY.len()..].to_vec();
    let _ = s.read_to_end(&mut echoed);
    writer.join().expect("writer");
    let want: Vec<u8> = payload
        .iter()
        .map(|x| x.wrapping_add(1))
        .chain(b"bye".iter().copied())
        .collect();
    assert_eq!(echoed.len(), want.len());
    assert!(echoed == want, "echoed bytes differ");

    let head_seen = String::from_utf8(smol::block_on(upstream.recv()).expect("upgrade head"))
        .expect("utf8")
        .to_ascii_lowercase();
    assert!(
        head_seen.contains("upgrade: spdy/3.1") && head_seen.contains("connection: upgrade"),
        "{head_seen}"
    );
}
