//! Hub flags (OpenYurt's names) and the fully resolved configuration they produce.
//!
//! All defaults live here, each stated in its flag's doc. `HubArgs::resolve` validates and reads the
//! kubeconfig; any problem is one line for the user and exit 64.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use argh::FromArgs;

use super::kubeconfig::{Kubeconfig, KubeconfigError};

/// Node-local proxy (and cache) in front of kube-apiserver. Point kubelet's kubeconfig at
/// http://127.0.0.1:10261 and the hub forwards to a healthy apiserver, with its own identity.
#[derive(FromArgs, Debug)]
pub struct HubArgs {
    /// apiserver URLs, comma separated, https only (default: the kubeconfig's server)
    #[argh(option)]
    pub server_addr: Option<String>,
    /// this node's name (required)
    #[argh(option)]
    pub node_name: Option<String>,
    /// kubeconfig with the CA and the hub's client identity, e.g. /etc/kubernetes/kubelet.conf (required)
    #[argh(option)]
    pub kubeconfig: Option<PathBuf>,
    /// cache directory (default /etc/kubernetes/cache)
    #[argh(option, default = "PathBuf::from(\"/etc/kubernetes/cache\")")]
    pub disk_cache_path: PathBuf,
    /// address of the proxy listener (default 127.0.0.1)
    #[argh(option, default = "String::from(\"127.0.0.1\")")]
    pub bind_proxy_address: String,
    /// port of the proxy listener (default 10261)
    #[argh(option, default = "10261")]
    pub proxy_port: u16,
    /// address of the hub server: healthz, readyz, metrics (default 127.0.0.1)
    #[argh(option, default = "String::from(\"127.0.0.1\")")]
    pub bind_address: String,
    /// port of the hub server (default 10267)
    #[argh(option, default = "10267")]
    pub port: u16,
    /// how to pick among healthy servers: rr (round robin) or priority (first listed) (default rr)
    #[argh(option, default = "String::from(\"rr\")")]
    pub lb_mode: String,
    /// seconds between active health probes of each server (default 10)
    #[argh(option, default = "10")]
    pub heartbeat_interval_seconds: u64,
    /// timeout of one probe, in seconds (default 2)
    #[argh(option, default = "2")]
    pub heartbeat_timeout_seconds: u64,
    /// attempts within one probe before a server counts as failed (default 3)
    #[argh(option, default = "3")]
    pub heartbeat_failed_retry: u32,
    /// consecutive successful probes before a failed server is used again (default 2)
    #[argh(option, default = "2")]
    pub heartbeat_healthy_threshold: u32,
    /// components whose answers are cached, comma separated, `*` = all (default
    /// kubelet,kube-proxy,flanneld,coredns,yurthub,yurt-tunnel-agent)
    #[argh(option, default = "String::from(super::cache::config::DEFAULT_AGENTS)")]
    pub cache_agents: String,
    /// JSON file with cache store settings (block_cache_bytes, write_buffer_bytes,
    /// max_journal_bytes, worker_threads, sync: "every_batch" or {"coalesce_ms": N},
    /// max_cache_bytes); unset fields keep the defaults, the --cache-* flags below override it
    #[argh(option)]
    pub cache_config: Option<PathBuf>,
    /// size limit of cached object bytes (default 256 MiB)
    #[argh(option)]
    pub cache_max_bytes: Option<u64>,
    /// fjall block cache in MiB (default 0: the OS page cache serves; board configs:
    /// block_cache_mib)
    #[argh(option)]
    pub cache_block_cache_mib: Option<u64>,
    /// fjall memtables in MiB, in total (default 1; board configs: memtable_mib)
    #[argh(option)]
    pub cache_memtable_mib: Option<u64>,
    /// fjall journal budget in MiB, at least 64 (default 64; board configs: journal_mib)
    #[argh(option)]
    pub cache_journal_mib: Option<u64>,
    /// when cache writes reach the medium: each-batch (default: fsync every LIST and event
    /// batch) or coalesce (batches within --cache-sync-coalesce-ms share one fsync; each still
    /// waits for it)
    #[argh(option)]
    pub cache_sync: Option<String>,
    /// coalescing window of --cache-sync coalesce, 1 to 1000 ms (default 50)
    #[argh(option)]
    pub cache_sync_coalesce_ms: Option<u64>,
    /// how far, in MiB, the cache writer may fall behind an answer streaming to its client
    /// (default 1): within it the client is never slowed for the cache; past it the client is
    /// paced to the writer (a writer stalled 1 s loses that answer), which bounds the memory a
    /// disk slower than the network can take
    #[argh(option)]
    pub cache_writer_lag_mib: Option<u64>,
    /// seconds in-flight requests get to finish after SIGTERM (default 5)
    #[argh(option, default = "5")]
    pub shutdown_grace_seconds: u64,
}

