//! The `yurthub` binary: `yurt hub` (and `yurt hub cache`) alone. The multicall `yurt` binary
//! carries every component; a node that runs only the hub maps fewer code pages with this one.

/// See the `mimalloc` feature in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "mimalloc")]
#[path = "../mimalloc_tuning.rs"]
mod mimalloc_tuning;

fn main() {
    #[cfg(feature = "mimalloc")]
    mimalloc_tuning::purge_at_once();
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(yurt::cli::hub_main(args));
}
