//! `yurt hub cache ls --disk-cache-path DIR`: the cached views, read from the cache directory
//! (the hub must not be running on it: the store is opened exclusively).

use std::path::PathBuf;

use argh::FromArgs;

use super::inspect::{rows, ViewRow};
use crate::cli::{EXIT_FAILURE, EXIT_USAGE};
use crate::store::{Store, StoreConfig};

/// Inspect the hub cache offline. Actions: ls (one line per cached view).
#[derive(FromArgs, Debug)]
pub struct CacheArgs {
    /// what to do: ls
    #[argh(positional)]
    pub action: String,
    /// cache directory (default /etc/kubernetes/cache)
    #[argh(option, default = "PathBuf::from(\"/etc/kubernetes/cache\")")]
    pub disk_cache_path: PathBuf,
}

/// Runs `yurt hub cache <action>`.
pub fn main(args: CacheArgs) -> i32 {
    if args.action != "ls" {
        eprintln!("yurt hub cache: unknown action {:?}; try ls", args.action);
        return EXIT_USAGE;
    }
    if !args.disk_cache_path.is_dir() {
        eprintln!(
            "yurt hub cache: {} is not a cache directory",
            args.disk_cache_path.display()
        );
        return EXIT_FAILURE;
    }
    let listed = Store::open(&args.disk_cache_path, &StoreConfig::default()).and_then(|s| rows(&s));
    match listed {
        Ok(rows) => {
            print!("{}", table(&rows));
            0
        }
        Err(e) => {
            eprintln!("yurt hub cache: {}: {e}", args.disk_cache_path.display());
            EXIT_FAILURE
        }
    }
}

/// Tab-separated, one header line then one line per view.
pub fn table(rows: &[ViewRow]) -> String {
    let mut out = String::from(
        "COMPONENT\tRESOURCE\tNAMESPACE\tNAME\tLABELS\tFIELDS\tITEMS\tRV\tENCODING\tBYTES\n",
    );
    for r in rows {
        let gvr = if r.group.is_empty() {
            format!("{}/{}", r.version, r.resource)
        } else {
            format!("{}/{}/{}", r.group, r.version, r.resource)
        };
        out.push_str(&format!(
            "{}\t{gvr}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.component.escape_debug(),
            r.namespace.escape_debug(),
            r.name.escape_debug(),
            r.label_selector.escape_debug(),
            r.field_selector.escape_debug(),
            r.items,
            r.resource_version,
            r.encoding,
            r.bytes
        ));
    }
    out
}
