//! `yurt edge`: the hub and the tunnel agent in one process — one executor, one TLS identity
//! (the kubeconfig's node client certificate). What edge images run.
//!
//! Flags are the hub's, plus the agent's own: `--tunnel-server-addr`, `--node-ip`, `--allow`,
//! `--tunnel-ca-file` (default: the kubeconfig's CA) and `--agent-meta-port` (10266).

use argh::FromArgs;

use crate::cli::{bind, run_parsed, serve_until_signal, EXIT_USAGE};
use crate::hub::cache::CacheConfig;
use crate::hub::config::{HubArgs, HubConfig};
use crate::hub::kubeconfig::Credential;
use crate::net::tls::Identity;
use crate::tunnel::agent::{cli::config_from_flags, run_agent, AgentConfig};

/// The agent's part of `yurt edge`.
#[derive(FromArgs, Debug)]
pub struct AgentPart {
    /// tunnel server addresses host:port, comma-separated; a name means all its addresses (required)
    #[argh(option)]
    pub tunnel_server_addr: Option<String>,
    /// this node's IP addresses, comma-separated (registered so CONNECT by IP finds this node)
    #[argh(option, default = "String::new()")]
    pub node_ip: String,
    /// destinations tunnel streams may reach, host:port comma-separated (default: node IPs and
    /// 127.0.0.1 on 10250 and 10255)
    #[argh(option)]
    pub allow: Option<String>,
    /// CA (PEM) that verifies the tunnel servers (default: the kubeconfig's CA)
    #[argh(option)]
    pub tunnel_ca_file: Option<String>,
    /// port of the agent's /healthz and /metrics, on --bind-address (default 10266)
    #[argh(option, default = "10266")]
    pub agent_meta_port: u16,
}

/// Flags that belong to the agent part; everything else goes to the hub part.
const AGENT_FLAGS: [&str; 5] = [
    "--tunnel-server-addr",
    "--node-ip",
    "--allow",
    "--tunnel-ca-file",
    "--agent-meta-port",
];

/// Entry point; `rest` are the arguments after `edge` (already `--flag=value`-split).
pub fn main(rest: &[&str]) -> i32 {
    if rest.iter().any(|a| *a == "--help" || *a == "-h") {
        print!("{}", help());
        return 0;
    }
    let (mut agent, mut hub) = (Vec::new(), Vec::new());
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        if AGENT_FLAGS.contains(a) {
            agent.push(*a);
            agent.extend(it.next());
        } else {
            hub.push(*a);
        }
    }
    let mut parsed = None;
    let code = run_parsed::<HubArgs>("yurt edge", &hub, |h| {
        parsed = Some(h);
        0
    });
    let Some(hub_args) = parsed else { return code };
    run_parsed::<AgentPart>("yurt edge", &agent, |a| run(hub_args, a))
}

fn help() -> String {
    let part = |args: &[&str]| match HubArgs::from_args(&["yurt edge"], args) {
        Err(e) => e.output,
        Ok(_) => String::new(),
    };
    let agent = match AgentPart::from_args(&["yurt edge"], &["--help"]) {
        Err(e) => e.output,
        Ok(_) => String::new(),
    };
    let hub_opts = part(&["--help"]);
    let hub_opts = hub_opts
        .split_once("Options:")
        .map(|(_, o)| o)
        .unwrap_or("");
    let agent_opts = agent.split_once("Options:").map(|(_, o)| o).unwrap_or("");
    format!(
        "Usage: yurt edge --node-name N --kubeconfig FILE --tunnel-server-addr HOST:PORT [flags]\n\n\
         Hub and tunnel agent in one process (what edge images run). The agent presents the\n\
         kubeconfig's client certificate (CN=system:node:<node>) to the tunnel servers.\n\nHub flags:{}\nAgent flags:{}",
        without_help(hub_opts),
        agent_opts
    )
}

fn without_help(opts: &str) -> String {
    opts.lines()
        .filter(|l| !l.contains("--help, help"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Resolves both parts; any problem is one line and exit 64.
fn resolve(
    hub: &HubArgs,
    agent: &AgentPart,
) -> Result<(HubConfig, CacheConfig, AgentConfig), String> {
    let cfg = hub.resolve().map_err(|e| e.to_string())?;
    let cache = hub.resolve_cache().map_err(|e| e.to_string())?;
    let servers = agent
        .tunnel_server_addr
        .as_deref()
        .ok_or("--tunnel-server-addr is required")?;
    let Credential::ClientCert { cert_pem, key_pem } = &cfg.kubeconfig.credential else {
        return Err(
            "the tunnel agent needs a client certificate (CN=system:node:<node>) in the kubeconfig"
                .into(),
        );
    };
    let identity =
        Identity::from_pem(cert_pem, key_pem).map_err(|e| format!("--kubeconfig: {e}"))?;
    let ca = match &agent.tunnel_ca_file {
        Some(f) => std::fs::read(f).map_err(|e| format!("--tunnel-ca-file {f}: {e}"))?,
        None => cfg.kubeconfig.ca_pem.clone(),
    };
    let tls = crate::tunnel::tls::agent_dial_config(&ca, &identity)
        .map_err(|e| format!("tunnel TLS: {e}"))?;
    let agent_cfg = config_from_flags(
        &cfg.node_name,
        &agent.node_ip,
        servers,
        agent.allow.as_deref(),
        tls,
    )?;
    Ok((cfg, cache, agent_cfg))
}

fn run(hub: HubArgs, agent: AgentPart) -> i32 {
    let (cfg, cache, agent_cfg) = match resolve(&hub, &agent) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("yurt edge: {e}");
            return EXIT_USAGE;
        }
    };
    let meta_addr = std::net::SocketAddr::new(cfg.server_addr.ip(), agent.agent_meta_port);
    let (proxy_addr, server_addr) = (cfg.proxy_addr, cfg.server_addr);
    let binding = async move {
        Ok((
            bind(proxy_addr).await?,
            bind(server_addr).await?,
            bind(meta_addr).await?,
        ))
    };
    serve_until_signal(
        "yurt edge",
        crate::cli::Exec::Hub,
        binding,
        |(proxy, server, meta), shutdown| async move {
            log::info!(
                "agent meta listening on http://{}",
                meta.local_addr().map(|a| a.to_string()).unwrap_or_default()
            );
            let agent_task = smol::spawn(run_agent(Some(meta), agent_cfg, shutdown.clone()));
            let listeners = crate::hub::Listeners { proxy, server };
            let hub_result = crate::hub::run_with_cache(listeners, cfg, cache, shutdown).await;
            agent_task.await;
            match hub_result {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("yurt edge: {e}");
                    EXIT_USAGE
                }
            }
        },
    )
}
