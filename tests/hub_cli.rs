//! `yurt hub` as a process: flags, exit codes, the `yurthub` link name and binary, and SIGTERM
//! draining.

mod hubkit;

use std::process::Command;
use std::time::{Duration, Instant};

use hubkit::*;

fn yurt(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(args)
        .output()
        .expect("run yurt");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "yurt-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn bad_flags_and_unreadable_kubeconfig_exit_64_with_one_line() {
    let dir = temp_dir("badflags");
    let bad_yaml = dir.join("bad.conf");
    std::fs::write(&bad_yaml, "clusters: [").expect("write");
    let bad_yaml = bad_yaml.to_string_lossy().into_owned();
    let good = dir.join("good.conf");
    let node = pki().node_client("n").expect("cert");
    std::fs::write(&good, pki().kubeconfig("https://127.0.0.1:6443", &node)).expect("write");
    let good = format!("--kubeconfig={}", good.display());
    let cache_dir = format!("--disk-cache-path={}", dir.join("cache").display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["hub", "--bogus"], "Unrecognized argument: --bogus"),
        (vec!["hub", "--node-name", "n"], "--kubeconfig is required"),
        (
            vec![
                "hub",
                "--node-name=n",
                "--kubeconfig=/nonexistent/kubelet.conf",
            ],
            "cannot read /nonexistent/kubelet.conf",
        ),
        (
            vec!["hub", "--node-name=n", "--kubeconfig", &bad_yaml],
            "is not a valid kubeconfig",
        ),
        (vec!["hub", "--proxy-port=notaport"], "proxy-port"),
        (
            vec![
                "hub",
                "--node-name=n",
                "--kubeconfig",
                &bad_yaml,
                "--lb-mode=random",
            ],
            "kubeconfig",
        ),
        (vec!["frobnicate"], "unknown command"),
        (
            vec![
                "hub",
                "--node-name=n",
                &good,
                &cache_dir,
                "--cache-writer-lag-mib=0",
            ],
            "--cache-writer-lag-mib 0: 1 to 1024",
        ),
        (
            vec![
                "hub",
                "--node-name=n",
                &good,
                &cache_dir,
                "--cache-sync=often",
            ],
            "--cache-sync \"often\"",
        ),
    ];
    for (args, want) in cases {
        let (code, _, err) = yurt(&args);
        assert_eq!(code, 64, "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line, got {err:?}"
        );
        assert!(err.contains(want), "{args:?}: {err:?} lacks {want:?}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn help_explains_and_link_name_dispatches() {
    let (code, out, _) = yurt(&["hub", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--server-addr",
        "--node-name",
        "--kubeconfig",
        "--proxy-port",
        "--lb-mode",
        "--heartbeat-healthy-threshold",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
    let dir = temp_dir("link");
    let link = dir.join("yurthub");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_yurt"), &link).expect("symlink");
    let out = Command::new(&link)
        .arg("--help")
        .output()
        .expect("run link");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: yurt hub"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_yurthub_binary_is_the_hub_alone() {
    let bin = env!("CARGO_BIN_EXE_yurthub");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().expect("run yurthub");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage: yurt hub") && out.contains("--server-addr"),
        "{out}"
    );
    let (code, out, _) = run(&["version"]);
    assert_eq!(
        (code, out.trim()),
        (0, concat!("yurthub ", env!("CARGO_PKG_VERSION")))
    );
    // Other subcommands are not in it: the linker keeps only what the hub reaches (their help
    // texts are in `yurt`, not here), and `tunnel-agent` is an unknown argument of the hub.
    let has = |exe: &str, text: &str| {
        let grep = Command::new("grep").args(["-qaF", text, exe]).status();
        grep.expect("run grep").success()
    };
    for t in [
        "Serve the Kubernetes API double",
        "accepts edge agents and offers kube-apiserver",
    ] {
        assert!(has(env!("CARGO_BIN_EXE_yurt"), t), "yurt lacks {t:?}");
        assert!(!has(bin, t), "yurthub carries {t:?}");
    }
    let (code, _, err) = run(&["tunnel-agent"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.starts_with("yurt hub: "), "{err}");

    // It proxies like `yurt hub`.
    let dir = temp_dir("yurthub-bin");
    let up = EchoUpstream::start("a");
    let kc = dir.join("kubelet.conf");
    let client = pki().node_client("edge-node-1").expect("cert");
    std::fs::write(&kc, pki().kubeconfig(&up.url(), &client)).expect("kubeconfig");
    let cache = format!("--disk-cache-path={}", dir.join("cache").display());
    let (child, lines) = spawn_bin(
        bin,
        &[
            "--node-name=edge-node-1",
            &format!("--kubeconfig={}", kc.display()),
            &cache,
            "--proxy-port=0",
            "--port=0",
        ],
        "proxy listening on",
    );
    let proxy = addr_after(&lines, "proxy listening on http://");
    let r = request(
        proxy,
        "GET /echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("/echo/x"));
    drop(child);
    // `yurthub cache ls` reads the cache it made.
    let (code, out, err) = run(&["cache", "ls", &cache]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("COMPONENT"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn sigterm_stops_accepting_and_lets_in_flight_requests_finish() {
    let up = EchoUpstream::start("a");
    let dir = temp_dir("sigterm");
    let kc = dir.join("kubelet.conf");
    let client = pki().node_client("edge-node-1").expect("cert");
    std::fs::write(&kc, pki().kubeconfig(&up.url(), &client)).expect("kubeconfig");
    let (mut child, lines) = spawn_yurt(
        &[
            "hub",
            "--node-name=edge-node-1",
            &format!("--kubeconfig={}", kc.display()),
            "--proxy-port=0",
            "--port=0",
        ],
        "proxy listening on",
    );
    let proxy = addr_after(&lines, "proxy listening on http://");
    let in_flight = std::thread::spawn(move || {
        request(
            proxy,
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    });
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let r = in_flight.join().expect("in-flight request");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"slow answer"[..]),
        "the in-flight request finished"
    );
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "hub did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        std::net::TcpStream::connect(proxy).is_err(),
        "no longer accepting"
    );
    std::fs::remove_dir_all(dir).ok();
}
