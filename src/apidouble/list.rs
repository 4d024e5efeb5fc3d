//! LIST semantics: query options, resourceVersion / resourceVersionMatch rules, selectors,
//! limit with opaque continue tokens, and the ListMeta of the answer.

use std::sync::Arc;

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use super::errors::DoubleError;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::Store;
use super::table::IncludeObject;

/// `metav1.ListMeta` as JSON.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ListMeta {
    #[serde(rename = "resourceVersion")]
    pub resource_version: String,
    #[serde(rename = "continue", skip_serializing_if = "String::is_empty")]
    pub continue_: String,
    #[serde(rename = "remainingItemCount", skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<i64>,
}

/// The query options of a list or watch request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub limit: Option<usize>,
    pub continue_: Option<String>,
    /// `resourceVersion`, `None` when absent or empty.
    pub rv: Option<String>,
    pub rv_match: Option<String>,
    pub watch: bool,
    pub allow_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub timeout_seconds: Option<u64>,
    pub include_object: Option<String>,
    pub pretty: bool,
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "")
}

impl Query {
    /// Parses decoded query pairs; bad selectors or numbers are a 400.
    pub fn parse(pairs: &[(String, String)]) -> Result<Query, DoubleError> {
        let mut q = Query::default();
        for (k, v) in pairs {
            match k.as_str() {
                "labelSelector" => {
                    q.label = LabelSelector::parse(v).map_err(DoubleError::BadRequest)?
                }
                "fieldSelector" => {
                    q.field = FieldSelector::parse(v).map_err(DoubleError::BadRequest)?
                }
                "limit" => {
                    let n: i64 = v.parse().map_err(|_| bad_number("limit", v))?;
                    q.limit = usize::try_from(n).ok().filter(|n| *n > 0);
                }
                "continue" if !v.is_empty() => q.continue_ = Some(v.clone()),
                "resourceVersion" if !v.is_empty() => q.rv = Some(v.clone()),
                "resourceVersionMatch" if !v.is_empty() => q.rv_match = Some(v.clone()),
                "watch" => q.watch = truthy(v),
                "allowWatchBookmarks" => q.allow_bookmarks = truthy(v),
                "sendInitialEvents" => q.send_initial_events = Some(truthy(v)),
                "timeoutSeconds" => {
                    q.timeout_seconds =
                        Some(v.parse().map_err(|_| bad_number("timeoutSeconds", v))?)
                }
                "includeObject" => q.include_object = Some(v.clone()),
                "pretty" => q.pretty = truthy(v),
                _ => {}
            }
        }
        Ok(q)
    }

    /// The parsed `resourceVersion` (`None` when absent).
    pub fn rv_number(&self) -> Result<Option<u64>, DoubleError> {
        self.rv.as_deref().map(parse_rv).transpose()
    }

    /// The `includeObject` option for Tables.
    pub fn include(&self) -> IncludeObject {
        IncludeObject::parse(self.include_object.as_deref())
    }

    /// Whether any selector is set.
    pub fn has_selectors(&self) -> bool {
        !self.label.is_empty() || !self.field.is_empty()
    }

    /// Whether an object passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.label.matches(obj) && self.field.matches(obj)
    }
}

fn bad_number(name: &str, v: &str) -> DoubleError {
    DoubleError::BadRequest(format!(
        "{name}: Invalid value: {v:?}: must be a non-negative integer"
    ))
}

/// A resourceVersion as the integer the double issues.
pub fn parse_rv(v: &str) -> Result<u64, DoubleError> {
    v.parse()
        .map_err(|_| DoubleError::BadRequest(format!("invalid resource version: {v:?}")))
}

fn invalid(message: String) -> DoubleError {
    DoubleError::Invalid {
        kind: "ListOptions".into(),
        name: String::new(),
        message,
    }
}

