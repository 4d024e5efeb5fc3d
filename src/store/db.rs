//! The store handle: one fjall database with one keyspace, opened small and private.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fjall::compaction::Leveled;
use fjall::{
    Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, OwnedWriteBatch, PersistMode,
};

use super::key::{format_key, meta_key};
use super::list::Active;
use super::sync::Syncer;
use super::{perms, StoreConfig, StoreError, SyncPolicy, ViewMeta};

/// The hub cache on disk: views and their objects, written atomically, read from snapshots.
///
/// All methods take `&self`; writes are serialised inside (each is a read-check-write of one
/// view), reads never wait for writes. Share it with `Arc`.
pub struct Store {
    pub(super) db: Database,
    /// The one keyspace: `v` + view key → [`ViewMeta`]; `o` + view key + namespace + name →
    /// resourceVersion + object bytes (`key.rs`).
    pub(super) tree: Keyspace,
    pub(super) writer: Mutex<Writer>,
    pub(super) limit: u64,
    /// Unflushed bytes a LIST may leave in memtables before it waits for a flush.
    write_buffer: u64,
    durability: PersistMode,
    // Declared last: dropped after the keyspaces, so its final sync sees every write.
    syncer: Option<Syncer>,
    dir: PathBuf,
}

/// State of the single writer.
pub(super) struct Writer {
    /// Sum of [`ViewMeta::bytes`] over all views.
    pub used: u64,
    /// Whether the "cache full" line was logged since the store last had room.
    pub full_logged: bool,
    /// Views whose watch events were refused for lack of room: later events would build on a
    /// state the store never held, so they are refused until the next full snapshot.
    pub refused: HashSet<Vec<u8>>,
    /// Views with a LIST being written (`list.rs`), by view key.
    pub active: HashMap<Vec<u8>, Active>,
}

/// Layout of keys and values this build reads and writes (`key.rs`, `codec.rs`). A cache written
/// in another layout is emptied at open: it is a cache, the cloud fills it again.
const STORE_FORMAT: &[u8] = b"yurt-cache-2";

/// Size of the tables compaction writes (fjall: 64 MiB). A compaction keeps the blocks of the
/// table it is writing in memory, so small tables keep it small; a hub cache is tens of MiB.
const TABLE_TARGET_BYTES: u64 = 2 * 1024 * 1024;
/// Objects from this size on (a pod is 2–8 KiB of JSON) are kept in blob files, written once at
/// flush; compaction then rewrites only keys and pointers. Without it, each update of a 2 KiB
/// object in a 10,000-object view cost 7x its size in writes (measured: bench/cache.sh).
const SEPARATE_FROM_BYTES: u32 = 1024;
/// Blob file size: small files are collected more precisely.
const BLOB_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// A blob file half stale is rewritten: at most about twice the objects' size on disk, and each
/// byte of garbage costs about one byte of rewrite.
const BLOB_STALENESS: f32 = 0.5;

