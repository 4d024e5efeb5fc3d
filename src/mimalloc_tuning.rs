//! mimalloc's settings for the binaries that make it the process allocator (feature `mimalloc`);
//! a module of each binary (`src/main.rs`, `src/bin/yurthub.rs`): the library forbids `unsafe`.
//!
//! mimalloc returns freed memory to the OS only after `purge_delay` ms (1,000), and only when the
//! thread next calls into it: an idle hub kept ~5 MiB of freed pages resident after a LIST of
//! 1,000 pods (RssAnon 9-11 MiB against 5.6-5.8 MiB purging at once, measured on this build).

use std::os::raw::{c_int, c_long};

extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
    #[cfg_attr(not(test), allow(dead_code))]
    fn mi_option_get(option: c_int) -> c_long;
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys 0.1.49, pinned
/// in Cargo.lock); the test below checks it is the option whose default is 1,000 ms.
const PURGE_DELAY: c_int = 15;

/// Makes mimalloc return freed pages to the OS as soon as it can. Call first thing in `main`.
pub fn purge_at_once() {
    // SAFETY: plain C calls on mimalloc's option table, valid at any time.
    unsafe { mi_option_set(PURGE_DELAY, 0) }
}

#[cfg(test)]
pub fn purge_delay() -> c_long {
    // SAFETY: as above.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        assert_eq!(super::purge_delay(), 1000, "mimalloc v3's default");
        super::purge_at_once();
        assert_eq!(super::purge_delay(), 0);
    }
}