/// An opaque continue token: base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`.
pub fn encode_continue(rv: u64, last_key: &str) -> String {
    let body =
        serde_json::json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{last_key}\u{0}")});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
}

/// The (resourceVersion, start key) of a continue token; anything else is a 400.
pub fn decode_continue(token: &str) -> Result<(u64, String), DoubleError> {
    let err = |why: &str| DoubleError::BadRequest(format!("invalid continue token: {why}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| err("not base64"))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| err("not a JSON continue key"))?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(err("continue key is not a supported version"));
    }
    let rv = v["rv"]
        .as_u64()
        .filter(|rv| *rv > 0)
        .ok_or_else(|| err("continue key has no resource version"))?;
    let start = v["start"].as_str().unwrap_or("");
    if start.is_empty() || start.contains("..") || start.starts_with('/') {
        return Err(err(&format!("continue key is not valid: {start}")));
    }
    Ok((rv, start.to_string()))
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Arc<Value>>,
    pub meta: ListMeta,
}

/// Runs a LIST of resource `res` in `ns` (all namespaces when `None`).
pub fn list(store: &Store, res: usize, ns: Option<&str>, q: &Query) -> Result<Page, DoubleError> {
    let rv = q.rv_number()?;
    let mut limit = q.limit;
    let (at, start) = if let Some(token) = &q.continue_ {
        let (rv, start) = decode_continue(token)?;
        if rv < store.compacted() {
            return Err(DoubleError::Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".into()));
        }
        (Some(rv), Some(start))
    } else {
        match (q.rv_match.as_deref(), rv) {
            (Some(_), None) => return Err(invalid("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided".into())),
            (Some("Exact"), Some(0)) => return Err(invalid("resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"".into())),
            (Some("Exact"), Some(x)) => (Some(x), None),
            (Some("NotOlderThan") | None, Some(x)) if x > store.rv() => {
                return Err(DoubleError::TooLargeResourceVersion { requested: x, current: store.rv() })
            }
            (None, Some(0)) => {
                // Served from the watch cache: kube-apiserver ignores limit for resourceVersion=0.
                limit = None;
                (None, None)
            }
            (Some("NotOlderThan") | None, _) => (None, None),
            (Some(other), _) => return Err(invalid(format!("resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""))),
        }
    };
    let (snap_rv, objects) = store.snapshot(res, at)?;
    let prefix = ns.map(|n| format!("{n}/"));
    let mut matching = objects.into_iter().filter(|(k, o)| {
        prefix.as_ref().is_none_or(|p| k.starts_with(p.as_str()))
            && start.as_ref().is_none_or(|s| k.as_str() >= s.as_str())
            && q.matches(o)
    });
    let mut items = Vec::new();
    let mut last_key = String::new();
    for (k, o) in matching.by_ref() {
        if limit.is_some_and(|l| items.len() >= l) {
            let remaining = 1 + matching.count() as i64;
            return Ok(Page {
                items,
                meta: ListMeta {
                    resource_version: snap_rv.to_string(),
                    continue_: encode_continue(snap_rv, &last_key),
                    remaining_item_count: (!q.has_selectors()).then_some(remaining),
                },
            });
        }
        last_key = k;
        items.push(o);
    }
    Ok(Page {
        items,
        meta: ListMeta {
            resource_version: snap_rv.to_string(),
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apidouble::store::EventType;
    use serde_json::json;

    fn q(s: &str) -> Query {
        Query::parse(&crate::apidouble::path::parse_query(s)).expect(s)
    }

    fn store() -> Store {
        let mut st = Store::new();
        for (ns, n, app) in [
            ("a", "p1", "web"),
            ("a", "p2", "db"),
            ("b", "p3", "web"),
            ("b", "p4", "web"),
        ] {
            let o = json!({"metadata": {"name": n, "namespace": ns, "labels": {"app": app}}});
            st.commit(EventType::Added, 0, &format!("{ns}/{n}"), o);
        }
        st
    }

    fn names(p: &Page) -> Vec<&str> {
        p.items
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap_or(""))
            .collect()
    }

    #[test]
    fn pages_walk_the_whole_list() {
        let st = store();
        let p1 = list(&st, 0, None, &q("limit=3")).expect("page 1");
        assert_eq!(names(&p1), vec!["p1", "p2", "p3"]);
        assert_eq!(p1.meta.remaining_item_count, Some(1));
        assert_eq!(p1.meta.resource_version, "5");
        let p2 = list(
            &st,
            0,
            None,
            &q(&format!("limit=3&continue={}", p1.meta.continue_)),
        )
        .expect("page 2");
        assert_eq!(names(&p2), vec!["p4"]);
        assert!(p2.meta.continue_.is_empty());
        let sel = list(&st, 0, None, &q("limit=1&labelSelector=app%3Dweb")).expect("selected");
        assert_eq!(names(&sel), vec!["p1"]);
        assert_eq!(sel.meta.remaining_item_count, None);
        assert!(!sel.meta.continue_.is_empty());
        assert_eq!(
            names(&list(&st, 0, Some("b"), &q("")).expect("ns")),
            vec!["p3", "p4"]
        );
        assert_eq!(
            names(
                &list(
                    &st,
                    0,
                    None,
                    &q("fieldSelector=metadata.name!%3Dp1,metadata.namespace%3Da")
                )
                .expect("f")
            ),
            vec!["p2"]
        );
        assert_eq!(
            list(&st, 0, None, &q("limit=1&resourceVersion=0"))
                .expect("rv0")
                .items
                .len(),
            4
        );
    }

    #[test]
    fn continue_tokens_are_checked() {
        let tok = encode_continue(7, "a/p1");
        assert_eq!(
            decode_continue(&tok).expect("round trip"),
            (7, "a/p1\u{0}".to_string())
        );
        for bad in [
            "garbage!",
            "e30",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(r#"{"v":"meta.k8s.io/v1","rv":3,"start":""}"#),
        ] {
            let e = decode_continue(bad).expect_err(bad);
            assert_eq!(e.code(), 400, "{bad}");
            assert!(e.to_string().starts_with("invalid continue token"), "{e}");
        }
    }

    #[test]
    fn resource_version_rules() {
        let mut st = store();
        let exact = list(
            &st,
            0,
            None,
            &q("resourceVersion=3&resourceVersionMatch=Exact"),
        )
        .expect("exact");
        assert_eq!(names(&exact), vec!["p1", "p2"]);
        assert_eq!(exact.meta.resource_version, "3");
        assert_eq!(
            list(&st, 0, None, &q("resourceVersion=99"))
                .expect_err("too large")
                .code(),
            504
        );
        assert_eq!(
            list(&st, 0, None, &q("resourceVersionMatch=Exact"))
                .expect_err("no rv")
                .code(),
            422
        );
        assert_eq!(
            list(&st, 0, None, &q("resourceVersion=x"))
                .expect_err("bad rv")
                .code(),
            400
        );
        let p1 = list(&st, 0, None, &q("limit=1")).expect("page");
        st.commit(
            EventType::Added,
            0,
            "c/p5",
            json!({"metadata": {"name": "p5", "namespace": "c"}}),
        );
        let p2 =
            list(&st, 0, None, &q(&format!("continue={}", p1.meta.continue_))).expect("consistent");
        assert_eq!(
            names(&p2),
            vec!["p2", "p3", "p4"],
            "the snapshot of the first page"
        );
        st.compact();
        assert_eq!(
            list(
                &st,
                0,
                None,
                &q("resourceVersion=3&resourceVersionMatch=Exact")
            )
            .expect_err("gone")
            .code(),
            410
        );
        assert_eq!(
            list(&st, 0, None, &q(&format!("continue={}", p1.meta.continue_)))
                .expect_err("gone")
                .code(),
            410
        );
    }
}
