//! Fuzz property: configuration text from users. The first line names the parser (`kubeconfig`,
//! `servers`, `allowlist`, `cache-config`, `time`; anything else: the first byte picks), the
//! rest is its input. Each refuses with a one-line message or returns a value that keeps the
//! documented invariants and reads back the same from its own canonical form.

use std::net::IpAddr;
use std::path::Path;

use base64::Engine;

use crate::hub::cache::config::parse_store_config;
use crate::hub::config::parse_servers;
use crate::hub::kubeconfig::{Credential, Kubeconfig};
use crate::k8s::time::{parse_rfc3339, rfc3339};
use crate::store::StoreConfig;
use crate::tunnel::allow::{join, AllowedHost, Allowlist};

/// Checks the property on `data`; panics on a violation.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
    match head {
        "kubeconfig" => kubeconfig(body),
        "servers" => servers(body),
        "allowlist" => allowlist(body),
        "cache-config" => cache_config(body.as_bytes()),
        "time" => time(body, data),
        _ => match data.first().map_or(0, |b| b % 5) {
            0 => kubeconfig(&text),
            1 => servers(&text),
            2 => allowlist(&text),
            3 => cache_config(data),
            _ => time(&text, data),
        },
    }
}

fn one_line(e: &dyn std::fmt::Display) {
    let m = e.to_string();
    assert!(!m.is_empty() && !m.contains('\n'), "error message {m:?}");
}

fn servers(list: &str) {
    let servers = match parse_servers(list) {
        Ok(s) => s,
        Err(e) => {
            one_line(&e);
            return assert!(e.to_string().starts_with("--server-addr"), "{e}");
        }
    };
    assert!(!servers.is_empty());
    for s in &servers {
        assert!(s.url.starts_with("https://") && s.port != 0, "{s:?}");
        let name = |c: char| c.is_ascii_alphanumeric() || ".-_".contains(c);
        let host_ok = match s.host.parse::<IpAddr>() {
            Ok(ip) => ip.is_ipv6() == s.host.contains(':'),
            Err(_) => !s.host.is_empty() && s.host.chars().all(name),
        };
        assert!(host_ok, "{s:?}");
        assert_eq!(
            parse_servers(&s.url).ok().as_deref(),
            Some(std::slice::from_ref(s))
        );
        let again = parse_servers(&format!("https://{}", s.authority())).expect("authority");
        assert_eq!((&again[0].host, again[0].port), (&s.host, s.port));
    }
}

fn allowlist(list: &str) {
    let a = match Allowlist::parse(list) {
        Ok(a) => a,
        Err(e) => return one_line(&e),
    };
    for (host, port) in a.entries() {
        let host = match host {
            AllowedHost::Ip(ip) => ip.to_string(),
            AllowedHost::Name(n) => n.clone(),
        };
        assert!(*port != 0);
        assert!(a.check(&host, *port).is_ok(), "{host}:{port}");
        assert!(a.check(&host.to_ascii_uppercase(), *port).is_ok());
        let one = Allowlist::parse(&join(&host, *port)).expect("an entry reads back");
        assert_eq!(one.entries().len(), 1);
        assert!(a.entries().contains(&one.entries()[0]));
    }
}

fn cache_config(json: &[u8]) {
    // What `--cache-config FILE` does with the file (`CacheConfig::resolve`).
    let c = match parse_store_config(json) {
        Ok(c) => c,
        Err(e) => return one_line(&e),
    };
    if let Err(e) = c.validate() {
        return one_line(&e);
    }
    assert!(c.write_buffer_bytes >= 1 << 20 && c.max_journal_bytes >= 64 << 20);
    assert!((1..=8).contains(&c.worker_threads) && c.max_cache_bytes > 0);
    if let crate::store::SyncPolicy::CoalesceMs(ms) = c.sync {
        assert!((1..=1000).contains(&ms));
    }
    let again: StoreConfig =
        serde_json::from_slice(&serde_json::to_vec(&c).expect("json")).expect("reads back");
    assert_eq!(again, c);
}

fn time(t: &str, data: &[u8]) {
    if let Some(secs) = parse_rfc3339(t) {
        assert_eq!(rfc3339(secs), format!("{}Z", &t[..19]), "{t:?}");
    }
    // Any second of years 0000 to 9999 prints and reads back.
    let mut n = [0u8; 8];
    for (i, b) in data.iter().take(8).enumerate() {
        n[i] = *b;
    }
    let (first, last) = (-62_167_219_200i64, 253_402_300_799i64);
    let secs = first + i64::from_be_bytes(n).rem_euclid(last - first + 1);
    assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs), "{secs}");
}

/// A YAML double-quoted scalar holding exactly `s`.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

fn kubeconfig(text: &str) {
    // Files it names are read: keep to relative paths (under a directory that does not exist)
    // and ordinary absolute ones, never a device that blocks or never ends.
    if ["/dev", "/proc", "/sys"].iter().any(|d| text.contains(d)) {
        return;
    }
    let path = Path::new("/nonexistent-yurt-fuzz/kubelet.conf");
    let kc = match Kubeconfig::parse(text, path) {
        Ok(kc) => kc,
        Err(e) => return one_line(&e),
    };
    let shown = format!("{:?}", kc.credential);
    assert!(["ClientCert(<redacted>)", "Token(<redacted>)", "None"].contains(&shown.as_str()));
    let b64 = |b: &[u8]| quoted(&base64::engine::general_purpose::STANDARD.encode(b));
    let user = match &kc.credential {
        Credential::ClientCert { cert_pem, key_pem } => format!(
            "client-certificate-data: {}\n    client-key-data: {}",
            b64(cert_pem),
            b64(key_pem)
        ),
        Credential::Token(t) => format!("token: {}", quoted(t)),
        Credential::None => "{}".into(),
    };
    let canonical = format!(
        "clusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    {user}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n",
        quoted(&kc.server),
        b64(&kc.ca_pem),
    );
    let again = Kubeconfig::parse(&canonical, path).expect("the canonical form reads back");
    assert_eq!((&again.server, &again.ca_pem), (&kc.server, &kc.ca_pem));
    let same = match (&again.credential, &kc.credential) {
        (
            Credential::ClientCert { cert_pem, key_pem },
            Credential::ClientCert {
                cert_pem: c,
                key_pem: k,
            },
        ) => cert_pem == c && key_pem == k,
        (Credential::Token(a), Credential::Token(b)) => a == b,
        (Credential::None, Credential::None) => true,
        _ => false,
    };
    assert!(same, "{:?} != {:?}", again.credential, kc.credential);
}
