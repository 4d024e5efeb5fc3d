//! Real kubectl through the hub, before and after the cloud is cut: `kubectl get pods -A` prints
//! the same table offline as it did online (and as it did directly against the API double), and
//! so do narrower gets and single pods never asked online (filtered from it); a refused selector
//! and a missing pod fail alike.

mod hubkit;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hubkit::*;
use yurt::apidouble::ApiDouble;
use yurt::hub::cache::{Agents, CacheConfig};
use yurt::hub::config::LbMode;
use yurt::net::shutdown;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// kubectl with the kubeconfig `which` of `dir`.
fn run_kubectl(dir: &Dir, which: &str, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(dir.0.join(which))
        .arg("--cache-dir")
        .arg(dir.0.join(format!("cache-{which}")))
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Its stdout; it must succeed.
fn kubectl(dir: &Dir, which: &str, args: &[&str]) -> String {
    let out = run_kubectl(dir, which, args);
    assert!(
        out.status.success(),
        "kubectl {which} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Its stderr; it must fail.
fn kubectl_fails(dir: &Dir, which: &str, args: &[&str]) -> String {
    let out = run_kubectl(dir, which, args);
    assert!(!out.status.success(), "kubectl {which} {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The API double, a hub in front of it caching every component, and kubeconfigs `direct`
/// (the double) and `hub` in `dir`.
struct Setup {
    dir: Dir,
    hub: HubUnderTest,
    addr: std::net::SocketAddr,
    stop: shutdown::Trigger,
}

fn setup(tag: &str) -> Setup {
    let double = ApiDouble::sandbox("edge-node-1");
    let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, sd) = shutdown::channel();
    let d = double.clone();
    smol::spawn(async move { d.serve(listener, Some(pki().server_config()), sd).await }).detach();
    let cfg = hub_config_for(&[addr], node_cert(), LbMode::RoundRobin);
    let cache = CacheConfig {
        agents: Agents::All,
        ..CacheConfig::in_dir(&cfg.cache_dir)
    };
    let hub = HubUnderTest::start_with_cache(cfg, cache);
    let dir =
        Dir(std::env::temp_dir().join(format!("yurt-cache-kubectl-{tag}-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("mkdir");
    let admin = pki()
        .client("kubernetes-admin", Some("system:masters"))
        .expect("admin cert");
    std::fs::write(
        dir.0.join("direct"),
        pki().kubeconfig(&format!("https://127.0.0.1:{}", addr.port()), &admin),
    )
    .expect("write");
    let via_hub = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: http://{}\n  name: hub\ncontexts:\n- context:\n    cluster: hub\n  name: hub\ncurrent-context: hub\n",
        hub.proxy
    );
    std::fs::write(dir.0.join("hub"), via_hub).expect("write");
    Setup {
        dir,
        hub,
        addr,
        stop,
    }
}

impl Setup {
    /// Stops the API double and waits until the hub counts it as down.
    fn cut(&self) {
        self.stop.fire();
        self.hub.wait_unhealthy(self.addr);
    }
}

#[test]
fn kubectl_get_pods_all_namespaces_prints_the_same_offline() {
    if !kubectl_present() {
        return;
    }
    let s = setup("get");
    let (dir, hub) = (&s.dir, &s.hub);
    let direct = kubectl(dir, "direct", &["get", "pods", "-A"]);
    let online = kubectl(dir, "hub", &["get", "pods", "-A"]);
    assert!(
        direct.lines().count() >= 5,
        "the sandbox has pods: {direct}"
    );
    assert_eq!(without_age(&online), without_age(&direct));
    // One object asked online (its own one-row table); the others never asked through the
    // hub: offline, filtered from the `-A` table it cached.
    let one_online = ["get", "pod", "worker-0"];
    assert_eq!(
        without_age(&kubectl(dir, "hub", &one_online)),
        without_age(&kubectl(dir, "direct", &one_online))
    );
    let narrower: [&[&str]; 5] = [
        &["get", "pod", "web-0"],
        &["get", "pod", "-n", "kube-system", "kube-proxy-edge-node-1"],
        &one_online,
        &["get", "pods", "-l", "app=web"],
        &[
            "get",
            "pods",
            "-n",
            "kube-system",
            "--field-selector",
            "metadata.name!=nope",
        ],
    ];
    let direct_narrower: Vec<String> = narrower
        .iter()
        .map(|args| kubectl(dir, "direct", args))
        .collect();
    assert_eq!(direct_narrower[3].lines().count(), 3, "{direct_narrower:?}");
    // A selector the apiserver refuses: refused online, and offline the same way. So is a pod
    // that does not exist (the `-A` table says so).
    let refused = ["get", "pods", "-l", "app=web,"];
    let refused_online = kubectl_fails(dir, "hub", &refused);
    assert!(refused_online.contains("BadRequest"), "{refused_online}");
    let missing = ["get", "pod", "nope"];
    let missing_direct = kubectl_fails(dir, "direct", &missing);
    assert!(missing_direct.contains("NotFound"), "{missing_direct}");
    std::thread::sleep(Duration::from_millis(300));

    s.cut();
    let offline = kubectl(dir, "hub", &["get", "pods", "-A"]);
    assert_eq!(without_age(&offline), without_age(&direct));
    for (args, direct) in narrower.iter().zip(&direct_narrower) {
        let offline = kubectl(dir, "hub", args);
        assert_eq!(without_age(&offline), without_age(direct), "{args:?}");
    }
    assert_eq!(kubectl_fails(dir, "hub", &refused), refused_online);
    assert_eq!(kubectl_fails(dir, "hub", &missing), missing_direct);
    let m = hub.metrics();
    assert!(
        m.contains("node_yurthub_cache_offline_answers_total{component=\"kubectl\",resource=\"pods\",code=\"200\"}"),
        "{m}"
    );
    assert!(
        !m.contains("write_failures_total{"),
        "every answer was stored: {m}"
    );
}

/// kubectl's other everyday reads offline: namespaced Tables, a Table it paged (`--chunk-size`)
/// or sorted, one pod as YAML
/// and `describe` (a JSON GET, then a protobuf one, of the same pod), `get -w`; the rest of a
/// paged LIST gets the apiserver's 410 for a continue token it can no longer honour.
#[test]
fn kubectl_paged_tables_yaml_and_describe_offline() {
    if !kubectl_present() {
        return;
    }
    let s = setup("paged");
    let dir = &s.dir;
    let all: &[&str] = &["get", "pods", "-A"];
    let paged: &[&str] = &["get", "pods", "-A", "--chunk-size=2"];
    let yaml = ["get", "pod", "web-0", "-o", "yaml"];
    let empty = ["get", "configmaps", "-n", "kube-system"];
    // Asked through the hub online in this order, then again offline; each must print what the
    // API double printed (ages aside): a namespaced Table only the apiserver can filter
    // (status.phase), a sorted Table (its rows carry whole objects), then the same pods paged
    // (rows with metadata, the view the sorted one must not share), and describe.
    let reads: [&[&str]; 4] = [
        &[
            "get",
            "pods",
            "-n",
            "default",
            "--field-selector",
            "status.phase=Running",
        ],
        &["get", "pods", "-A", "--sort-by=.spec.nodeName"],
        paged,
        &["describe", "pod", "web-0"],
    ];
    let direct: Vec<String> = reads.iter().map(|r| kubectl(dir, "direct", r)).collect();
    let direct_all = kubectl(dir, "direct", all);
    assert!(direct_all.lines().count() >= 5, "pages of 2: {direct_all}");
    assert!(direct[0].lines().count() >= 3, "{}", direct[0]);
    let direct_yaml = kubectl(dir, "direct", &yaml);
    assert!(direct_yaml.contains("name: web-0"), "{direct_yaml}");
    let direct_empty = run_kubectl(dir, "direct", &empty);
    assert!(direct_empty.status.success() && direct_empty.stdout.is_empty());
    let same_through_hub = |args: &[&str], direct: &str| {
        let got = kubectl(dir, "hub", args);
        assert_eq!(without_age(&got), without_age(direct), "{args:?}");
    };

    for (args, direct) in reads.iter().zip(&direct) {
        same_through_hub(args, direct);
    }
    assert_eq!(run_kubectl(dir, "hub", &empty).stderr, direct_empty.stderr);
    assert_eq!(kubectl(dir, "hub", &yaml), direct_yaml);
    let first_page = kubectl(dir, "hub", &["get", "--raw", "/api/v1/pods?limit=1"]);
    let token = first_page
        .split("\"continue\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a first page of 1 has a continue token");
    std::thread::sleep(Duration::from_millis(300));

    s.cut();
    // The paged pods again, and all pods never asked unpaged: both from the paged Table.
    same_through_hub(all, &direct_all);
    for (args, direct) in reads.iter().zip(&direct) {
        same_through_hub(args, direct);
    }
    let offline_empty = run_kubectl(dir, "hub", &empty);
    assert!(offline_empty.status.success(), "{offline_empty:?}");
    assert_eq!(offline_empty.stderr, direct_empty.stderr);
    assert_eq!(kubectl(dir, "hub", &yaml), direct_yaml);
    // `get -w`: the Table from the cache, then a watch that stays open (as online) where the
    // hub has nothing to tell, rather than an error that ends kubectl.
    let out = dir.0.join("watch.out");
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(dir.0.join("hub"))
        .args(["get", "pods", "-A", "-w"])
        .stdout(std::fs::File::create(&out).expect("create"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kubectl");
    let deadline = Instant::now() + Duration::from_secs(10);
    let printed = loop {
        let printed = std::fs::read_to_string(&out).unwrap_or_default();
        if printed.lines().count() >= direct_all.lines().count() || Instant::now() >= deadline {
            break printed;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(1500));
    let still_watching = watch.try_wait().expect("try_wait").is_none();
    let _ = watch.kill();
    let ended = watch.wait_with_output().expect("wait");
    assert!(
        still_watching,
        "kubectl get -w ended offline: {}",
        String::from_utf8_lossy(&ended.stderr)
    );
    assert_eq!(without_age(&printed), without_age(&direct_all));

    let rest = format!("/api/v1/pods?limit=1&continue={token}");
    let expired = kubectl_fails(dir, "hub", &["get", "--raw", &rest]);
    assert!(
        expired.contains("The provided continue parameter is too old"),
        "{expired}"
    );
    let m = s.hub.metrics();
    assert!(
        !m.contains("write_failures_total{"),
        "every answer was stored: {m}"
    );
}
