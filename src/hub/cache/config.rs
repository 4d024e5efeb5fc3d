//! Cache settings of the hub: which components are cached, where, and the store's sizes.
//!
//! Defaults (one place): agents [`DEFAULT_AGENTS`], store sizes from [`StoreConfig::default`],
//! GC request timeout [`super::gc::DEFAULT_TIMEOUT`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::{StoreConfig, SyncPolicy};

/// Coalescing window of `--cache-sync coalesce` when `--cache-sync-coalesce-ms` is not given.
pub const DEFAULT_COALESCE_MS: u64 = 50;

const MIB: u64 = 1024 * 1024;

/// The store settings a board config gives (`board-configs/<board>/board.toml`, `[hub]`), as
/// flags: `images/board-env` passes them, and they override `--cache-config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFlags {
    /// `--cache-block-cache-mib` (`block_cache_mib`).
    pub block_cache_mib: Option<u64>,
    /// `--cache-memtable-mib` (`memtable_mib`): memtables in total.
    pub memtable_mib: Option<u64>,
    /// `--cache-journal-mib` (`journal_mib`).
    pub journal_mib: Option<u64>,
    /// `--cache-sync` (`sync`): `each-batch` or `coalesce`.
    pub sync: Option<String>,
    /// `--cache-sync-coalesce-ms` (`sync_coalesce_ms`), only with `coalesce`.
    pub sync_coalesce_ms: Option<u64>,
}

impl StoreFlags {
    /// Applies the flags given to `store` (then call [`StoreConfig::validate`]).
    pub fn apply(&self, store: &mut StoreConfig) -> Result<(), String> {
        if let Some(m) = self.block_cache_mib {
            store.block_cache_bytes = m.saturating_mul(MIB);
        }
        if let Some(m) = self.memtable_mib {
            store.write_buffer_bytes = m.saturating_mul(MIB);
        }
        if let Some(m) = self.journal_mib {
            store.max_journal_bytes = m.saturating_mul(MIB);
        }
        let ms = self.sync_coalesce_ms;
        match (self.sync.as_deref(), ms) {
            (None, None) => {}
            (Some("each-batch"), None) => store.sync = SyncPolicy::EveryBatch,
            (Some("coalesce"), ms) => {
                store.sync = SyncPolicy::CoalesceMs(ms.unwrap_or(DEFAULT_COALESCE_MS))
            }
            (None, Some(ms)) if matches!(store.sync, SyncPolicy::CoalesceMs(_)) => {
                store.sync = SyncPolicy::CoalesceMs(ms)
            }
            (Some("each-batch") | None, Some(_)) => {
                return Err("--cache-sync-coalesce-ms needs --cache-sync coalesce".into())
            }
            (Some(other), _) => {
                return Err(format!("--cache-sync {other:?}: each-batch or coalesce"))
            }
        }
        Ok(())
    }
}

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
    /// `--cache-writer-lag-mib`: how far behind an answer its cache writer may fall (bytes)
    /// before the client is paced to it (default [`super::tee::TEE_BUDGET`]).
    pub writer_lag: usize,
}

impl CacheConfig {
    /// Default agents and sizes in `dir`.
    pub fn in_dir(dir: &Path) -> CacheConfig {
        CacheConfig {
            dir: dir.to_path_buf(),
            agents: Agents::default(),
            store: StoreConfig::default(),
            gc_timeout: super::gc::DEFAULT_TIMEOUT,
            writer_lag: super::tee::TEE_BUDGET,
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
                parse_store_config(&text)
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
            writer_lag: super::tee::TEE_BUDGET,
        })
    }
}

/// The `--cache-config` file's JSON, not yet validated. The error is one line: serde quotes
/// unknown field names as written, and those may hold line breaks (`"a\nb": 1`).
pub fn parse_store_config(json: &[u8]) -> Result<StoreConfig, String> {
    serde_json::from_slice(json).map_err(|e| crate::hub::config::one_line(&e.to_string()))
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
    fn board_flags_override_and_are_checked() {
        let mut s = StoreConfig::default();
        let f = StoreFlags {
            block_cache_mib: Some(4),
            memtable_mib: Some(2),
            journal_mib: Some(64),
            sync: Some("coalesce".into()),
            sync_coalesce_ms: Some(20),
        };
        f.apply(&mut s).expect("valid");
        assert_eq!(
            (s.block_cache_bytes, s.sync),
            (4 * MIB, SyncPolicy::CoalesceMs(20))
        );
        assert!(s.validate().is_ok());
        let bad = StoreFlags {
            sync: Some("sometimes".into()),
            ..StoreFlags::default()
        };
        assert!(bad.apply(&mut StoreConfig::default()).is_err());
        let lonely_ms = StoreFlags {
            sync_coalesce_ms: Some(5),
            ..StoreFlags::default()
        };
        assert!(lonely_ms.apply(&mut StoreConfig::default()).is_err());
        let mut small = StoreConfig::default();
        let j = StoreFlags {
            journal_mib: Some(24),
            ..StoreFlags::default()
        };
        j.apply(&mut small).expect("applies");
        assert!(
            small.validate().is_err(),
            "fjall needs a 64 MiB journal budget"
        );
    }

    #[test]
    fn config_errors_are_one_line() {
        // Found by the user_config fuzz target: the field name came back with its line break.
        let e = parse_store_config(b"{\"s\\n{\": 1}").expect_err("unknown field");
        assert!(e.starts_with("unknown field `s\\n{`"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn resolve_overrides_the_limit_and_validates() {
        let c = CacheConfig::resolve(Path::new("/x"), "*", None, Some(1000)).expect("valid");
        assert_eq!((c.store.max_cache_bytes, c.agents), (1000, Agents::All));
        assert!(CacheConfig::resolve(Path::new("/x"), "*", None, Some(0)).is_err());
    }
}
