//! `yurtctl status`: one line per node: role (from the edge label), autonomy, hub health (from
//! the node's hub-health annotation, else `unknown`) and whether its tunnel agent is connected
//! (from a tunnel server's `/v1/agents` when `--tunnel-meta` is given, else `unknown`).

use std::io::{Read, Write};

use serde_json::Value;

use super::cluster::Cluster;
use super::error::Error;
use super::nodes;

/// Node annotation a hub (or an operator's probe) sets to its health: `healthy` / `unhealthy`.
pub const HUB_HEALTH_ANNOTATION: &str = "yurt.dev/hub-health";

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

/// One node's status line.
pub fn line(n: &Value, agents: Option<&[String]>) -> String {
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
    let hub = match (
        role,
        n["metadata"]["annotations"][HUB_HEALTH_ANNOTATION].as_str(),
    ) {
        ("edge", Some(h)) => h,
        ("edge", None) => "unknown",
        _ => "-",
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
    let agents = tunnel_meta.map(connected_agents).transpose()?;
    println!(
        "{:<20} {:<6} {:<9} {:<10} TUNNEL",
        "NODE", "ROLE", "AUTONOMY", "HUB"
    );
    for n in &all {
        println!("{}", line(n, agents.as_deref()));
    }
    Ok(())
}
