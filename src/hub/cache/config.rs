//! Cache settings of the hub: which components are cached, where, and the store's sizes.
//!
//! Defaults (one place): agents [`DEFAULT_AGENTS`], store sizes from [`StoreConfig::default`],
//! GC request timeout [`super::gc::DEFAULT_TIMEOUT`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::StoreConfig;

/// Components cached unless `--cache-agents` says otherwise (OpenYurt's list).
pub const DEFAULT_AGENTS: &str = "kubelet,kube-proxy,flanneld,coredns,yurthub,yurt-tunnel-agent";

/// Which components' answers are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agents {
    /// `*`: every component with a User-Agent.
    All,
    /// These components (lower-case, as `request_info::component` spells them).
    Only(Vec<String>),
}

impl Agents {
    /// Parses a comma list; `*` anywhere means all.
    pub fn parse(list: &str) -> Agents {
        let names: Vec<String> = list
            .split(',')
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if names.iter().any(|n| n == "*") {
            Agents::All
        } else {
            Agents::Only(names)
        }
    }

    /// Whether `component` is cached (never the empty component).
    pub fn includes(&self, component: &str) -> bool {
        !component.is_empty()
            && match self {
                Agents::All => true,
                Agents::Only(names) => names.iter().any(|n| n == component),
            }
    }
}

impl Default for Agents {
    fn default() -> Self {
        Agents::parse(DEFAULT_AGENTS)
    }
}

/// The hub's cache section, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// `--disk-cache-path`: the fjall directory.
    pub dir: PathBuf,
    /// `--cache-agents`.
    pub agents: Agents,
    /// Store sizes (`--cache-config FILE` and `--cache-max-bytes` override the defaults).
    pub store: StoreConfig,
    /// How long one request of the GC at start may take (default 30 s).
    pub gc_timeout: Duration,
}

impl CacheConfig {
    /// Default agents and sizes in `dir`.
    pub fn in_dir(dir: &Path) -> CacheConfig {
        CacheConfig {
            dir: dir.to_path_buf(),
            agents: Agents::default(),
            store: StoreConfig::default(),
            gc_timeout: super::gc::DEFAULT_TIMEOUT,
        }
    }

    /// Resolves flags: `agents` list, optional JSON store config file, optional size limit.
    pub fn resolve(
        dir: &Path,
        agents: &str,
        file: Option<&Path>,
        max_bytes: Option<u64>,
    ) -> Result<CacheConfig, String> {
        let mut store = match file {
            Some(f) => {
                let text =
                    std::fs::read(f).map_err(|e| format!("--cache-config {}: {e}", f.display()))?;
                serde_json::from_slice::<StoreConfig>(&text)
                    .map_err(|e| format!("--cache-config {}: {e}", f.display()))?
            }
            None => StoreConfig::default(),
        };
        if let Some(m) = max_bytes {
            store.max_cache_bytes = m;
        }
        store.validate().map_err(|e| e.to_string())?;
        Ok(CacheConfig {
            dir: dir.to_path_buf(),
            agents: Agents::parse(agents),
            store,
            gc_timeout: super::gc::DEFAULT_TIMEOUT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents() {
        let d = Agents::default();
        assert!(d.includes("kubelet") && d.includes("coredns"));
        assert!(!d.includes("kubectl") && !d.includes(""));
        assert!(Agents::parse("a, *").includes("kubectl"));
        assert!(Agents::parse("Kubectl").includes("kubectl"));
    }

    #[test]
    fn resolve_overrides_the_limit_and_validates() {
        let c = CacheConfig::resolve(Path::new("/x"), "*", None, Some(1000)).expect("valid");
        assert_eq!((c.store.max_cache_bytes, c.agents), (1000, Agents::All));
        assert!(CacheConfig::resolve(Path::new("/x"), "*", None, Some(0)).is_err());
    }
}
