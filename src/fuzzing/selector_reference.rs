//! The reference for `selector_filter`: which objects kube-apiserver answers for a view's
//! namespace, labelSelector and fieldSelector, following k8s.io/apimachinery's `labels.Parse`
//! (lexer, grammar, key and value validation) and `fields.ParseSelector` (escape-aware split,
//! first operator, unescaping). Small and separate from the code under test on purpose.

use super::selector_filter::Obj;

/// A view's selection as the apiserver evaluates it.
pub struct Sel {
    pub namespace: String,
    pub labels: Vec<Req>,
    /// (field, equal?, value)
    pub fields: Vec<(String, bool, String)>,
}

impl Sel {
    /// `None` where the apiserver answers 400.
    pub fn parse(namespace: &str, labels: &str, fields: &str) -> Option<Sel> {
        Some(Sel {
            namespace: namespace.into(),
            labels: parse_labels(labels)?,
            fields: parse_fields(fields)?,
        })
    }

    pub fn matches(&self, o: &Obj) -> bool {
        (self.namespace.is_empty() || self.namespace == o.meta.namespace)
            && self.labels.iter().all(|r| r.matches(&o.meta.labels))
            && self.fields.iter().all(|(f, eq, v)| {
                let have = match f.as_str() {
                    "metadata.name" => o.meta.name.as_str(),
                    "metadata.namespace" => o.meta.namespace.as_str(),
                    f => o
                        .fields
                        .iter()
                        .find(|(k, _)| k == f)
                        .map_or("", |(_, v)| v.as_str()),
                };
                (have == v) == *eq
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    In,
    NotIn,
    Exists,
    Absent,
    Gt,
    Lt,
}

/// One label requirement (`=` is `In` one value, `!=` is `NotIn` one value).
pub struct Req {
    pub key: String,
    op: Op,
    pub values: Vec<String>,
}

impl Req {
    fn matches(&self, labels: &[(String, String)]) -> bool {
        let v = labels
            .iter()
            .find(|(k, _)| *k == self.key)
            .map(|(_, v)| v.as_str());
        let int = |s: &str| s.parse::<i64>().ok();
        let bound = self.values.first().and_then(|b| int(b));
        match self.op {
            Op::In => v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => v.is_none_or(|v| self.values.iter().all(|x| x != v)),
            Op::Exists => v.is_some(),
            Op::Absent => v.is_none(),
            Op::Gt => matches!((v.and_then(int), bound), (Some(a), Some(b)) if a > b),
            Op::Lt => matches!((v.and_then(int), bound), (Some(a), Some(b)) if a < b),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Id(String),
    In,
    NotIn,
    Not,
    Ne,
    Eq,
    DoubleEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

fn special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn symbol(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::Close,
        "(" => Tok::Open,
        "," => Tok::Comma,
        "!" => Tok::Not,
        "!=" => Tok::Ne,
        "=" => Tok::Eq,
        "==" => Tok::DoubleEq,
        ">" => Tok::Gt,
        "<" => Tok::Lt,
        _ => return None,
    })
}

/// The apiserver's label lexer: blanks separate, runs of symbols take the longest token.
fn lex(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let (mut i, mut out) = (0, Vec::new());
    loop {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if i == b.len() {
            out.push(Tok::End);
            return out;
        }
        let mut j = i;
        if special(b[i]) {
            let mut last = (Tok::End, i + 1);
            while j < b.len() && special(b[j]) {
                match symbol(&s[i..=j]) {
                    Some(t) => last = (t, j + 1),
                    None => break,
                }
                j += 1;
            }
            out.push(last.0);
            i = last.1;
        } else {
            while j < b.len() && !special(b[j]) && !blank(b[j]) {
                j += 1;
            }
            out.push(match &s[i..j] {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                w => Tok::Id(w.into()),
            });
            i = j;
        }
    }
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    /// The next token where a key or value may stand (`in`/`notin` read as identifiers).
    fn peek(&self) -> Tok {
        match self.toks.get(self.at).cloned().unwrap_or(Tok::End) {
            Tok::In => Tok::Id("in".into()),
            Tok::NotIn => Tok::Id("notin".into()),
            t => t,
        }
    }

    fn take(&mut self) -> Tok {
        let t = self.peek();
        self.at += 1;
        t
    }

    fn requirement(&mut self) -> Option<Req> {
        let mut tok = self.take();
        let absent = tok == Tok::Not;
        if absent {
            tok = self.take();
        }
        let Tok::Id(key) = tok else { return None };
        if !qualified_name(&key) {
            return None;
        }
        let req = |op, values: Vec<String>| Req {
            key: key.clone(),
            op,
            values,
        };
        if absent {
            return Some(req(Op::Absent, Vec::new()));
        }
        if matches!(self.peek(), Tok::End | Tok::Comma) {
            return Some(req(Op::Exists, Vec::new()));
        }
        let op = self.toks.get(self.at).cloned();
        self.at += 1;
        let (op, values) = match op? {
            Tok::In => (Op::In, self.set()?),
            Tok::NotIn => (Op::NotIn, self.set()?),
            Tok::Eq | Tok::DoubleEq => (Op::In, self.exact()?),
            Tok::Ne => (Op::NotIn, self.exact()?),
            Tok::Gt => (Op::Gt, self.exact()?),
            Tok::Lt => (Op::Lt, self.exact()?),
            _ => return None,
        };
        if !values.iter().all(|v| label_value(v)) {
            return None;
        }
        if matches!(op, Op::Gt | Op::Lt) && values[0].parse::<i64>().is_err() {
            return None;
        }
        Some(req(op, values))
    }

    fn exact(&mut self) -> Option<Vec<String>> {
        match self.peek() {
            Tok::End | Tok::Comma => Some(vec![String::new()]),
            Tok::Id(v) => {
                self.at += 1;
                Some(vec![v])
            }
            _ => None,
        }
    }

    /// `( v, … )`; empty places are the empty value, and `()` is the set of it.
    fn set(&mut self) -> Option<Vec<String>> {
        if self.take() != Tok::Open {
            return None;
        }
        if self.peek() == Tok::Close {
            self.at += 1;
            return Some(vec![String::new()]);
        }
        let mut out: Vec<String> = Vec::new();
        loop {
            match self.take() {
                Tok::Id(v) => {
                    out.push(v);
                    match self.peek() {
                        Tok::Comma => {}
                        Tok::Close => break,
                        _ => return None,
                    }
                }
                Tok::Comma => {
                    if out.is_empty() {
                        out.push(String::new());
                    }
                    match self.peek() {
                        Tok::Close => {
                            out.push(String::new());
                            break;
                        }
                        // Not taken: the next round reads it (as apimachinery does).
                        Tok::Comma => out.push(String::new()),
                        _ => {}
                    }
                }
                _ => return None,
            }
        }
        (self.take() == Tok::Close).then_some(out)
    }
}

/// `labels.Parse`: `None` where the apiserver answers 400.
fn parse_labels(s: &str) -> Option<Vec<Req>> {
    if s.contains('\0') {
        return None;
    }
    let mut p = Parser {
        toks: lex(s),
        at: 0,
    };
    let mut out = Vec::new();
    loop {
        match p.peek() {
            Tok::End => return Some(out),
            Tok::Id(_) | Tok::Not => {
                out.push(p.requirement()?);
                match p.take() {
                    Tok::End => return Some(out),
                    Tok::Comma if matches!(p.peek(), Tok::Id(_) | Tok::Not) => {}
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A label value: at most 63 of `[A-Za-z0-9_.-]`, starting and ending alphanumeric, or empty.
fn label_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() <= 63
        && (b.is_empty()
            || (alnum(b[0])
                && alnum(b[b.len() - 1])
                && b.iter().all(|&c| alnum(c) || b"-_.".contains(&c))))
}

/// A qualified name: `[prefix/]name`, the prefix a DNS-1123 subdomain.
fn qualified_name(k: &str) -> bool {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let subdomain = |p: &str| {
        p.len() <= 253
            && p.split('.').all(|l| {
                let b = l.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
                    && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
                    && b.iter()
                        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            })
    };
    !name.is_empty() && label_value(name) && prefix.is_none_or(subdomain)
}

/// `fields.ParseSelector`: terms split at unescaped commas, the first `!=`, `==` or `=` splits
/// each, values unescaped (`\\`, `\,`, `\=`). Any field the object may carry is accepted.
fn parse_fields(s: &str) -> Option<Vec<(String, bool, String)>> {
    let mut terms = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    let mut out = Vec::new();
    for t in terms.into_iter().filter(|t| !t.is_empty()) {
        let (at, op) = (0..t.len()).find_map(|i| {
            let rest = t.get(i..)?;
            ["!=", "==", "="]
                .into_iter()
                .find(|op| rest.starts_with(op))
                .map(|op| (i, op))
        })?;
        let (field, raw) = (&t[..at], &t[at + op.len()..]);
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '.';
        if field.is_empty() || !field.chars().all(plain) {
            return None;
        }
        out.push((field.to_string(), op != "!=", unescape(raw)?));
    }
    Some(out)
}

fn unescape(raw: &str) -> Option<String> {
    let (mut out, mut escaped) = (String::new(), false);
    for c in raw.chars() {
        match (escaped, c) {
            (true, '\\' | ',' | '=') => {
                out.push(c);
                escaped = false;
            }
            (true, _) | (false, ',' | '=') => return None,
            (false, '\\') => escaped = true,
            (false, c) => out.push(c),
        }
    }
    (!escaped).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_reads_selectors_as_the_apiserver_does() {
        let reqs = |s: &str| parse_labels(s).map(|r| r.len());
        assert_eq!(
            reqs("!service.kubernetes.io/headless,app in (a,b)"),
            Some(2)
        );
        assert_eq!(reqs("a==1, b!=2,c,!d, e notin (x)"), Some(5));
        for bad in [
            "a=1,", ",a", "a=b=c", "a in ()x", "-a=1", "a/b/c", "A.b/c", "a=-1",
        ] {
            assert_eq!(reqs(bad), None, "{bad}");
        }
        let set = |s: &str| parse_labels(s).expect(s).remove(0).values;
        assert_eq!(set("x in (a,)"), ["a", ""]);
        assert_eq!(set("x in ()"), [""]);
        assert_eq!(set("x in (,,b)"), ["", "", "b"]);
        assert_eq!(set("x in (a,,)"), ["a", "", ""]);
        assert_eq!(
            parse_fields(r"metadata.name!=a\,b,,spec.x==1"),
            Some(vec![
                ("metadata.name".into(), false, "a,b".into()),
                ("spec.x".into(), true, "1".into())
            ])
        );
        for bad in [r"a=b=c", r"a=b\", r"a=\x", "a", " a=1"] {
            assert_eq!(parse_fields(bad), None, "{bad}");
        }
    }
}
