//! Fuzz target: k8s::request_info::parse() and component() on arbitrary bytes.
//!
//! Input: `METHOD SP target [LF user-agent]`, the shape of an HTTP request's first line and a
//! header, so seeds stay readable. Bytes that are not UTF-8 are replaced (parse takes `&str`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::request_info::{component, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (line, user_agent) = match text.split_once('\n') {
        Some((line, ua)) => (line, Some(ua)),
        None => (&*text, None),
    };
    let (method, target) = line.split_once(' ').unwrap_or((line, "/"));
    match parse(method, target) {
        Ok(info) => {
            if let Err(broken) = info.check_invariants() {
                panic!("{method:?} {target:?}: {broken}: {info:?}");
            }
            assert_eq!(Ok(info), parse(method, target), "parse is deterministic");
        }
        Err(e) => {
            let status = e.http_status();
            assert!(status == 400 || status == 405);
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }
    let comp = component(user_agent);
    assert!(!comp.contains('/'), "{comp:?}");
});
