//! Typed errors of the cache store: the caller branches on full vs invalid vs I/O vs corrupt.

use std::fmt;
use std::path::PathBuf;

/// Why a store operation failed.
///
/// `Display` is one line for humans; match on the variant to decide what to do.
#[non_exhaustive]
#[derive(Debug)]
pub enum StoreError {
    /// The size limit (`max_cache_bytes`) would be crossed: the new view or objects were refused
    /// and the view still holds its last complete state.
    Full {
        /// Bytes of objects stored now.
        used: u64,
        /// What the refused write would have added.
        adding: u64,
        /// The configured limit.
        limit: u64,
    },
    /// Input the store cannot take (e.g. a key longer than the engine allows); nothing was written.
    Invalid(String),
    /// A configuration value out of range.
    Config(String),
    /// Preparing the cache directory or its permissions failed.
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Stored bytes that do not decode: the cache was written by something else or damaged.
    Corrupt(String),
    /// Another LIST of the same view is being written; this one is not cached.
    Busy,
    /// The storage engine failed (I/O, journal recovery, lock held by another process, ...).
    Engine(fjall::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Full {
                used,
                adding,
                limit,
            } => write!(
                f,
                "cache full: {used} bytes stored, {adding} more would pass the limit of {limit} bytes"
            ),
            StoreError::Invalid(why) => write!(f, "cannot store this: {why}"),
            StoreError::Config(why) => write!(f, "invalid cache configuration: {why}"),
            StoreError::Io { path, source } => {
                write!(f, "cache directory {}: {source}", path.display())
            }
            StoreError::Corrupt(why) => write!(f, "cache is corrupt: {why}"),
            StoreError::Busy => f.write_str("another LIST of this view is being cached"),
            StoreError::Engine(e) => write!(f, "cache storage engine: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::Engine(e) => Some(e),
            _ => None,
        }
    }
}

impl From<fjall::Error> for StoreError {
    fn from(e: fjall::Error) -> Self {
        StoreError::Engine(e)
    }
}
