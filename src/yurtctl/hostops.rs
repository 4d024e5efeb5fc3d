//! Host actions of the node half: wait for the hub's `/v1/healthz`, restart kubelet (through
//! `nsenter` into PID 1's namespaces when running in a Job with the host mounted at a root).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The hub's health endpoint (hub server port 10267).
pub const HUB_HEALTHZ: &str = "127.0.0.1:10267";

/// One GET of `/v1/healthz`: whether it answered 200.
fn healthz_once() -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], 10267)),
        Duration::from_secs(1),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v1/healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 64];
    let n = s.read(&mut head).unwrap_or(0);
    String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200")
        || String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.0 200")
}

/// Checks that nothing listens on `ports` (loopback and all addresses).
pub fn ports_free(ports: &[u16]) -> Result<(), String> {
    for &p in ports {
        if std::net::TcpListener::bind(("0.0.0.0", p)).is_err()
            || std::net::TcpListener::bind(("127.0.0.1", p)).is_err()
        {
            return Err(format!(
                "port {p} is already in use on this node (the hub needs it); nothing changed"
            ));
        }
    }
    Ok(())
}

/// Polls the hub's healthz once a second until it answers 200 or `timeout` passes.
pub fn wait_hub(timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if healthz_once() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "http://{HUB_HEALTHZ}/v1/healthz not healthy after {}s",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn run(root: &Path, args: &[&str]) -> Result<(), String> {
    let mut cmd = if root == Path::new("/") {
        Command::new(args[0])
    } else {
        let mut c = Command::new("nsenter");
        c.args([
            "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--",
        ]);
        c.arg(args[0]);
        c
    };
    let status = cmd
        .args(&args[1..])
        .status()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} exited with {status}", args.join(" ")))
    }
}

/// `systemctl daemon-reload` then `systemctl restart kubelet`.
pub fn restart_kubelet(root: &Path) -> Result<(), String> {
    run(root, &["systemctl", "daemon-reload"])?;
    run(root, &["systemctl", "restart", "kubelet"])
}
