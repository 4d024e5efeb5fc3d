//! Pure: serving a view never seen online from a broader view of the same component, when the
//! extra selector terms are on labels or on `metadata.name`/`metadata.namespace`.

use crate::k8s::meta::Meta;
use crate::k8s::selector_syntax::split_field_terms;
use crate::store::ViewKey;

/// One term the filter checks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Eq(Field, String),
    Ne(Field, String),
    In(Field, Vec<String>),
    NotIn(Field, Vec<String>),
    Exists(String),
    Absent(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Label(String),
    Name,
    Namespace,
}

/// What narrows a broader view's objects down to the wanted view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<Term>,
}

/// Splits a normalised selector into its terms (commas inside `( )` stay).
fn terms(sel: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in sel.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&sel[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&sel[start..]);
    out
}

/// The filter that turns `broad` into `want`, when `broad` holds a superset of it.
pub fn plan(broad: &ViewKey, want: &ViewKey) -> Option<Filter> {
    let same = broad.component == want.component && broad.gvr == want.gvr;
    if !same
        || !broad.name.is_empty()
        || !(broad.namespace.is_empty() || broad.namespace == want.namespace)
    {
        return None;
    }
    let mut out = Vec::new();
    if broad.namespace.is_empty() && !want.namespace.is_empty() {
        out.push(Term::Eq(Field::Namespace, want.namespace.clone()));
    }
    for (b, w, labels) in [
        (&broad.label_selector, &want.label_selector, true),
        (&broad.field_selector, &want.field_selector, false),
    ] {
        let split = if labels { terms } else { split_field_terms };
        let have: Vec<&str> = split(b).into_iter().filter(|t| !t.is_empty()).collect();
        let wanted: Vec<&str> = split(w).into_iter().filter(|t| !t.is_empty()).collect();
        if !have.iter().all(|t| wanted.contains(t)) {
            return None;
        }
        for t in wanted.iter().filter(|t| !have.contains(t)) {
            out.push(parse(t, labels)?);
        }
    }
    Some(Filter { terms: out })
}

fn field(key: &str, labels: bool) -> Option<Field> {
    match (labels, key) {
        (true, k) if !k.trim().is_empty() => Some(Field::Label(k.trim().to_string())),
        (false, "metadata.name") => Some(Field::Name),
        (false, "metadata.namespace") => Some(Field::Namespace),
        _ => None,
    }
}

/// A field term `f=v` or `f!=v` (normalised: `==` is `=`), split where `fields.ParseSelector`
/// splits it; escaped values (`\,`) are refused rather than unescaped.
fn field_term(t: &str) -> Option<Term> {
    let at = t.find('=')?;
    let (f, eq) = match t[..at].strip_suffix('!') {
        Some(f) => (f, false),
        None => (&t[..at], true),
    };
    let v = &t[at + 1..];
    if v.contains(['\\', '=', ',']) {
        return None;
    }
    let f = field(f, false)?;
    Some(if eq {
        Term::Eq(f, v.to_string())
    } else {
        Term::Ne(f, v.to_string())
    })
}

fn parse(t: &str, labels: bool) -> Option<Term> {
    if !labels {
        return field_term(t);
    }
    if let Some((head, rest)) = t.split_once(" (") {
        let values = rest
            .strip_suffix(')')?
            .split(',')
            .map(str::to_string)
            .collect();
        let (key, op) = head.rsplit_once(' ')?;
        return match op {
            "in" => Some(Term::In(field(key, labels)?, values)),
            "notin" => Some(Term::NotIn(field(key, labels)?, values)),
            _ => None,
        };
    }
    if let Some((k, v)) = t.split_once("!=") {
        return Some(Term::Ne(field(k, labels)?, v.to_string()));
    }
    if let Some((k, v)) = t.split_once('=') {
        return Some(Term::Eq(field(k, labels)?, v.to_string()));
    }
    let plain = |k: &str| {
        k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    };
    match t.strip_prefix('!') {
        Some(k) if labels && plain(k) => Some(Term::Absent(k.to_string())),
        None if labels && plain(t) => Some(Term::Exists(t.to_string())),
        _ => None,
    }
}

impl Filter {
    /// Whether an object with metadata `m` belongs to the wanted view.
    pub fn matches(&self, m: &Meta) -> bool {
        self.terms.iter().all(|t| term_matches(t, m))
    }
}

fn value<'a>(f: &Field, m: &'a Meta) -> Option<&'a str> {
    match f {
        Field::Name => Some(&m.name),
        Field::Namespace => Some(&m.namespace),
        Field::Label(k) => m
            .labels
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str()),
    }
}

fn term_matches(t: &Term, m: &Meta) -> bool {
    let has = |k: &String| m.labels.iter().any(|(key, _)| key == k);
    match t {
        Term::Eq(f, v) => value(f, m) == Some(v.as_str()),
        Term::Ne(f, v) => value(f, m) != Some(v.as_str()),
        Term::In(f, vs) => value(f, m).is_some_and(|x| vs.iter().any(|v| v == x)),
        Term::NotIn(f, vs) => value(f, m).is_none_or(|x| vs.iter().all(|v| v != x)),
        Term::Exists(k) => has(k),
        Term::Absent(k) => !has(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::selector_filter::view;

    fn meta(ns: &str, name: &str, labels: &[(&str, &str)]) -> Meta {
        Meta {
            namespace: ns.into(),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ..Meta::default()
        }
    }

    #[test]
    fn narrows_by_labels_and_metadata_fields() {
        let broad = view("", "!service.kubernetes.io/headless", "");
        let want = view(
            "default",
            "!service.kubernetes.io/headless,app in (a,b)",
            "metadata.name=web",
        );
        let f = plan(&broad, &want).expect("filterable");
        assert!(f.matches(&meta("default", "web", &[("app", "a")])));
        assert!(!f.matches(&meta("default", "web", &[("app", "c")])));
        assert!(!f.matches(&meta("other", "web", &[("app", "a")])));
        assert!(!f.matches(&meta("default", "db", &[("app", "a")])));
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        let broad = view("", "", "");
        assert!(plan(&broad, &view("", "", "spec.nodeName=n1")).is_none());
        assert!(plan(&view("", "a=1", ""), &view("", "a=2", "")).is_none());
        assert!(plan(&view("ns", "", ""), &view("", "", "")).is_none());
    }
}
