//! Host actions of the node half: wait for the hub's `/v1/healthz`, restart kubelet. In a Job
//! (the host mounted at a root, host PID namespace) the host's `systemctl` runs in PID 1's mount
//! namespace through `yurt yurtctl node host-run`, so the image needs no nsenter or systemctl.

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
        let me = std::env::current_exe().map_err(|e| format!("locating yurt itself: {e}"))?;
        let mut c = Command::new(me);
        c.args(["yurtctl", "node", "host-run", "--", args[0]]);
        c
    };
    let out = cmd
        .args(&args[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let why = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let why = why.strip_prefix("yurtctl: ").unwrap_or(why);
    let what = args.join(" ");
    match why {
        "" => Err(format!("{what} exited with {}", out.status)),
        _ => Err(format!("{what} exited with {}: {why}", out.status)),
    }
}

/// `systemctl daemon-reload` then `systemctl restart kubelet`.
pub fn restart_kubelet(root: &Path) -> Result<(), String> {
    run(root, &["systemctl", "daemon-reload"])?;
    run(root, &["systemctl", "restart", "kubelet"])
}

/// Whether kubelet could be restarted from here: `systemctl is-active --quiet kubelet` by the
/// same route [`restart_kubelet`] takes.
pub fn check_restart(root: &Path) -> Result<(), String> {
    run(root, &["systemctl", "is-active", "--quiet", "kubelet"]).map_err(|e| {
        format!("kubelet restart route: {e} (the Job needs hostPID, privileged, and kubelet a systemd unit); nothing changed")
    })
}

/// The namespace file of PID 1's mount namespace (the host's, with `hostPID: true`).
const HOST_MNT_NS: &str = "/proc/1/ns/mnt";

/// `yurtctl node host-run CMD...`: enters PID 1's mount namespace, runs `CMD` there (the host's
/// binary, the host's files) and returns its exit code. Must run single-threaded (a fresh
/// process), as setns(2) into a mount namespace requires.
pub fn host_run(command: &[String]) -> Result<i32, String> {
    let (prog, args) = command.split_first().ok_or("host-run: no command given")?;
    let ns = std::fs::File::open(HOST_MNT_NS)
        .map_err(|e| format!("cannot enter the host's mount namespace: {HOST_MNT_NS}: {e}"))?;
    use std::os::fd::AsFd;
    rustix::thread::move_into_link_name_space(
        ns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Mount),
    )
    .map_err(|e| format!("cannot enter the host's mount namespace: setns {HOST_MNT_NS}: {e}"))?;
    let status = Command::new(prog)
        .args(args)
        .status()
        .map_err(|e| format!("{prog} on the host: {e}"))?;
    Ok(status.code().unwrap_or(1))
}
