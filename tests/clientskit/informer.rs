//! One informer of one client and the requests it sends, with query strings built the way
//! client-go builds them (`url.Values.Encode`: sorted keys, Go's escaping).

/// One informer of one client.
#[derive(Debug, Clone)]
pub struct Informer {
    /// For messages: client, version and resource.
    pub name: String,
    pub ua: String,
    pub accept: String,
    /// The collection, e.g. `/api/v1/pods` or `/api/v1/namespaces/ns/secrets`.
    pub path: String,
    pub label: Option<String>,
    pub field: Option<String>,
    /// Typed clients (gentype) also send `timeout=<Go duration>` on watches.
    pub typed: bool,
    /// The reflector's minimum watch timeout (300 s; kubelet's secret/configmap ones: 1800 s).
    pub min_timeout: u64,
    /// client-go 1.35+: WatchList instead of LIST.
    pub watch_list: bool,
    /// Marked "offline needed" in the catalog.
    pub needed: bool,
}

/// `url.QueryEscape`: everything but `A-Za-z0-9-_.~` is %XX (space as `+`).
pub fn go_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `url.Values.Encode`: pairs sorted by key, escaped.
pub fn go_query(pairs: &[(&str, String)]) -> String {
    let mut p: Vec<_> = pairs.to_vec();
    p.sort_by(|a, b| a.0.cmp(b.0));
    p.iter()
        .map(|(k, v)| format!("{}={}", go_escape(k), go_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Go's `time.Duration.String()` for whole seconds (`7m23s`, `1h0m3s`).
pub fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

impl Informer {
    fn selectors(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(l) = &self.label {
            p.push(("labelSelector", l.clone()));
        }
        if let Some(f) = &self.field {
            p.push(("fieldSelector", f.clone()));
        }
        p
    }

    /// A fixed draw in [min, 2·min), like the reflector's random one.
    pub fn timeout_seconds(&self) -> u64 {
        self.min_timeout + self.min_timeout * 47 / 100
    }

    fn with(&self, mut p: Vec<(&'static str, String)>) -> String {
        p.extend(self.selectors());
        format!("{}?{}", self.path, go_query(&p))
    }

    fn timeouts(&self, p: &mut Vec<(&'static str, String)>) {
        let t = self.timeout_seconds();
        p.push(("timeoutSeconds", t.to_string()));
        if self.typed {
            p.push(("timeout", go_duration(t)));
        }
    }

    /// The LIST: `limit=500` unless resumed from a resourceVersion other than `""`/`"0"`.
    pub fn list_path(&self, rv: &str) -> String {
        let mut p = vec![("resourceVersion", rv.to_string())];
        if rv.is_empty() || rv == "0" {
            p.push(("limit", "500".into()));
        }
        p.retain(|(_, v)| !v.is_empty());
        self.with(p)
    }

    pub fn watch_path(&self, rv: &str) -> String {
        let mut p = vec![
            ("allowWatchBookmarks", "true".to_string()),
            ("resourceVersion", rv.to_string()),
            ("watch", "true".into()),
        ];
        self.timeouts(&mut p);
        p.retain(|(_, v)| !v.is_empty());
        self.with(p)
    }

    pub fn watch_list_path(&self, rv: &str) -> String {
        let mut p = vec![
            ("allowWatchBookmarks", "true".to_string()),
            ("resourceVersion", rv.to_string()),
            ("resourceVersionMatch", "NotOlderThan".into()),
            ("sendInitialEvents", "true".into()),
            ("watch", "true".into()),
        ];
        self.timeouts(&mut p);
        p.retain(|(_, v)| !v.is_empty());
        self.with(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_built_like_client_go() {
        assert_eq!(go_duration(443), "7m23s");
        assert_eq!(go_duration(3603), "1h0m3s");
        let i = Informer {
            name: "t".into(),
            ua: "kubelet/v1.34.2".into(),
            accept: "application/json".into(),
            path: "/api/v1/nodes".into(),
            label: None,
            field: Some("metadata.name=n1".into()),
            typed: true,
            min_timeout: 300,
            watch_list: false,
            needed: true,
        };
        assert_eq!(
            i.list_path("0"),
            "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&limit=500&resourceVersion=0"
        );
        assert_eq!(
            i.list_path("42"),
            "/api/v1/nodes?fieldSelector=metadata.name%3Dn1&resourceVersion=42"
        );
        assert_eq!(i.watch_path("42"), "/api/v1/nodes?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dn1&resourceVersion=42&timeout=7m21s&timeoutSeconds=441&watch=true");
        assert_eq!(i.watch_list_path(""), "/api/v1/nodes?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dn1&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeout=7m21s&timeoutSeconds=441&watch=true");
    }
}
