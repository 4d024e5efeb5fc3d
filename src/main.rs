//! The multicall `yurt` binary: `yurt <subcommand>`, or run through a link named after a component
//! (`yurthub` behaves as `yurt hub`).

/// See the `mimalloc` feature in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "mimalloc")]
mod mimalloc_tuning;

fn main() {
    #[cfg(feature = "mimalloc")]
    mimalloc_tuning::purge_at_once();
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(yurt::cli::main(args));
}
