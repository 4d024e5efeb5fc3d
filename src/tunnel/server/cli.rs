//! `yurt tunnel-server` flags, resolved into listeners and a [`ServerConfig`].

use argh::FromArgs;

use crate::cli::EXIT_USAGE;
use crate::net::tls::Identity;
use crate::tunnel::server::{run_server, ServerConfig, ServerListeners};

/// Tunnel server: accepts edge agents and offers kube-apiserver an HTTP CONNECT front end.
#[derive(FromArgs, Debug)]
pub struct ServerArgs {
    /// address for the agent, TLS CONNECT and meta listeners (default 0.0.0.0)
    #[argh(option, default = "String::from(\"0.0.0.0\")")]
    pub bind_address: String,
    /// port agents connect to (default 10262)
    #[argh(option, default = "10262")]
    pub agent_port: u16,
    /// port of the CONNECT front end over TLS with client certificates (default 10263)
    #[argh(option, default = "10263")]
    pub proxy_port: u16,
    /// loopback port of the plain CONNECT front end (default 10264)
    #[argh(option, default = "10264")]
    pub proxy_plain_port: u16,
    /// unix socket path of a plain CONNECT front end (for an egress selector's transport.uds;
    /// mode 0600)
    #[argh(option)]
    pub proxy_uds: Option<String>,
    /// port of /healthz, /metrics and /v1/agents (default 10265)
    #[argh(option, default = "10265")]
    pub meta_port: u16,
    /// serving certificate (PEM) for the agent and TLS CONNECT listeners
    #[argh(option)]
    pub cert_file: String,
    /// key (PEM) of the serving certificate
    #[argh(option)]
    pub key_file: String,
    /// CA (PEM) that verifies agents' and CONNECT clients' certificates
    #[argh(option)]
    pub ca_file: String,
}

/// Entry point: exit 64 on unusable flags or files, 1 when a listener cannot be bound.
pub fn main(args: ServerArgs) -> i32 {
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("yurt tunnel-server: {e}");
            return EXIT_USAGE;
        }
    };
    crate::cli::serve_until_signal(
        "yurt tunnel-server",
        crate::cli::Exec::Smol,
        bind(&args),
        |listeners, shutdown| async move {
            run_server(listeners, config, shutdown).await;
            0
        },
    )
}

fn load_config(args: &ServerArgs) -> Result<ServerConfig, String> {
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"));
    let cert = read(&args.cert_file)?;
    let key = read(&args.key_file)?;
    let ca = read(&args.ca_file)?;
    let identity = Identity::from_pem(&cert, &key).map_err(|e| e.to_string())?;
    let agent_tls =
        crate::tunnel::tls::agent_listener_config(&identity, &ca).map_err(|e| e.to_string())?;
    let proxy_tls = crate::tunnel::tls::proxy_config(&identity, &ca).map_err(|e| e.to_string())?;
    Ok(ServerConfig::new(agent_tls, proxy_tls))
}

async fn bind(args: &ServerArgs) -> Result<ServerListeners, String> {
    let tcp = |host: String, port: u16| async move {
        let addr = crate::tunnel::allow::join(&host, port);
        let l = smol::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        log::info!(
            "listening on {}",
            l.local_addr().map_err(|e| e.to_string())?
        );
        Ok::<_, String>(l)
    };
    let proxy_uds = match &args.proxy_uds {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            let l = smol::net::unix::UnixListener::bind(path)
                .map_err(|e| format!("cannot listen on {path}: {e}"))?;
            // Plain CONNECT reaches every kubelet: only the owner (kube-apiserver's user) may.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("cannot restrict {path}: {e}"))?;
            log::info!("listening on unix:{path}");
            Some(l)
        }
        None => None,
    };
    Ok(ServerListeners {
        agents: tcp(args.bind_address.clone(), args.agent_port).await?,
        proxy_tls: Some(tcp(args.bind_address.clone(), args.proxy_port).await?),
        proxy_plain: Some(tcp("127.0.0.1".into(), args.proxy_plain_port).await?),
        proxy_uds,
        meta: Some(tcp(args.bind_address.clone(), args.meta_port).await?),
    })
}
