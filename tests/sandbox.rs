//! `yurt sandbox`: kubectl works through the hub within seconds; cut and restore of the cloud link.

mod hubkit;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hubkit::{kubectl_present, without_age, Child};

fn kubectl(kc: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("kubectl")
        .env("KUBECONFIG", kc)
        .args(args)
        .output()
        .expect("kubectl");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn sandbox_serves_kubectl_and_cuts_and_restores_the_cloud() {
    if !kubectl_present() {
        return;
    }
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .arg("sandbox")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sandbox");
    let stdout = child.stdout.take().expect("stdout");
    let mut stdin = child.stdin.take().expect("stdin");
    let child = Child(child);
    let mut banner = Vec::new();
    let mut kc = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("sandbox ready: KUBECONFIG=") {
            kc = Some(rest.to_string());
            break;
        }
        banner.push(line);
    }
    let kc = kc.unwrap_or_else(|| panic!("no ready line; banner: {banner:#?}"));
    let banner = banner.join("\n");
    assert!(
        banner.contains("local playground") && banner.contains("curl -X POST"),
        "{banner}"
    );

    let (ok, out) = kubectl(&kc, &["get", "pods", "-A"]);
    assert!(ok && out.contains("web-0"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "kubectl working within seconds"
    );
    let (ok, out) = kubectl(&kc, &["get", "nodes"]);
    assert!(ok && out.contains("edge-node-1"), "{out}");

    // The tunnel line from the banner reaches the kubelet stand-in through server and agent.
    let curl_line = banner
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("curl --proxy"))
        .expect("a curl --proxy line");
    let args: Vec<&str> = curl_line.split_whitespace().skip(1).collect();
    let t = Instant::now();
    loop {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5"])
            .args(&args)
            .output()
            .expect("curl");
        if out.status.success() {
            let body = String::from_utf8_lossy(&out.stdout);
            assert!(body.contains("carried by the yurt tunnel"), "{body}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "tunnel: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Cut through stdin, like a user typing: kubectl keeps answering, from the hub's cache.
    let (ok, online) = kubectl(&kc, &["get", "pods", "-A"]);
    assert!(ok, "{online}");
    writeln!(stdin, "cut").expect("type cut");
    std::thread::sleep(Duration::from_millis(300));
    let control = banner
        .lines()
        .find_map(|l| l.split("curl -X POST ").nth(1))
        .and_then(|u| u.strip_suffix("/cut"))
        .expect("control URL")
        .to_string();
    let state = Command::new("curl")
        .args(["-s", &format!("{control}/")])
        .output()
        .expect("curl");
    assert!(
        String::from_utf8_lossy(&state.stdout).contains("cut"),
        "the cloud link is cut"
    );
    let (ok, offline) = kubectl(&kc, &["get", "pods", "-A"]);
    assert!(ok, "offline kubectl failed: {offline}");
    assert_eq!(
        without_age(&offline),
        without_age(&online),
        "offline answer differs from the last online one"
    );
    writeln!(stdin, "restore").expect("type restore");
    let t = Instant::now();
    loop {
        let (ok, out) = kubectl(&kc, &["get", "pods"]);
        if ok {
            assert!(out.contains("web-0"), "{out}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "not back after restore: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Ctrl-C stops it and removes its temp folder.
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill")
        .success());
    let dir = std::path::Path::new(&kc)
        .parent()
        .expect("dir")
        .to_path_buf();
    let mut child = child;
    let t = Instant::now();
    while child.0.try_wait().expect("wait").is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "sandbox did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!dir.exists(), "temp folder removed");
}
