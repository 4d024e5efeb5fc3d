//! URL paths: which endpoint or resource (namespace, name, subresource) a request path names, and
//! query-string decoding.

use super::resources;

/// A resource path: `/api/v1[/watch][/namespaces/<ns>]/<resource>[/<name>[/<sub>]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResPath {
    /// Index into the resource table.
    pub res: usize,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    /// The deprecated `/watch/` prefix was used.
    pub watch_prefix: bool,
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/readyz`, `/livez` and their sub-checks.
    Health,
    /// `/api`
    ApiRoot,
    /// `/apis`
    ApisRoot,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion(String, String),
    Resource(ResPath),
    /// Anything else (including resources the double does not serve).
    Unknown,
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').skip(1).collect()
}

/// Routes a request path (no query string).
pub fn route(path: &str) -> Route {
    let segs = segments(path);
    if segs.iter().any(|s| s.is_empty()) {
        return Route::Unknown;
    }
    match segs.as_slice() {
        ["version"] => Route::Version,
        [h, ..] if matches!(*h, "healthz" | "readyz" | "livez") => Route::Health,
        ["api"] => Route::ApiRoot,
        ["apis"] => Route::ApisRoot,
        ["api", "v1"] => Route::GroupVersion(String::new(), "v1".into()),
        ["apis", g] if resources::groups().contains(g) => Route::Group(g.to_string()),
        ["apis", g, "v1"] if resources::groups().contains(g) => {
            Route::GroupVersion(g.to_string(), "v1".into())
        }
        ["api", "v1", rest @ ..] => resource_path("", "v1", rest),
        ["apis", g, v, rest @ ..] if !g.is_empty() => resource_path(g, v, rest),
        _ => Route::Unknown,
    }
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Route {
    let (watch_prefix, rest) = match rest {
        ["watch", more @ ..] => (true, more),
        _ => (false, rest),
    };
    // As kube-apiserver's RequestInfo: `namespaces/<ns>/<x>` is a namespaced resource unless <x>
    // is a namespace subresource.
    let (namespace, rest): (Option<&str>, &[&str]) = match rest {
        ["namespaces", ns, x, more @ ..] if !matches!(*x, "status" | "finalize") => {
            let mut v = vec![*x];
            v.extend_from_slice(more);
            return finish(group, version, watch_prefix, Some(ns), &v);
        }
        _ => (None, rest),
    };
    finish(group, version, watch_prefix, namespace, rest)
}

fn finish(
    group: &str,
    version: &str,
    watch_prefix: bool,
    namespace: Option<&str>,
    rest: &[&str],
) -> Route {
    let (resource, name, sub) = match rest {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(*n), None),
        [r, n, s] => (*r, Some(*n), Some(*s)),
        _ => return Route::Unknown,
    };
    let Some(res) = resources::find(group, version, resource) else {
        return Route::Unknown;
    };
    let Some(info) = resources::get(res) else {
        return Route::Unknown;
    };
    if namespace.is_some() && !info.namespaced {
        return Route::Unknown;
    }
    if let Some(s) = sub {
        if info.subresource(s).is_none() {
            return Route::Unknown;
        }
    }
    Route::Resource(ResPath {
        res,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        sub: sub.map(str::to_string),
        watch_prefix,
    })
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded query parameters, in order.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(path: &str) -> ResPath {
        match route(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths() {
        let p = rp("/api/v1/namespaces/default/pods/p1/status");
        assert_eq!(resources::get(p.res).map(|r| r.name), Some("pods"));
        assert_eq!(
            (p.namespace.as_deref(), p.name.as_deref(), p.sub.as_deref()),
            (Some("default"), Some("p1"), Some("status"))
        );
        let all = rp("/api/v1/pods");
        assert_eq!((all.namespace, all.name), (None, None));
        let ns = rp("/api/v1/namespaces/kube-system");
        assert_eq!(resources::get(ns.res).map(|r| r.name), Some("namespaces"));
        assert_eq!(ns.name.as_deref(), Some("kube-system"));
        let nss = rp("/api/v1/namespaces/x/status");
        assert_eq!(
            (nss.name.as_deref(), nss.sub.as_deref()),
            (Some("x"), Some("status"))
        );
        let w = rp("/api/v1/watch/namespaces/default/pods");
        assert!(w.watch_prefix);
        let l = rp("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1");
        assert_eq!(l.name.as_deref(), Some("n1"));
        let t = rp("/api/v1/namespaces/default/serviceaccounts/default/token");
        assert_eq!(t.sub.as_deref(), Some("token"));
        assert_eq!(
            rp("/apis/storage.k8s.io/v1/csinodes/n1/").name.as_deref(),
            Some("n1")
        );
    }

    #[test]
    fn other_routes() {
        assert_eq!(route("/version"), Route::Version);
        assert_eq!(route("/readyz/ping"), Route::Health);
        assert_eq!(route("/api"), Route::ApiRoot);
        assert_eq!(route("/apis/"), Route::ApisRoot);
        assert_eq!(
            route("/api/v1"),
            Route::GroupVersion(String::new(), "v1".into())
        );
        assert_eq!(
            route("/apis/node.k8s.io"),
            Route::Group("node.k8s.io".into())
        );
        for unknown in [
            "/",
            "/api/v2/pods",
            "/api/v1/widgets",
            "/apis/apps/v1/replicasets",
            "/api/v1/namespaces/d/nodes",
            "/api/v1/pods/a/bogus",
            "/api/v1/namespaces/d/pods/a/status/x",
            "/api//v1",
            "/openapi/v3",
            "/apis/x",
        ] {
            assert_eq!(route(unknown), Route::Unknown, "{unknown}");
        }
    }

    #[test]
    fn queries_decode() {
        let q = parse_query("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1&x&bad=%zz%");
        assert_eq!(q[0], ("labelSelector".into(), "app=web,tier in (a)".into()));
        assert_eq!(q[1], ("watch".into(), "1".into()));
        assert_eq!(q[2], ("x".into(), String::new()));
        assert_eq!(q[3], ("bad".into(), "%zz%".into()));
    }
}
