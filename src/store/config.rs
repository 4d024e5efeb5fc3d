//! Cache configuration: every default in one documented place, sized for small boards.
//!
//! fjall's own defaults (32 MiB block cache, 64 MiB memtables, 512 MiB journal, one worker per
//! core up to 4) are for servers; a Raspberry Pi class board runs the hub in a few MiB.

use serde::{Deserialize, Serialize};

use super::StoreError;

const MIB: u64 = 1024 * 1024;

/// Block cache default: none. The cache's files sit in the OS page cache, which fjall's block cache
/// would copy into the hub's own memory: with 1 MiB it held 1 MiB of copies plus ~1 MiB of entry
/// slots (sized by fjall for 10,000 entries) and answered offline LISTs no faster (10,000 pods:
/// 24 ms p50 either way; docs/BENCHMARKS.md, hub cache). Boards with RAM to spare set one.
pub const DEFAULT_BLOCK_CACHE_BYTES: u64 = 0;
/// Memtables (write buffers) default: 1 MiB in total: two memtables of half that, one filling
/// while the other flushes; a LIST waits for the flush rather than growing past it.
pub const DEFAULT_WRITE_BUFFER_BYTES: u64 = MIB;
/// Journal cap default: 64 MiB, the smallest fjall 3 accepts. The journal is rotated whenever
/// memtables are flushed, so with 4 MiB of memtables it stays far below this in practice.
pub const DEFAULT_MAX_JOURNAL_BYTES: u64 = 64 * MIB;
/// Background flush/compaction threads default: 1.
pub const DEFAULT_WORKER_THREADS: usize = 1;
/// Size limit default: 256 MiB of stored object bytes.
pub const DEFAULT_MAX_CACHE_BYTES: u64 = 256 * MIB;
/// fjall refuses a journal cap below this (it panics), so `validate` does first.
pub const MIN_JOURNAL_BYTES: u64 = 64 * MIB;

/// When the journal is synced to the medium (fdatasync). Either way a committed LIST or event
/// batch is on the medium before the call returns (it "counts" only then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncPolicy {
    /// Each committed batch is synced on its own (the default; eMMC, NVMe, virtio). Bursts of
    /// watch events are still coalesced by the hub's writer into one batch.
    #[default]
    EveryBatch,
    /// Group commit: batches committed within this many milliseconds share one sync; each call
    /// waits for it. Fewer, larger writes on SD cards, whose syncs are slow and wear them; a
    /// write takes up to this long to return.
    CoalesceMs(u64),
}

/// Settings of the hub cache; parse with serde (unknown fields are errors), then `validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// fjall block cache, bytes (default [`DEFAULT_BLOCK_CACHE_BYTES`], none).
    pub block_cache_bytes: u64,
    /// Memtables in total, bytes (default [`DEFAULT_WRITE_BUFFER_BYTES`], 1 MiB; at least 1 MiB).
    pub write_buffer_bytes: u64,
    /// Journal cap, bytes (default and minimum [`DEFAULT_MAX_JOURNAL_BYTES`], 64 MiB).
    pub max_journal_bytes: u64,
    /// Background worker threads (default [`DEFAULT_WORKER_THREADS`], 1; 1 to 8).
    pub worker_threads: usize,
    /// Journal sync policy (default [`SyncPolicy::EveryBatch`]).
    pub sync: SyncPolicy,
    /// Size limit on stored object bytes (default [`DEFAULT_MAX_CACHE_BYTES`], 256 MiB). Past it,
    /// new views and growing writes are refused with [`StoreError::Full`].
    pub max_cache_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            block_cache_bytes: DEFAULT_BLOCK_CACHE_BYTES,
            write_buffer_bytes: DEFAULT_WRITE_BUFFER_BYTES,
            max_journal_bytes: DEFAULT_MAX_JOURNAL_BYTES,
            worker_threads: DEFAULT_WORKER_THREADS,
            sync: SyncPolicy::EveryBatch,
            max_cache_bytes: DEFAULT_MAX_CACHE_BYTES,
        }
    }
}

impl StoreConfig {
    /// Checks every value against what fjall accepts and what makes sense on a board.
    pub fn validate(&self) -> Result<(), StoreError> {
        let bad = |why: String| Err(StoreError::Config(why));
        if self.write_buffer_bytes < MIB {
            return bad(format!(
                "write_buffer_bytes {} < 1 MiB",
                self.write_buffer_bytes
            ));
        }
        if self.max_journal_bytes < MIN_JOURNAL_BYTES {
            return bad(format!(
                "max_journal_bytes {} < {MIN_JOURNAL_BYTES} (fjall's minimum)",
                self.max_journal_bytes
            ));
        }
        if !(1..=8).contains(&self.worker_threads) {
            return bad(format!(
                "worker_threads {} not in 1..=8",
                self.worker_threads
            ));
        }
        if let SyncPolicy::CoalesceMs(ms) = self.sync {
            if !(1..=1000).contains(&ms) {
                return bad(format!("sync coalesce_ms {ms} not in 1..=1000"));
            }
        }
        if self.max_cache_bytes == 0 {
            return bad("max_cache_bytes is 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_small() {
        let c = StoreConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.block_cache_bytes, 0);
        assert_eq!(c.worker_threads, 1);
    }

    #[test]
    fn parses_partial_and_rejects_unknown_fields() {
        let c: StoreConfig =
            serde_json::from_str(r#"{"sync":{"coalesce_ms":50},"max_cache_bytes":1000}"#)
                .expect("valid config");
        assert_eq!(c.sync, SyncPolicy::CoalesceMs(50));
        assert_eq!(c.max_cache_bytes, 1000);
        assert_eq!(c.write_buffer_bytes, DEFAULT_WRITE_BUFFER_BYTES);
        let e: StoreConfig = serde_json::from_str(r#"{"sync":"every_batch"}"#).expect("valid");
        assert_eq!(e.sync, SyncPolicy::EveryBatch);
        assert!(serde_json::from_str::<StoreConfig>(r#"{"block_cache":1}"#).is_err());
    }

    #[test]
    fn validate_refuses_what_fjall_would_panic_on() {
        let small_journal = StoreConfig {
            max_journal_bytes: 16 * MIB,
            ..StoreConfig::default()
        };
        assert!(matches!(
            small_journal.validate(),
            Err(StoreError::Config(_))
        ));
        let no_workers = StoreConfig {
            worker_threads: 0,
            ..StoreConfig::default()
        };
        assert!(matches!(no_workers.validate(), Err(StoreError::Config(_))));
        let zero_interval = StoreConfig {
            sync: SyncPolicy::CoalesceMs(0),
            ..StoreConfig::default()
        };
        assert!(matches!(
            zero_interval.validate(),
            Err(StoreError::Config(_))
        ));
    }
}