impl Store {
    /// Opens (or creates) the cache in `dir`: the directory becomes 0700 and its files 0600.
    ///
    /// Fails with [`StoreError::Engine`] if another process holds the cache open.
    pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Store, StoreError> {
        cfg.validate()?;
        perms::restrict_umask();
        perms::create_private_dir(dir)?;
        let db = Database::builder(dir)
            .cache_size(cfg.block_cache_bytes)
            .max_journaling_size(cfg.max_journal_bytes)
            .worker_threads(cfg.worker_threads)
            .open()?;
        // One memtable fills while the other flushes. fjall keeps the size a keyspace was created
        // with; `wait_for_flushes` holds the configured total whatever it was.
        let memtable = cfg.write_buffer_bytes / 2;
        let tree = db.keyspace("cache", || {
            KeyspaceCreateOptions::default()
                .max_memtable_size(memtable)
                .compaction_strategy(Arc::new(
                    Leveled::default().with_table_target_size(TABLE_TARGET_BYTES),
                ))
                .with_kv_separation(Some(
                    KvSeparationOptions::default()
                        .separation_threshold(SEPARATE_FROM_BYTES)
                        .file_target_size(BLOB_FILE_BYTES)
                        .staleness_threshold(BLOB_STALENESS),
                ))
        })?;
        check_format(&tree)?;
        perms::make_private(dir)?;
        let (durability, syncer) = match cfg.sync {
            SyncPolicy::EveryBatch => (PersistMode::SyncData, None),
            SyncPolicy::CoalesceMs(ms) => {
                let syncer =
                    Syncer::start(db.clone(), Duration::from_millis(ms)).map_err(|source| {
                        StoreError::Io {
                            path: dir.to_path_buf(),
                            source,
                        }
                    })?;
                (PersistMode::Buffer, Some(syncer))
            }
        };
        let used = total_bytes(&tree)?;
        Ok(Store {
            db,
            tree,
            writer: Mutex::new(Writer {
                used,
                full_logged: false,
                refused: HashSet::new(),
                active: HashMap::new(),
            }),
            limit: cfg.max_cache_bytes,
            write_buffer: cfg.write_buffer_bytes,
            durability,
            syncer,
            dir: dir.to_path_buf(),
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of stored objects (what `max_cache_bytes` limits).
    pub fn used_bytes(&self) -> u64 {
        self.lock().used
    }

    /// Bytes the cache takes on disk now (journal and tables; lags behind writes until flushed).
    pub fn disk_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.db.disk_space()?)
    }

    /// Syncs the journal now, whatever the policy.
    pub fn sync(&self) -> Result<(), StoreError> {
        Ok(self.db.persist(PersistMode::SyncData)?)
    }

    /// The writer lock. A panic while holding it leaves only counters behind, which stay usable.
    pub(super) fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A batch that is journaled (and synced, per policy) when committed.
    pub(super) fn batch(&self) -> OwnedWriteBatch {
        self.db.batch().durability(Some(self.durability))
    }

    /// A batch for a chunk of a LIST: handed to the OS, synced with the LIST's final batch.
    pub(super) fn chunk_batch(&self) -> OwnedWriteBatch {
        self.db.batch().durability(Some(PersistMode::Buffer))
    }

    /// Holds a LIST's writer while unflushed writes exceed the write buffer: memtables are what a
    /// big LIST costs in RAM, and fjall would let four full ones queue for its flush thread.
    /// Starts a flush itself when nothing is flushing (the keyspace's memtable size is fixed at
    /// creation and may be larger than the configured buffer). Gives up waiting after 10 s.
    pub(super) fn wait_for_flushes(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.db.write_buffer_size() > self.write_buffer && Instant::now() < deadline {
            if self.tree.sealed_memtable_count() == 0 {
                self.tree.rotate_memtable()?;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Commits `batch` and returns once it is on the medium: synced with it (every batch), or
    /// by the sync thread together with the other batches of the window (coalesce). Files the
    /// engine creates are private through the umask set at open.
    pub(super) fn commit(&self, batch: OwnedWriteBatch) -> Result<(), StoreError> {
        batch.commit()?;
        match &self.syncer {
            Some(s) if !s.wait_durable() => Err(StoreError::Io {
                path: self.dir.clone(),
                source: std::io::Error::other("syncing the journal failed"),
            }),
            _ => Ok(()),
        }
    }

    /// Commits a chunk of a LIST (or cleanup nobody waits for): handed to the OS only; the
    /// LIST's final batch syncs the journal, chunks included.
    pub(super) fn commit_chunk(&self, batch: OwnedWriteBatch) -> Result<(), StoreError> {
        Ok(batch.commit()?)
    }
}

/// Empties a cache written in another layout, then records this one.
fn check_format(tree: &Keyspace) -> Result<(), StoreError> {
    let format = tree.get(format_key())?;
    if format.as_deref() == Some(STORE_FORMAT) {
        return Ok(());
    }
    if tree.first_key_value().is_some() {
        log::warn!(
            "cache: stored in another layout ({:?}); starting empty",
            format.map(|f| String::from_utf8_lossy(&f).into_owned())
        );
        let keys: Result<Vec<_>, _> = tree.iter().map(|g| g.key()).collect();
        for k in keys? {
            tree.remove(k)?;
        }
    }
    tree.insert(format_key(), STORE_FORMAT)?;
    Ok(())
}

/// Sum of stored object bytes over all views (read once at open).
fn total_bytes(tree: &Keyspace) -> Result<u64, StoreError> {
    let mut sum = 0u64;
    for guard in tree.prefix(meta_key(&[])) {
        let (_, value) = guard.into_inner()?;
        sum = sum.saturating_add(ViewMeta::decode(&value)?.bytes);
    }
    Ok(sum)
}

/// Now, in unix seconds (0 if the clock is before 1970).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
