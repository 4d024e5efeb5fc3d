//! Fuzz target: the CONNECT head decoder (`yurt::tunnel::connect::decode`), pending wiring into
//! `fuzz/` (copy to `fuzz/fuzz_targets/tunnel_connect.rs` and add a `[[bin]]` block; the module
//! needs no feature). Seeds: `CONNECT 10.0.0.5:10250 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` and
//! curl's head (`tests/tunnel_connect.rs` captures one).
//!
//! Beyond "no panic": a decoded head is reported with its exact length, decodes the same alone,
//! every shorter prefix of it asks for more bytes, and errors map to 400/405/431.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::tunnel::connect::{decode, MAX_HEAD};

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(Some((req, used))) => {
            assert!(used <= data.len() && used <= MAX_HEAD);
            assert!(data[..used].ends_with(b"\r\n\r\n"));
            assert!(req.port != 0 && !req.host.is_empty());
            assert_eq!(decode(&data[..used]), Ok(Some((req, used))));
            if used <= 1024 {
                for i in 0..used {
                    assert_eq!(decode(&data[..i]), Ok(None), "prefix {i}");
                }
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEAD),
        Err(e) => assert!(matches!(e.status().0, 400 | 405 | 431)),
    }
});
