//! `yurtctl status`: one line per node: role (from the edge label), autonomy, hub health and
//! whether its tunnel agent is connected (from a tunnel server's `/v1/agents` when
//! `--tunnel-meta` is given, else `unknown`).
//!
//! Hub health comes from what Kubernetes already has, so nothing new is written: the hub runs as
//! the static pod `yurt-edge` that `node convert` installs, and kubelet reports it as the mirror
//! pod `kube-system/yurt-edge-<node>`, with the Ready condition its readiness probe
//! (`/v1/readyz` on 10267) sets. A node whose kubelet is not reporting (node not Ready) shows
//! `unknown`: its pod status is stale.

use std::io::{Read, Write};

use serde_json::Value;

use super::cluster::Cluster;
use super::error::Error;
use super::nodes;

/// Label of the `yurt-edge` static pod (and so of its mirror pods).
pub const EDGE_POD_SELECTOR: &str = "app.kubernetes.io/name=yurt-edge";
/// Annotation kubelet puts on mirror pods.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Connected node names from a tunnel server meta address (`host:port`).
pub fn connected_agents(meta: &str) -> Result<Vec<String>, Error> {
    let err = |e: String| Error::Unreachable(format!("tunnel server meta {meta}: {e}"));
    let mut s = std::net::TcpStream::connect(meta).map_err(|e| err(e.to_string()))?;
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let req = format!("GET /v1/agents HTTP/1.0\r\nHost: {meta}\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| err(e.to_string()))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| err(e.to_string()))?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let agents: Vec<Value> = serde_json::from_str(body).map_err(|e| err(e.to_string()))?;
    Ok(agents
        .iter()
        .filter_map(|a| a["node"].as_str().map(String::from))
        .collect())
}

fn pod_ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// The hub's health on node `n` from the mirror pods of `yurt-edge`: `healthy`, `unhealthy`,
/// `no pod`, or `unknown` while the node's kubelet is not reporting.
pub fn hub_health(n: &Value, pods: &[Value]) -> &'static str {
    let name = nodes::name(n);
    let pod = pods.iter().find(|p| {
        p["spec"]["nodeName"] == name && p["metadata"]["annotations"][MIRROR_ANNOTATION].is_string()
    });
    match pod {
        _ if !nodes::is_ready(n) => "unknown",
        None => "no pod",
        Some(p) if pod_ready(p) => "healthy",
        Some(_) => "unhealthy",
    }
}

/// One node's status line.
pub fn line(n: &Value, pods: &[Value], agents: Option<&[String]>) -> String {
    let name = nodes::name(n);
    let role = match nodes::edge_label(n) {
        Some("true") => "edge",
        Some("false") => "cloud",
        _ => "-",
    };
    let autonomy = if nodes::autonomy(n) == Some("true") {
        "yes"
    } else {
        "no"
    };
    let hub = if role == "edge" {
        hub_health(n, pods)
    } else {
        "-"
    };
    let tunnel = match (role, agents) {
        ("edge", Some(a)) if a.iter().any(|x| x == name) => "connected",
        ("edge", Some(_)) => "not connected",
        ("edge", None) => "unknown",
        _ => "-",
    };
    format!("{name:<20} {role:<6} {autonomy:<9} {hub:<10} {tunnel}")
}

/// Prints the table.
pub async fn run(c: &Cluster, tunnel_meta: Option<&str>) -> Result<(), Error> {
    let all = c.list("v1", "Node").await?;
    let pods = c
        .list_selected("v1", "Pod", "kube-system", EDGE_POD_SELECTOR)
        .await?;
    let agents = tunnel_meta.map(connected_agents).transpose()?;
    println!(
        "{:<20} {:<6} {:<9} {:<10} TUNNEL",
        "NODE", "ROLE", "AUTONOMY", "HUB"
    );
    for n in &all {
        println!("{}", line(n, &pods, agents.as_deref()));
    }
    Ok(())
}
