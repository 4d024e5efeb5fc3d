//! `yurt sandbox`: a local playground — the API double as the "cloud" and a hub in front of it, on
//! loopback, with a kubeconfig for kubectl and a switch to cut and restore the cloud link.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod tunnel;

use argh::FromArgs;
use http::{Method, Response};
use smol::io::AsyncBufReadExt;
use smol::net::TcpListener;
use smol::stream::StreamExt;

use crate::apidouble::ApiDouble;
use crate::hub::config::{Heartbeat, HubConfig, LbMode, ServerAddr};
use crate::hub::kubeconfig::{Credential, Kubeconfig};
use crate::net::http::{full, Body};
use crate::net::shutdown::{self, Shutdown, Trigger};
use crate::sync::lock;
use crate::testpki::{write_private, TestPki};

/// Start a local playground on loopback: an API double seeded with a node and a few pods (the
/// "cloud"), a hub in front of it, and a kubeconfig for kubectl. Not a cluster: nothing leaves
/// 127.0.0.1. Type `cut` / `restore` (or POST to the control URL) to cut and restore the cloud link.
#[derive(FromArgs, Debug)]
pub struct SandboxArgs {
    /// node name the hub runs as (default edge-node-1)
    #[argh(option, default = "String::from(\"edge-node-1\")")]
    pub node_name: String,
    /// folder for the kubeconfig, certificates and cache (default: a new temp folder, removed on exit)
    #[argh(option)]
    pub dir: Option<PathBuf>,
    /// hub proxy port (default 0: any free port)
    #[argh(option, default = "0")]
    pub proxy_port: u16,
}

/// The cloud side: the double, served or cut.
struct Cloud {
    double: ApiDouble,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    serving: Mutex<Option<Trigger>>,
}

impl Cloud {
    /// Serves the double on its port (again). Returns false if it is already up.
    async fn restore(&self) -> std::io::Result<bool> {
        if lock(&self.serving).is_some() {
            return Ok(false);
        }
        let listener = TcpListener::bind(self.addr).await?;
        let (trigger, shutdown) = shutdown::channel();
        *lock(&self.serving) = Some(trigger);
        let double = self.double.clone();
        let tls = self.tls.clone();
        smol::spawn(async move { double.serve(listener, Some(tls), shutdown).await }).detach();
        Ok(true)
    }

    /// Stops serving: the port closes and open connections drop, like a cut link.
    fn cut(&self) -> bool {
        match lock(&self.serving).take() {
            Some(t) => {
                t.fire();
                true
            }
            None => false,
        }
    }
}

/// Entry point.
pub fn main(args: SandboxArgs) -> i32 {
    match smol::block_on(run(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("yurt sandbox: {e}");
            crate::cli::EXIT_FAILURE
        }
    }
}

async fn run(args: SandboxArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("yurt-sandbox-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let pki = TestPki::generate(&[])?;
    let hub_cert = pki.node_client(&args.node_name)?;

    let cloud_listener = TcpListener::bind("127.0.0.1:0").await?;
    let cloud = Arc::new(Cloud {
        double: ApiDouble::sandbox(&args.node_name),
        addr: cloud_listener.local_addr()?,
        tls: pki.server_config(),
        serving: Mutex::new(None),
    });
    drop(cloud_listener);
    cloud.restore().await?;
    let cloud_url = format!("https://{}", cloud.addr);

    let hub_kubeconfig = dir.join("hub-kubelet.conf");
    write_private(&hub_kubeconfig, &pki.kubeconfig(&cloud_url, &hub_cert))?;
    let proxy = TcpListener::bind(("127.0.0.1", args.proxy_port)).await?;
    let server = TcpListener::bind("127.0.0.1:0").await?;
    let control = TcpListener::bind("127.0.0.1:0").await?;
    let (proxy_addr, server_addr, control_addr) = (
        proxy.local_addr()?,
        server.local_addr()?,
        control.local_addr()?,
    );
    let kubectl_config = dir.join("kubeconfig");
    write_private(&kubectl_config, &kubectl_kubeconfig(proxy_addr))?;

    let cfg = HubConfig {
        servers: vec![ServerAddr {
            url: cloud_url.clone(),
            host: "127.0.0.1".into(),
            port: cloud.addr.port(),
        }],
        node_name: args.node_name.clone(),
        kubeconfig: Kubeconfig {
            server: cloud_url.clone(),
            ca_pem: pki.ca_pem.clone().into_bytes(),
            credential: Credential::ClientCert {
                cert_pem: hub_cert.cert.into_bytes(),
                key_pem: hub_cert.key.into_bytes(),
            },
        },
        cache_dir: dir.join("cache"),
        proxy_addr,
        server_addr,
        lb_mode: LbMode::RoundRobin,
        heartbeat: Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failed_retry: 1,
            healthy_threshold: 2,
        },
        shutdown_grace: Duration::from_secs(1),
    };
    let (signals, _sig_task) = shutdown::on_signals()?;
    let tunnel = tunnel::start(&pki, &args.node_name, &dir, &signals).await?;
    // Every component is cached (kubectl included), so kubectl keeps answering with the cloud cut.
    let cache = crate::hub::cache::CacheConfig::resolve(&dir.join("cache"), "*", None, None)?;
    let hub = smol::spawn(crate::hub::run_with_cache(
        crate::hub::Listeners { proxy, server },
        cfg,
        cache,
        signals.clone(),
    ));
    smol::spawn(control_server(control, cloud.clone(), signals.clone())).detach();
    smol::spawn(stdin_commands(cloud.clone(), signals.clone())).detach();

    println!(
        "{}",
        banner(
            &args.node_name,
            &cloud_url,
            proxy_addr,
            server_addr,
            control_addr,
            &kubectl_config,
            &tunnel
        )
    );
    hub.await?;
    cloud.cut();
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn kubectl_kubeconfig(proxy: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: http://{proxy}\n  name: yurthub\ncontexts:\n- context:\n    cluster: yurthub\n    namespace: default\n  name: yurthub\ncurrent-context: yurthub\n"
    )
}

