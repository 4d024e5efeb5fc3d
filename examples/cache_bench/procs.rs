//! The processes under test (`yurt api-double`, `yurt hub`) and what /proc says about them.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Res;

/// A child process, killed (SIGKILL) when dropped unless stopped before.
pub struct Proc {
    child: Option<Child>,
    pub pid: u32,
}

impl Proc {
    fn new(child: Child) -> Proc {
        let pid = child.id();
        Proc {
            child: Some(child),
            pid,
        }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 10 s).
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// SIGKILL now (the cloud is cut: no goodbye).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `stream` line by line into `log`, sending each line to `tx` too.
fn drain(stream: impl std::io::Read + Send + 'static, log: PathBuf, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        let mut out = std::fs::File::create(log).ok();
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(f) = out.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
            let _ = tx.send(line);
        }
    });
}

/// Waits up to 60 s for a line containing `marker`.
fn wait_line(rx: &mpsc::Receiver<String>, marker: &str) -> Res<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(marker) => return Ok(l),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Err(format!("never saw {marker:?}").into())
}

/// `yurt api-double` with `pods` pods of about `pod_bytes` bytes on `node`; returns it and its URL.
pub fn double(
    yurt: &Path,
    work: &Path,
    pods: usize,
    pod_bytes: usize,
    node: &str,
) -> Res<(Proc, String)> {
    let mut child = Command::new(yurt)
        .args(["api-double", "--seed", "empty", "--node-name", node])
        .args([
            "--pods",
            &pods.to_string(),
            "--pod-bytes",
            &pod_bytes.to_string(),
        ])
        .arg("--pki-dir")
        .arg(work.join("pki"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let (tx, rx) = mpsc::channel();
    drain(
        child.stdout.take().ok_or("stdout")?,
        work.join("double.log"),
        tx,
    );
    let p = Proc::new(child);
    let line = wait_line(&rx, "listening on ")?;
    let url = line.rsplit(' ').next().unwrap_or_default().to_string();
    Ok((p, url))
}

/// A running hub and its two addresses.
pub struct Hub {
    pub proc: Proc,
    pub proxy: SocketAddr,
    pub server: SocketAddr,
}

/// A free loopback port (bound, then released: good enough for a benchmark, never for tests).
pub fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `yurt hub` on fixed `ports` without waiting for it.
pub fn hub_spawn(
    yurt: &Path,
    work: &Path,
    cache: &Path,
    upstream: &str,
    ports: (u16, u16),
    tag: &str,
) -> Res<(Proc, mpsc::Receiver<String>)> {
    // The `yurthub` binary is the hub alone; the multicall `yurt` takes the subcommand first.
    let sub = (yurt.file_name() != Some("yurthub".as_ref())).then_some("hub");
    let mut child = Command::new(yurt)
        .args(sub)
        .args(["--node-name", "bench-node", "--server-addr", upstream])
        .args([
            "--proxy-port",
            &ports.0.to_string(),
            "--port",
            &ports.1.to_string(),
        ])
        .args(["--heartbeat-interval-seconds", "1"])
        .arg("--kubeconfig")
        .arg(work.join("pki/kubeconfig"))
        .arg("--disk-cache-path")
        .arg(cache)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let (tx, rx) = mpsc::channel();
    drain(
        child.stderr.take().ok_or("stderr")?,
        work.join(format!("hub-{tag}.log")),
        tx,
    );
    Ok((Proc::new(child), rx))
}

/// Starts `yurt hub` and waits until it listens.
pub fn hub(yurt: &Path, work: &Path, cache: &Path, upstream: &str, tag: &str) -> Res<Hub> {
    let ports = (free_port()?, free_port()?);
    let (proc, rx) = hub_spawn(yurt, work, cache, upstream, ports, tag)?;
    wait_line(&rx, "proxy listening on")?;
    std::thread::spawn(move || while rx.recv().is_ok() {});
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    Ok(Hub {
        proc,
        proxy: addr(ports.0),
        server: addr(ports.1),
    })
}

/// A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), in KiB.
pub fn status_kib(pid: u32, key: &str) -> u64 {
    field(&format!("/proc/{pid}/status"), key)
}

/// A field of /proc/<pid>/io (write_bytes: bytes the process sent to the block layer).
pub fn io(pid: u32, key: &str) -> u64 {
    field(&format!("/proc/{pid}/io"), key)
}

fn field(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Bytes of the engine's journal files (`*.jnl`) directly in `dir`: what a cold start replays.
pub fn journal_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jnl"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// Bytes allocated on disk under `dir` (st_blocks).
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut sum = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                sum += m.blocks() * 512;
            }
        }
    }
    sum
}

/// Syncs every file under `dir`, then asks the kernel to drop their pages (GNU dd's `nocache`):
/// the next open reads them from the disk, as after a reboot, without touching other files.
pub fn evict(dir: &Path) -> Res<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)?.flatten() {
            if e.file_type()?.is_dir() {
                stack.push(e.path());
                continue;
            }
            std::fs::File::open(e.path())?.sync_all()?;
            let ok = Command::new("dd")
                .arg(format!("if={}", e.path().display()))
                .args(["iflag=nocache", "count=0", "status=none"])
                .status()?
                .success();
            if !ok {
                return Err(format!("dd nocache {}", e.path().display()).into());
            }
        }
    }
    Ok(())
}
