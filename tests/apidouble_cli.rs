//! `yurt api-double` as a process: prints one ready line, writes a PKI and kubeconfig it reuses on
//! restart, serves the sandbox over TLS to the admin certificate, and stops on SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the double on `dir` and returns the child and its URL from the ready line.
fn start(dir: &Path) -> (ChildGuard, String) {
    let mut child = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_yurt"))
            .args(["api-double", "--pki-dir"])
            .arg(dir)
            .args(["--node-name", "cli-node"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("yurt starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    (child, url)
}

#[test]
fn restarts_keep_the_ca_and_serve_the_admin() {
    let dir = std::env::temp_dir().join(format!("yurt-apidouble-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (first, url1) = start(&dir);
    let ca1 = std::fs::read_to_string(dir.join("ca.crt")).expect("ca.crt written");
    for f in [
        "server.crt",
        "server.key",
        "admin.crt",
        "admin.key",
        "kubeconfig",
    ] {
        assert!(dir.join(f).is_file(), "{f} written");
    }
    let kc = std::fs::read_to_string(dir.join("kubeconfig")).expect("kubeconfig");
    assert!(kc.contains(&format!("server: {url1}")), "{kc}");
    drop(first);
    let (mut second, url2) = start(&dir);
    assert_eq!(
        std::fs::read_to_string(dir.join("ca.crt")).expect("ca"),
        ca1,
        "same CA after restart"
    );
    let kc2 = std::fs::read_to_string(dir.join("kubeconfig")).expect("kubeconfig");
    assert!(kc2.contains(&format!("server: {url2}")));
    let admin = yurt::testpki::PemPair {
        cert: std::fs::read_to_string(dir.join("admin.crt")).expect("admin.crt"),
        key: std::fs::read_to_string(dir.join("admin.key")).expect("admin.key"),
    };
    let addr = url2.trim_start_matches("https://").parse().expect("addr");
    let client = support::Client::new(addr, &ca1, Some(&admin));
    let r = smol::block_on(client.get("/api/v1/nodes/cli-node", &[])).expect("GET node");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["metadata"]["name"], "cli-node");
    let pid = second.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = second.0.try_wait().expect("wait") {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "exits cleanly on SIGTERM: {status:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