fn banner(
    node: &str,
    cloud: &str,
    proxy: SocketAddr,
    server: SocketAddr,
    control: SocketAddr,
    kc: &std::path::Path,
    tunnel: &tunnel::SandboxTunnel,
) -> String {
    format!(
        "Yurt sandbox: a local playground (API double + hub on loopback; nothing leaves 127.0.0.1)\n\
         \n  cloud (API double):  {cloud}   node {node}, a few pods\
         \n  hub proxy:           http://{proxy}\
         \n  hub server:          http://{server}/v1/healthz  http://{server}/metrics\
         \n\nPoint kubectl at the hub:\n  export KUBECONFIG={kc}\n  kubectl get nodes\n  kubectl get pods -A\n\
         \nReach the node's kubelet through the tunnel, as kube-apiserver does (kubectl logs):\n  {curl}\n\
         \nCut the cloud link:   type `cut`      or  curl -X POST http://{control}/cut\
         \nRestore it:           type `restore`  or  curl -X POST http://{control}/restore\
         \nStop:                 Ctrl-C\n\nsandbox ready: KUBECONFIG={kc}",
        kc = kc.display(),
        curl = tunnel.curl("/containerLogs/default/web-0/web")
    )
}

async fn control_server(listener: TcpListener, cloud: Arc<Cloud>, stop: Shutdown) {
    crate::net::http::serve(
        listener,
        None,
        stop,
        Duration::from_millis(100),
        move |req, _| {
            let cloud = cloud.clone();
            async move { control(&cloud, req.method(), req.uri().path()).await }
        },
    )
    .await;
}

async fn control(cloud: &Cloud, method: &Method, path: &str) -> Response<Body> {
    let text = |code: u16, s: String| {
        Response::builder()
            .status(code)
            .body(full(s + "\n"))
            .expect("valid response")
    };
    match (method, path) {
        (&Method::POST, "/cut") => text(200, switch(cloud, "cut").await),
        (&Method::POST, "/restore") => text(200, switch(cloud, "restore").await),
        (&Method::GET, "/") => text(
            200,
            format!(
                "cloud link: {}",
                if lock(&cloud.serving).is_some() {
                    "up"
                } else {
                    "cut"
                }
            ),
        ),
        _ => text(404, "POST /cut, POST /restore, GET /".into()),
    }
}

async fn switch(cloud: &Cloud, cmd: &str) -> String {
    let msg = match cmd {
        "cut" if cloud.cut() => {
            "cloud link cut: the hub now answers from its cache, as the cloud last did (what \
             was asked through it before the cut, or narrower; anything else is a 503 that says \
             it was never cached)"
                .to_string()
        }
        "cut" => "cloud link already cut".to_string(),
        "restore" => match cloud.restore().await {
            Ok(true) => {
                "cloud link restored: the hub switches back within 2 heartbeats (2 s)".to_string()
            }
            Ok(false) => "cloud link already up".to_string(),
            Err(e) => format!("cannot restore the cloud link: {e}"),
        },
        other => format!("unknown command {other:?}: try cut, restore"),
    };
    eprintln!("sandbox: {msg}");
    msg
}

async fn stdin_commands(cloud: Arc<Cloud>, stop: Shutdown) {
    let mut lines = smol::io::BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
    while let Some(Ok(line)) = lines.next().await {
        if stop.is_fired() {
            return;
        }
        let cmd = line.trim();
        if !cmd.is_empty() {
            switch(&cloud, cmd).await;
        }
    }
}
