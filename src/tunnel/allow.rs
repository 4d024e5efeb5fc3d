//! The agent's allowlist: which `host:port` destinations a tunnel stream may reach, so the tunnel
//! is never an open proxy into the edge network. Pure.

use std::net::IpAddr;

/// Kubelet ports allowed by default: the API (10250) and the read-only port (10255).
pub const DEFAULT_PORTS: [u16; 2] = [10250, 10255];

/// One allowed destination host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    /// An address, compared as an address (so `::1` and `0::1` match).
    Ip(IpAddr),
    /// A DNS name, compared case-insensitively and dialled by name.
    Name(String),
}

/// Destinations an agent may dial.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    entries: Vec<(AllowedHost, u16)>,
}

/// Why an allowlist entry is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry(pub String);

impl std::fmt::Display for BadEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad allowlist entry {:?}: want host:port", self.0)
    }
}

impl std::error::Error for BadEntry {}

impl Allowlist {
    /// The default: each node IP and 127.0.0.1, on ports 10250 and 10255.
    pub fn default_for(node_ips: &[IpAddr]) -> Allowlist {
        let mut hosts: Vec<IpAddr> = node_ips.to_vec();
        hosts.push(IpAddr::from([127, 0, 0, 1]));
        let entries = hosts
            .into_iter()
            .flat_map(|ip| DEFAULT_PORTS.map(|p| (AllowedHost::Ip(ip), p)))
            .collect();
        Allowlist { entries }
    }

    /// Parses a comma list of `host:port` (`[v6]:port` for IPv6).
    pub fn parse(list: &str) -> Result<Allowlist, BadEntry> {
        let mut entries = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let req = crate::tunnel::connect::parse_authority(item)
                .map_err(|_| BadEntry(item.to_string()))?;
            let host = match req.host.parse::<IpAddr>() {
                Ok(ip) => AllowedHost::Ip(ip),
                Err(_) => AllowedHost::Name(req.host),
            };
            entries.push((host, req.port));
        }
        Ok(Allowlist { entries })
    }

    /// Whether `host:port` may be dialled; `Err` carries the one-line reason for the refusal.
    pub fn check(&self, host: &str, port: u16) -> Result<(), String> {
        let ip = host.parse::<IpAddr>().ok();
        let allowed = self.entries.iter().any(|(h, p)| {
            *p == port
                && match (h, ip) {
                    (AllowedHost::Ip(a), Some(b)) => *a == b,
                    (AllowedHost::Name(n), None) => n.eq_ignore_ascii_case(host),
                    _ => false,
                }
        });
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "{} is not in the agent's allowlist",
                join(host, port)
            ))
        }
    }

    /// The entries, for logs and metrics.
    pub fn entries(&self) -> &[(AllowedHost, u16)] {
        &self.entries
    }
}

/// `host:port`, bracketing IPv6 addresses.
pub fn join(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Where the agent dials for a request naming `host`: its own node name stands for its first node
/// IP (or 127.0.0.1 when it has none); anything else is dialled as given.
pub fn resolve_target(host: &str, node_name: &str, node_ips: &[IpAddr]) -> String {
    if host.eq_ignore_ascii_case(node_name) {
        node_ips
            .first()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "127.0.0.1".to_string())
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_allows_kubelet_ports_on_node_ips_and_loopback() {
        let a = Allowlist::default_for(&["10.0.0.5".parse().expect("test input is valid")]);
        assert!(a.check("10.0.0.5", 10250).is_ok());
        assert!(a.check("127.0.0.1", 10255).is_ok());
        assert!(a.check("10.0.0.5", 22).is_err());
        assert!(a.check("10.0.0.6", 10250).is_err());
        assert!(a.check("localhost", 10250).is_err());
    }

    #[test]
    fn parsed_entries() {
        let a = Allowlist::parse("127.0.0.1:8443, Kubelet.local:10250,[::1]:9")
            .expect("test input is valid");
        assert!(a.check("127.0.0.1", 8443).is_ok());
        assert!(a.check("kubelet.LOCAL", 10250).is_ok());
        assert!(a.check("0::1", 9).is_ok());
        let err = a.check("::1", 10).expect_err("test input is invalid");
        assert_eq!(err, "[::1]:10 is not in the agent's allowlist");
        assert!(Allowlist::parse("nope").is_err());
        assert!(Allowlist::parse("a:0").is_err());
    }

    #[test]
    fn node_name_means_first_node_ip() {
        let ips = ["10.0.0.5".parse().expect("test input is valid")];
        assert_eq!(resolve_target("Edge-1", "edge-1", &ips), "10.0.0.5");
        assert_eq!(resolve_target("edge-1", "edge-1", &[]), "127.0.0.1");
        assert_eq!(resolve_target("10.0.0.9", "edge-1", &ips), "10.0.0.9");
    }
}