/// Load-balancing among healthy servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbMode {
    RoundRobin,
    Priority,
}

/// One upstream apiserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// As given, e.g. `https://10.0.0.1:6443` (used in logs and metric labels).
    pub url: String,
    /// Host name or IP, without brackets.
    pub host: String,
    pub port: u16,
}

impl ServerAddr {
    /// `host:port` for connecting and for the Host header (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Health probing.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    pub interval: Duration,
    pub timeout: Duration,
    pub failed_retry: u32,
    pub healthy_threshold: u32,
}

/// Everything the hub needs, validated.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub servers: Vec<ServerAddr>,
    pub node_name: String,
    pub kubeconfig: Kubeconfig,
    pub cache_dir: PathBuf,
    pub proxy_addr: SocketAddr,
    pub server_addr: SocketAddr,
    pub lb_mode: LbMode,
    pub heartbeat: Heartbeat,
    pub shutdown_grace: Duration,
}

/// A configuration problem, shown to the user as one line.
#[derive(Debug)]
pub enum ConfigError {
    Invalid(String),
    Kubeconfig(KubeconfigError),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Invalid(s) => f.write_str(s),
            ConfigError::Kubeconfig(e) => write!(f, "--kubeconfig: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `s` with control characters (line breaks above all) escaped, for a one-line message.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn invalid(s: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(s.into())
}

impl HubArgs {
    /// Validates flags and loads the kubeconfig.
    pub fn resolve(&self) -> Result<HubConfig, ConfigError> {
        let node_name = self
            .node_name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid("--node-name is required"))?;
        let kc_path = self
            .kubeconfig
            .as_ref()
            .ok_or_else(|| invalid("--kubeconfig is required"))?;
        let kubeconfig = Kubeconfig::load(kc_path).map_err(ConfigError::Kubeconfig)?;
        let list = match &self.server_addr {
            Some(s) => s.clone(),
            None if !kubeconfig.server.is_empty() => kubeconfig.server.clone(),
            None => {
                return Err(invalid(
                    "--server-addr is required (the kubeconfig names no server)",
                ))
            }
        };
        let servers = parse_servers(&list)?;
        let lb_mode = match self.lb_mode.as_str() {
            "rr" => LbMode::RoundRobin,
            "priority" => LbMode::Priority,
            other => {
                return Err(invalid(format!(
                    "--lb-mode {other:?}: expected rr or priority"
                )))
            }
        };
        if self.heartbeat_interval_seconds == 0 || self.heartbeat_timeout_seconds == 0 {
            return Err(invalid(
                "--heartbeat-interval-seconds and --heartbeat-timeout-seconds must be at least 1",
            ));
        }
        if self.heartbeat_failed_retry == 0 || self.heartbeat_healthy_threshold == 0 {
            return Err(invalid(
                "--heartbeat-failed-retry and --heartbeat-healthy-threshold must be at least 1",
            ));
        }
        Ok(HubConfig {
            servers,
            node_name,
            kubeconfig,
            cache_dir: self.disk_cache_path.clone(),
            proxy_addr: socket_addr(
                "--bind-proxy-address",
                &self.bind_proxy_address,
                self.proxy_port,
            )?,
            server_addr: socket_addr("--bind-address", &self.bind_address, self.port)?,
            lb_mode,
            heartbeat: Heartbeat {
                interval: Duration::from_secs(self.heartbeat_interval_seconds),
                timeout: Duration::from_secs(self.heartbeat_timeout_seconds),
                failed_retry: self.heartbeat_failed_retry,
                healthy_threshold: self.heartbeat_healthy_threshold,
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
        })
    }
}

impl HubArgs {
    /// The cache section: `--disk-cache-path`, `--cache-agents`, `--cache-config`, `--cache-max-bytes`.
    pub fn resolve_cache(&self) -> Result<super::cache::CacheConfig, ConfigError> {
        let mut c = super::cache::CacheConfig::resolve(
            &self.disk_cache_path,
            &self.cache_agents,
            self.cache_config.as_deref(),
            self.cache_max_bytes,
        )
        .map_err(ConfigError::Invalid)?;
        let flags = super::cache::config::StoreFlags {
            block_cache_mib: self.cache_block_cache_mib,
            memtable_mib: self.cache_memtable_mib,
            journal_mib: self.cache_journal_mib,
            sync: self.cache_sync.clone(),
            sync_coalesce_ms: self.cache_sync_coalesce_ms,
        };
        flags.apply(&mut c.store).map_err(ConfigError::Invalid)?;
        if let Some(m) = self.cache_writer_lag_mib {
            if !(1..=1024).contains(&m) {
                return Err(invalid(format!("--cache-writer-lag-mib {m}: 1 to 1024")));
            }
            c.writer_lag = (m as usize) << 20;
        }
        c.store
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Ok(c)
    }
}

fn socket_addr(flag: &str, ip: &str, port: u16) -> Result<SocketAddr, ConfigError> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| invalid(format!("{flag} {ip:?}: not an IP address")))?;
    Ok(SocketAddr::new(ip, port))
}

