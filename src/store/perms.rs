//! Private files: the cache directory is 0700 and every file in it 0600, whatever the umask.
//!
//! fjall creates files with the process umask, from its background worker at any time. So the
//! store sets the process umask to 077 at open (the hub creates no files others should read) and
//! tightens what an earlier run left behind once, at open; no walk of the tree after writes.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use super::StoreError;

/// Mode of the cache directory and its subdirectories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every cache file.
pub const FILE_MODE: u32 = 0o600;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes every file this process creates from now on owner-only (umask 077), so files the engine
/// creates later are 0600 from birth.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates `dir` (and missing parents) and makes it 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io_err(dir))?;
    set_mode(dir, DIR_MODE)
}

/// Sets 0700 on every directory and 0600 on every file under `dir` (symlinks are left alone).
pub fn make_private(dir: &Path) -> Result<(), StoreError> {
    let mode = fs::metadata(dir).map_err(io_err(dir))?.permissions().mode();
    if mode & 0o777 != DIR_MODE {
        set_mode(dir, DIR_MODE)?;
    }
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let Ok(meta) = entry.metadata() else {
            continue; // removed by the engine meanwhile
        };
        if meta.is_dir() {
            make_private(&path)?;
        } else if meta.is_file() && meta.permissions().mode() & 0o777 != FILE_MODE {
            set_mode(&path, FILE_MODE)?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    match fs::set_permissions(path, fs::Permissions::from_mode(mode)) {
        // A file the engine removed between listing and chmod is no longer our concern.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(io_err(path)),
    }
}
