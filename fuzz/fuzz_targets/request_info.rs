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
            assert_eq!(Ok(&info), parse(method, target).as_ref(), "parse is deterministic");
            let encoded = encode_path_letters(target);
            assert_eq!(Ok(&info), parse(method, &encoded).as_ref(), "{encoded:?}");
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

/// The same target with every letter and digit of its path (outside `%XX` escapes) written as
/// `%XX`: it must parse to the same RequestInfo, since paths are compared decoded.
fn encode_path_letters(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut out = String::new();
    let mut escape_left = 0u8;
    for c in path.chars() {
        if c == '%' {
            escape_left = 2;
            out.push(c);
        } else if escape_left > 0 || !c.is_ascii_alphanumeric() {
            escape_left = escape_left.saturating_sub(1);
            out.push(c);
        } else {
            out.push_str(&format!("%{:02X}", c as u32));
        }
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