/// Parses a comma list of `https://host[:port]` URLs (port 443 by default).
pub fn parse_servers(list: &str) -> Result<Vec<ServerAddr>, ConfigError> {
    let mut out = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let rest = raw.strip_prefix("https://").ok_or_else(|| {
            invalid(format!(
                "--server-addr {raw:?}: only https:// URLs are supported"
            ))
        })?;
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') || rest.is_empty() {
            return Err(invalid(format!(
                "--server-addr {raw:?}: expected https://host[:port]"
            )));
        }
        let (host, port) = split_host_port(rest)
            .ok_or_else(|| invalid(format!("--server-addr {raw:?}: bad host or port")))?;
        out.push(ServerAddr {
            url: raw.trim_end_matches('/').to_string(),
            host,
            port,
        });
    }
    if out.is_empty() {
        return Err(invalid("--server-addr: no server given"));
    }
    Ok(out)
}

/// `host[:port]` (port 443 by default), checked like a tunnel target: a name or address of
/// `[A-Za-z0-9.-_]`, an IPv6 address in brackets, a port of digits from 1 to 65535.
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let has_port = match s.strip_prefix('[') {
        Some(v6) => !v6.ends_with(']'),
        None => s.contains(':'),
    };
    let target = if has_port {
        s.to_string()
    } else {
        format!("{s}:443")
    };
    let r = crate::tunnel::connect::parse_authority(&target).ok()?;
    Some((r.host, r.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lists() {
        let s = parse_servers("https://a.example:6443, https://10.0.0.2,https://[fd00::1]:443/")
            .expect("valid");
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].host.as_str(), s[0].port), ("a.example", 6443));
        assert_eq!((s[1].host.as_str(), s[1].port), ("10.0.0.2", 443));
        assert_eq!(s[2].authority(), "[fd00::1]:443");
        for bad in [
            "http://a:1",
            "https://a:x",
            "https://a/path",
            "",
            "https://:1",
            "https://u@a",
            // Each was accepted before (seen writing the user_config fuzz target).
            "https://[]",
            "https://[not-v6]:443",
            "https://a:+5",
            "https://a:0",
            "https://a b:1",
            "https://a?x=1",
            "https://a#f",
        ] {
            let e = parse_servers(bad).expect_err(bad).to_string();
            assert!(e.starts_with("--server-addr"), "{bad}: {e}");
        }
    }
}
