//! The properties the fuzz targets in `fuzz/` check, one `check(&[u8])` per target that panics
//! when a decoder of untrusted input breaks its contract. Built only for tests and for the fuzz
//! crate (feature `fuzzing`), never into a shipped binary; not an API.

pub mod selector_filter;
pub mod selector_reference;
pub mod store_records;
pub mod table;
pub mod user_config;

#[cfg(test)]
mod tests_smoke;
