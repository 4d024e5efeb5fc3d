//! Tests: non-resource URLs, every error class, and component() on real User-Agents.

use super::tests_resource::parsed;
use super::{component, parse, RequestError, Verb};

#[test]
fn non_resource_urls() {
    let paths = [
        "/",
        "/version",
        "/healthz",
        "/readyz",
        "/livez",
        "/livez/etcd",
        "/readyz?verbose",
        "/metrics",
        "/openapi/v2",
        "/openapi/v3/apis/apps/v1?hash=0123ABCD",
        "/.well-known/openid-configuration",
        "/openid/v1/jwks",
        "/api",
        "/api/",
        "/apis",
        "/api/v1",
        "/api/v1/",
        "/apis/apps",
        "/apis/apps/v1",
        "/apis/storage.k8s.io/v1/",
        "/logs/kube-apiserver.log",
        "/v1/healthz",
        "/version?timeoutSeconds=abc&limit=-1",
    ];
    for path in paths {
        let info = parsed(&format!("GET {path}"));
        assert!(!info.is_resource, "{path}");
        assert_eq!(info.verb, Verb::Get, "{path}");
        assert_eq!(info.resource, "", "{path}");
        assert_eq!(info.api_prefix, "", "{path}");
    }
    assert_eq!(parsed("GET /api/v1/").path, "/api/v1/");
    assert_eq!(parsed("GET /").path, "/");
}

#[test]
fn non_resource_verbs_come_from_the_method() {
    let cases = [
        ("HEAD", "get"),
        ("GET", "get"),
        ("POST", "create"),
        ("PUT", "update"),
        ("PATCH", "patch"),
        ("DELETE", "delete"),
    ];
    for (method, verb) in cases {
        let info = parsed(&format!("{method} /apis/apps/v1"));
        assert_eq!(
            (info.is_resource, info.verb_str()),
            (false, verb),
            "{method}"
        );
    }
}

fn error(method: &str, target: &str) -> RequestError {
    match parse(method, target) {
        Ok(info) => panic!("{method} {target} parsed: {info:?}"),
        Err(e) => e,
    }
}

#[test]
fn unknown_methods() {
    let methods = [
        "OPTIONS", "CONNECT", "TRACE", "get", "Get", "", "PROPFIND", "GET ", "GE\0T",
    ];
    for method in methods {
        let e = error(method, "/api/v1/pods");
        assert!(
            matches!(e, RequestError::UnknownMethod(_)),
            "{method:?}: {e:?}"
        );
        assert_eq!(e.http_status(), 405);
    }
    let long = "X".repeat(10_000);
    let shown = error(&long, "/").to_string();
    assert!(shown.len() < 200, "quoted input is cut: {shown}");
    assert!(shown.starts_with("HTTP method \"XXX"), "{shown}");
}

#[test]
fn bad_paths() {
    let targets = [
        "",
        "?watch=true",
        "api/v1/pods",
        "*",
        "http://10.0.0.1/api/v1/pods",
        "/api/v1/../pods",
        "/api/./v1/pods",
        "/..",
        "/api/v1/namespaces/a/pods/..",
        "/api/v1/%2e%2e/pods",
        "/api/v1/pods/%2E",
        "/api//v1/pods",
        "//api/v1/pods",
        "/api/v1/pods//",
        "/api/v1/pods\0",
        "/api/v1/p\tods",
        "/api/v1/p\u{7f}ods",
        "/api/v1/pöds",
        "/api/v1/po ds",
        "/api/v1/pods#x",
        "/api/v1/pods%00",
        "/api/v1/pods%0A",
        "/api/v1/pods%zz",
        "/api/v1/pods%4",
        "/api/v1/pods%",
        "/api/v1/pods/%C3%28",
        "/api/v1/namespaces/a%2Fb/pods",
        "/apis/apps%2Fv1/x/deployments",
        "/api/v1/pods/a%2Fb/status",
        "/api/v1/watch",
        "/apis/apps/v1/watch/",
        "/api/v1/proxy",
    ];
    for target in targets {
        let e = error("GET", target);
        assert!(matches!(e, RequestError::BadPath(_)), "{target:?}: {e:?}");
        assert_eq!(e.http_status(), 400);
        assert!(e.to_string().starts_with("bad request path: "), "{e}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
}

#[test]
fn bad_queries() {
    let queries = [
        "limit=abc",
        "limit=-1",
        "limit=",
        "limit=99999999999999999999999",
        "timeoutSeconds=1.5",
        "timeoutSeconds=",
        "timeoutSeconds=+30",
        "timeoutSeconds=30s",
        "labelSelector=%zz",
        "a=%",
        "%4=b",
        "a=%C3%28",
        "a=b;c=d",
        "a=b c",
        "a=\u{1}",
        "a=ü",
        "a=b#c",
        "labelSelector=a%00b",
        "fieldSelector=a%0D%0Ab",
        "resourceVersion=1%7F",
    ];
    for query in queries {
        let e = error("GET", &format!("/api/v1/pods?{query}"));
        assert!(matches!(e, RequestError::BadQuery(_)), "{query:?}: {e:?}");
        assert_eq!(e.http_status(), 400);
        assert!(e.to_string().starts_with("bad query string: "), "{e}");
    }
}

#[test]
fn errors_are_reported_method_then_path_then_query() {
    let e = error("BREW", "no-slash?limit=x");
    assert!(matches!(e, RequestError::UnknownMethod(_)));
    let e = error("GET", "/a/../b?limit=%");
    assert!(matches!(e, RequestError::BadPath(_)));
}

#[test]
fn error_messages_quote_and_escape_input() {
    let e = error("GET", "/api/v1/pods/%2e%2e");
    assert_eq!(
        e.to_string(),
        "bad request path: segment \"%2e%2e\" is a dot segment"
    );
    let e = error("GET", "/api/v1/pods?limit=1\u{1b}[31m");
    assert!(e.to_string().contains("\\u{1b}"), "{e}");
    let e = error("OPTIONS", "/");
    let want =
        "HTTP method \"OPTIONS\" is not supported (GET, HEAD, POST, PUT, PATCH and DELETE are)";
    assert_eq!(e.to_string(), want);
}

#[test]
fn components_from_real_user_agents() {
    let cases = [
        (
            Some("kubelet/v1.36.2 (linux/arm64) kubernetes/abcdef1"),
            "kubelet",
        ),
        (
            Some("CoreDNS/1.14.2 git_commit:x (linux/arm64/go1.24)"),
            "coredns",
        ),
        (
            Some("flanneld/v0.0.0 (linux/amd64) kubernetes/$Format"),
            "flanneld",
        ),
        (
            Some("kube-proxy/v1.35.1 (linux/arm64) kubernetes/0f1e2d3"),
            "kube-proxy",
        ),
        (
            Some("kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd"),
            "kubectl",
        ),
        (Some("Go-http-client/1.1"), "go-http-client"),
        (Some("  Kubelet /v1.36.2"), "kubelet"),
        (Some("curl"), "curl"),
        (Some("/v1"), ""),
        (Some("   "), ""),
        (Some(""), ""),
        (None, ""),
    ];
    for (ua, want) in cases {
        assert_eq!(component(ua), want, "{ua:?}");
    }
}
