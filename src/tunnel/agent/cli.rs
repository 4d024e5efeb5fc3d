//! `yurt tunnel-agent` flags, resolved into an [`AgentConfig`].

use std::net::IpAddr;

use argh::FromArgs;

use crate::cli::EXIT_USAGE;
use crate::tunnel::agent::{run_agent, AgentConfig};
use crate::tunnel::allow::Allowlist;
use crate::tunnel::tls::AgentTlsFiles;

/// Tunnel agent: links this node to the tunnel servers so kube-apiserver reaches its kubelet.
#[derive(FromArgs, Debug)]
pub struct AgentArgs {
    /// this node's name (the client certificate must say CN=system:node:<name>)
    #[argh(option)]
    pub node_name: String,
    /// this node's IP addresses, comma-separated
    #[argh(option, default = "String::new()")]
    pub node_ip: String,
    /// tunnel server addresses host:port, comma-separated; a name means all its addresses
    #[argh(option)]
    pub tunnel_server_addr: String,
    /// client certificate (PEM)
    #[argh(option)]
    pub cert_file: String,
    /// key (PEM) of the client certificate
    #[argh(option)]
    pub key_file: String,
    /// CA (PEM) that verifies the tunnel servers
    #[argh(option)]
    pub ca_file: String,
    /// destinations streams may reach, host:port comma-separated (default: node IPs and
    /// 127.0.0.1 on 10250 and 10255)
    #[argh(option)]
    pub allow: Option<String>,
    /// port of /healthz and /metrics (default 10266)
    #[argh(option, default = "10266")]
    pub meta_port: u16,
}

/// Entry point: exit 64 on unusable flags or files, 1 when the meta port cannot be bound.
pub fn main(args: AgentArgs) -> i32 {
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("yurt tunnel-agent: {e}");
            return EXIT_USAGE;
        }
    };
    let binding = crate::cli::bind(format!("0.0.0.0:{}", args.meta_port));
    crate::cli::serve_until_signal(
        "yurt tunnel-agent",
        crate::cli::Exec::Smol,
        binding,
        |meta, shutdown| async move {
            run_agent(Some(meta), config, shutdown).await;
            0
        },
    )
}

fn load_config(args: &AgentArgs) -> Result<AgentConfig, String> {
    let files = AgentTlsFiles {
        cert: args.cert_file.clone().into(),
        key: args.key_file.clone().into(),
        ca: args.ca_file.clone().into(),
    };
    let tls = files.load()?;
    let mut config = config_from_flags(
        &args.node_name,
        &args.node_ip,
        &args.tunnel_server_addr,
        args.allow.as_deref(),
        tls,
    )?;
    config.tls_files = Some(files);
    Ok(config)
}

/// Validates the flags the agent shares with `yurt edge` and builds its configuration.
pub fn config_from_flags(
    node_name: &str,
    node_ip: &str,
    tunnel_server_addr: &str,
    allow: Option<&str>,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<AgentConfig, String> {
    if !crate::tunnel::frame::valid_node_name(node_name) {
        return Err(format!(
            "--node-name {node_name:?} is not a valid node name"
        ));
    }
    let ips = comma_list(node_ip)
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| format!("--node-ip {s:?} is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let servers: Vec<String> = comma_list(tunnel_server_addr).map(str::to_string).collect();
    if servers.is_empty() || servers.iter().any(|s| !s.contains(':')) {
        return Err("--tunnel-server-addr needs host:port entries".into());
    }
    let mut config = AgentConfig::new(node_name.to_string(), ips, servers, tls);
    if let Some(list) = allow {
        config.allow = Allowlist::parse(list).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

fn comma_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty())
}
