//! Label and field selectors: parsing the query syntax kube-apiserver accepts and matching objects.

use serde_json::Value;

use crate::k8s::selector_syntax::{
    check_fields, check_labels, split_field_term, split_field_terms,
};

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector` (requirements ANDed). Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<LabelReq>);

/// Splits at commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The values of a set, `( v, … )`; empty places are the empty value, as in `labels.Parse`.
fn parse_set(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

/// One requirement of a selector `check_labels` took; `None` for the forms this double does
/// not read (`>`, `<`, sets written without blanks around `in`).
fn parse_req(part: &str) -> Option<LabelReq> {
    let p = part.trim();
    if let Some(k) = p.strip_prefix('!') {
        return Some(LabelReq::NotExists(k.trim().into()));
    }
    for (op, is_in) in [(" notin ", false), (" in ", true)] {
        if let Some(i) = p.find(op) {
            let (key, vals) = (p[..i].trim().to_string(), parse_set(&p[i + op.len()..])?);
            return Some(if is_in {
                LabelReq::In(key, vals)
            } else {
                LabelReq::NotIn(key, vals)
            });
        }
    }
    for op in ["!=", "==", "="] {
        if let Some(i) = p.find(op) {
            let (key, val) = (p[..i].trim().into(), p[i + op.len()..].trim().into());
            return Some(if op == "!=" {
                LabelReq::NotEq(key, val)
            } else {
                LabelReq::Eq(key, val)
            });
        }
    }
    (!p.contains(['(', ')', '<', '>', ' '])).then(|| LabelReq::Exists(p.into()))
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`. Errors read like kube-apiserver's.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        // What is a 400 is the apiserver's grammar (as the hub checks it offline); what
        // follows reads the selectors it takes.
        check_labels(s)?;
        if s.trim().is_empty() {
            return Ok(LabelSelector::default());
        }
        split_top(s)
            .into_iter()
            .map(|part| {
                parse_req(part).ok_or_else(|| {
                    format!("the API double does not read this requirement: {part:?}")
                })
            })
            .collect::<Result<_, _>>()
            .map(LabelSelector)
    }

    /// Whether the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.get("metadata").and_then(|m| m.get("labels"));
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// One field requirement: `path` (dotted JSON path), equal or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReq {
    pub path: String,
    pub value: String,
    pub equal: bool,
}

/// A parsed `fieldSelector` (terms ANDed). Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldReq>);

/// A field selector value with its escapes (`\\`, `\,`, `\=`) read; `check_fields` took it.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        out.extend(if c == '\\' { chars.next() } else { Some(c) });
    }
    out
}

impl FieldSelector {
    /// Parses `metadata.name=x,spec.nodeName!=y` (`=`, `==`, `!=`; `\,` `\=` `\\` escapes).
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        // What is a 400 is the apiserver's (as the hub checks it offline); this only reads
        // what it took: empty terms skipped, each split at its first operator.
        check_fields(s)?;
        let mut reqs = Vec::new();
        for term in split_field_terms(s).into_iter().filter(|t| !t.is_empty()) {
            // check_fields refuses a term without an operator.
            if let Some((label, op, value)) = split_field_term(term) {
                reqs.push(FieldReq {
                    path: label.to_string(),
                    value: unescape(value),
                    equal: op != "!=",
                });
            }
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value a term requires for `path` with `=`, if any (e.g. `metadata.name`).
    pub fn required(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|r| r.equal && r.path == path)
            .map(|r| r.value.as_str())
    }

    /// Whether the object satisfies every term; a missing field reads as "".
    pub fn matches(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|r| (field_string(obj, &r.path) == r.value) == r.equal)
    }
}

/// The value at a dotted JSON path as the string a field selector compares ("" when missing).
pub fn field_string(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p1", "namespace": "default", "labels": labels},
               "spec": {"nodeName": "n1", "clusterIP": "None"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_operators() {
        let p = pod(json!({"app": "web", "tier": "front"}));
        let m = |s: &str| LabelSelector::parse(s).expect(s).matches(&p);
        assert!(m("app=web") && m("app==web") && m("app = web"));
        assert!(!m("app=db") && m("app!=db") && !m("app!=web"));
        assert!(m("app in (web, db)") && !m("app in (db)"));
        assert!(m("app notin (db)") && !m("app notin (web,db)"));
        assert!(m("tier") && !m("missing") && m("!missing") && !m("!app"));
        assert!(m("missing!=x") && m("missing notin (x)"));
        assert!(m("app=web,tier in (front,back),!gone"));
        assert!(!m("app=web,tier=back"));
        assert!(m("") && LabelSelector::parse("").expect("empty").is_empty());
        assert!(m(
            "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"
        ));
    }

    #[test]
    fn label_parse_errors() {
        for bad in [
            "app in web",
            "app,",
            "-bad=x",
            "a b",
            "app=(x)",
            "app in (x",
            "/x=y",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(
            LabelSelector::parse("a in (x, y),b, c notin ()")
                .expect("ok")
                .0,
            vec![
                LabelReq::In("a".into(), vec!["x".into(), "y".into()]),
                LabelReq::Exists("b".into()),
                LabelReq::NotIn("c".into(), vec![String::new()]),
            ]
        );
    }

    #[test]
    fn field_terms() {
        let p = pod(json!({}));
        let m = |s: &str| FieldSelector::parse(s).expect(s).matches(&p);
        assert!(m("metadata.name=p1") && m("metadata.name==p1") && !m("metadata.name!=p1"));
        assert!(m("spec.nodeName=n1,metadata.namespace=default"));
        assert!(!m("spec.nodeName=n1,metadata.namespace=other"));
        assert!(!m("spec.clusterIP!=None") && m("status.phase=Running"));
        assert!(m("spec.missing=") && m("spec.missing!=x"));
        let f = FieldSelector::parse("metadata.name=a\\,b,spec.x!=1").expect("parses");
        assert_eq!(f.0[0].value, "a,b");
        assert!(!f.0[1].equal);
        assert_eq!(f.required("metadata.name"), Some("a,b"));
        assert!(FieldSelector::parse("noop").is_err());
        assert!(FieldSelector::parse("=x").is_err());
        assert!(FieldSelector::parse("a=\\q").is_err());
        // Multi-byte text and dangling escapes never panic.
        for odd in ["é=ü", "\\é=x", "ü\\", "a=b\\", "\\"] {
            let _ = FieldSelector::parse(odd);
            let _ = LabelSelector::parse(odd);
        }
        // The field label is as written (the apiserver does not unescape it).
        let odd = FieldSelector::parse("\\é=x").expect("taken");
        assert_eq!(
            (odd.0[0].path.as_str(), odd.0[0].value.as_str()),
            ("\\é", "x")
        );
        // Empty terms are skipped, as fields.ParseSelector skips them.
        assert!(m("metadata.name=p1,,") && m(",metadata.name=p1"));
    }

    #[test]
    fn non_string_fields_compare_as_text() {
        let o = json!({"spec": {"unschedulable": true, "replicas": 3}});
        assert_eq!(field_string(&o, "spec.unschedulable"), "true");
        assert_eq!(field_string(&o, "spec.replicas"), "3");
    }
}
