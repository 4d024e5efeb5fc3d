//! The sandbox's tunnel: a kubelet stand-in on the "node", a tunnel agent beside it and a tunnel
//! server on the "cloud", so a `curl --proxy` line reaches the kubelet the way kube-apiserver does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Response;
use smol::net::TcpListener;

use crate::net::http::{full, Body};
use crate::net::shutdown::Shutdown;
use crate::testpki::{write_private, TestPki};
use crate::tunnel::agent::{run_agent, AgentConfig};
use crate::tunnel::allow::Allowlist;
use crate::tunnel::server::{run_server, ServerConfig, ServerListeners};
use crate::tunnel::tls;

/// Where the sandbox's tunnel can be reached.
pub struct SandboxTunnel {
    /// The tunnel server's plain CONNECT front end (what kube-apiserver's egress selector dials).
    pub connect: SocketAddr,
    /// The kubelet stand-in, reachable only through the tunnel in a real deployment.
    pub kubelet: SocketAddr,
    /// The CA file that verifies the kubelet stand-in (for curl's --cacert).
    pub ca_file: PathBuf,
}

impl SandboxTunnel {
    /// The curl line that reaches the kubelet through the tunnel.
    pub fn curl(&self, path: &str) -> String {
        format!(
            "curl --proxy http://{} --cacert {} https://{}{path}",
            self.connect,
            self.ca_file.display(),
            self.kubelet
        )
    }
}

/// Starts the kubelet stand-in, the tunnel server and the agent; all stop on `stop`.
pub async fn start(
    pki: &TestPki,
    node: &str,
    dir: &Path,
    stop: &Shutdown,
) -> Result<SandboxTunnel, Box<dyn std::error::Error>> {
    let ca_file = dir.join("ca.crt");
    write_private(&ca_file, &pki.ca_pem)?;
    let ca = pki.ca_pem.as_bytes();

    let kubelet = TcpListener::bind("127.0.0.1:0").await?;
    let kubelet_addr = kubelet.local_addr()?;
    let node_name = node.to_string();
    smol::spawn(crate::net::http::serve(
        kubelet,
        Some(pki.server_config()),
        stop.clone(),
        Duration::ZERO,
        move |req, _| {
            let node = node_name.clone();
            async move { kubelet_answer(&node, req.uri().path()) }
        },
    ))
    .detach();

    let server_id = pki.server.identity();
    let cfg = ServerConfig::new(
        tls::agent_listener_config(&server_id, ca)?,
        tls::proxy_config(&server_id, ca)?,
    );
    let agents = TcpListener::bind("127.0.0.1:0").await?;
    let plain = TcpListener::bind("127.0.0.1:0").await?;
    let (agents_addr, connect) = (agents.local_addr()?, plain.local_addr()?);
    let listeners = ServerListeners {
        agents,
        proxy_tls: None,
        proxy_plain: Some(plain),
        proxy_uds: None,
        meta: None,
    };
    smol::spawn(run_server(listeners, cfg, stop.clone())).detach();

    let node_id = pki.node_client(node)?.identity();
    let mut agent = AgentConfig::new(
        node.to_string(),
        vec![kubelet_addr.ip()],
        vec![agents_addr.to_string()],
        tls::agent_dial_config(ca, &node_id)?,
    );
    agent.allow = Allowlist::parse(&kubelet_addr.to_string()).map_err(|e| e.to_string())?;
    smol::spawn(run_agent(None, agent, stop.clone())).detach();
    Ok(SandboxTunnel {
        connect,
        kubelet: kubelet_addr,
        ca_file,
    })
}

/// What the kubelet stand-in answers: `/healthz` and a few log lines, like the real port 10250.
fn kubelet_answer(node: &str, path: &str) -> Response<Body> {
    let text = |code: u16, s: String| {
        Response::builder()
            .status(code)
            .body(full(s))
            .expect("valid response")
    };
    match path {
        "/healthz" => text(200, "ok".into()),
        p if p.starts_with("/containerLogs/") => text(
            200,
            format!("log line 1 from {p} on {node}\nlog line 2, carried by the yurt tunnel\n"),
        ),
        _ => text(
            404,
            "the sandbox kubelet serves /healthz and /containerLogs/<ns>/<pod>/<container>\n"
                .into(),
        ),
    }
}
