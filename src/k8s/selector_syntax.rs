//! Pure: whether kube-apiserver takes a `labelSelector` / `fieldSelector` query value, and if
//! not, the message of the 400 it answers (k8s.io/apimachinery's `labels.Parse` and
//! `fields.ParseSelector`, read for their grammar; the wording of the messages follows theirs).
//!
//! The hub asks this only offline: online the apiserver answers for itself. A selector it
//! refuses was never cached, but its *normalised* form may be (`a=1,` normalises to `a=1`), so
//! without this check the hub would answer a set where the cloud answers 400.

/// The label lexer's tokens (`in` and `notin` are words that may also be keys and values).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    In,
    NotIn,
    Not,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

impl Tok {
    /// What the apiserver's messages quote for this token.
    fn text(&self) -> &str {
        match self {
            Tok::Word(w) => w,
            Tok::In => "in",
            Tok::NotIn => "notin",
            Tok::Not => "!",
            Tok::Eq => "=",
            Tok::DoubleEq => "==",
            Tok::NotEq => "!=",
            Tok::Gt => ">",
            Tok::Lt => "<",
            Tok::Open => "(",
            Tok::Close => ")",
            Tok::Comma => ",",
            Tok::End => "",
        }
    }

    /// Where a key or a value may stand, `in` and `notin` are plain words.
    fn into_value(self) -> Tok {
        match self {
            Tok::In => Tok::Word("in".into()),
            Tok::NotIn => Tok::Word("notin".into()),
            t => t,
        }
    }
}

fn operator(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b"!" => Tok::Not,
        b"=" => Tok::Eq,
        b"==" => Tok::DoubleEq,
        b"!=" => Tok::NotEq,
        b">" => Tok::Gt,
        b"<" => Tok::Lt,
        b"(" => Tok::Open,
        b")" => Tok::Close,
        b"," => Tok::Comma,
        _ => return None,
    })
}

fn symbol_byte(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The label selector's tokens, ending with `End`. As in apimachinery's lexer, a NUL byte reads
/// like the end of the input: where a token would start it ends the selector; inside a word or
/// an operator it ends that token and is skipped.
fn lex(s: &[u8]) -> Vec<Tok> {
    let (mut at, mut out) = (0, Vec::new());
    loop {
        while s.get(at).copied().is_some_and(blank) {
            at += 1;
        }
        match s.get(at).copied() {
            None | Some(0) => {
                out.push(Tok::End);
                return out;
            }
            Some(b) if symbol_byte(b) => {
                let mut end = at + 1;
                while s.get(end).copied().is_some_and(symbol_byte)
                    && operator(&s[at..=end]).is_some()
                {
                    end += 1;
                }
                out.push(operator(&s[at..end]).unwrap_or(Tok::End));
                at = end + usize::from(s.get(end) == Some(&0));
            }
            Some(_) => {
                let mut end = at;
                while s
                    .get(end)
                    .is_some_and(|&b| b != 0 && !symbol_byte(b) && !blank(b))
                {
                    end += 1;
                }
                out.push(match &s[at..end] {
                    b"in" => Tok::In,
                    b"notin" => Tok::NotIn,
                    w => Tok::Word(String::from_utf8_lossy(w).into_owned()),
                });
                at = end + usize::from(s.get(end) == Some(&0));
            }
        }
    }
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    /// The next token, in values context (`in`/`notin` are words).
    fn peek(&self) -> Tok {
        self.toks
            .get(self.at)
            .cloned()
            .unwrap_or(Tok::End)
            .into_value()
    }

    /// Takes the next token as it is (operators context).
    fn take_raw(&mut self) -> Tok {
        let t = self.toks.get(self.at).cloned().unwrap_or(Tok::End);
        self.at += 1;
        t
    }

    fn take(&mut self) -> Tok {
        self.take_raw().into_value()
    }

    fn selector(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Tok::End => return Ok(()),
                Tok::Word(_) | Tok::Not => {
                    self.requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    match self.take() {
                        Tok::End => return Ok(()),
                        Tok::Comma => match self.peek() {
                            Tok::Word(_) | Tok::Not => {}
                            t => {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    t.text()
                                ))
                            }
                        },
                        t => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                t.text()
                            ))
                        }
                    }
                }
                t => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        t.text()
                    ))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<(), String> {
        let mut tok = self.take();
        let absent = tok == Tok::Not;
        if absent {
            tok = self.take();
        }
        let Tok::Word(key) = tok else {
            return Err(format!("found '{}', expected: identifier", tok.text()));
        };
        label_key(&key)?;
        if absent || matches!(self.peek(), Tok::End | Tok::Comma) {
            return Ok(());
        }
        let op = self.take_raw();
        let values = match op {
            Tok::In | Tok::NotIn => self.set()?,
            Tok::Eq | Tok::DoubleEq | Tok::NotEq | Tok::Gt | Tok::Lt => vec![self.exact()?],
            t => {
                return Err(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    t.text()
                ))
            }
        };
        for v in &values {
            if let Err(why) = label_value(v) {
                return Err(format!("Invalid value: \"{v}\": {why}"));
            }
            if matches!(op, Tok::Gt | Tok::Lt) && v.parse::<i64>().is_err() {
                return Err(format!(
                    "Invalid value: \"{v}\": for 'Gt', 'Lt' operators, the value must be an integer"
                ));
            }
        }
        Ok(())
    }

    /// The one value after `=`, `==`, `!=`, `>`, `<` (none before `,` or the end: `""`).
    fn exact(&mut self) -> Result<String, String> {
        match self.take() {
            Tok::End | Tok::Comma => {
                self.at -= 1;
                Ok(String::new())
            }
            Tok::Word(v) => Ok(v),
            t => Err(format!("found '{}', expected: identifier", t.text())),
        }
    }

    /// `( v, … )`; the values only matter for their validity, so empty places add `""`.
    fn set(&mut self) -> Result<Vec<String>, String> {
        let open = self.take();
        if open != Tok::Open {
            return Err(format!("found '{}' expected: '('", open.text()));
        }
        let first = self.peek();
        match first {
            Tok::Close => {
                self.at += 1;
                return Ok(vec![String::new()]);
            }
            Tok::Word(_) | Tok::Comma => {}
            t => {
                return Err(format!(
                    "found '{}', expected: ',', ')' or identifier",
                    t.text()
                ))
            }
        }
        let mut out = Vec::new();
        loop {
            match self.take() {
                Tok::Word(v) => {
                    out.push(v);
                    match self.peek() {
                        Tok::Comma => {}
                        Tok::Close => break,
                        t => return Err(format!("found '{}', expected: ',' or ')'", t.text())),
                    }
                }
                Tok::Comma => {
                    out.push(String::new());
                    if self.peek() == Tok::Close {
                        break;
                    }
                }
                t => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        t.text()
                    ))
                }
            }
        }
        match self.take() {
            Tok::Close => Ok(out),
            _ => Err(format!("found '{}', expected: ')'", first.text())),
        }
    }
}

/// `labels.Parse`: `Err` with the apiserver's message where it answers 400.
pub fn check_labels(selector: &str) -> Result<(), String> {
    Parser {
        toks: lex(selector.as_bytes()),
        at: 0,
    }
    .selector()
}

const NAME_CHARS: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
                          start and end with an alphanumeric character";

/// A label value: empty, or at most 63 of `[A-Za-z0-9_.-]` starting and ending alphanumeric.
fn label_value(v: &str) -> Result<(), &'static str> {
    let b = v.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || b"-_.".contains(c);
    if b.len() > 63 {
        Err("must be no more than 63 characters")
    } else if b.is_empty()
        || (b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(inner))
    {
        Ok(())
    } else {
        Err(
            "a valid label must be an empty string or consist of alphanumeric characters, \
             '-', '_' or '.', and must start and end with an alphanumeric character",
        )
    }
}

/// A label key: `[prefix/]name`, the name a label value that is not empty, the prefix a
/// DNS-1123 subdomain.
fn label_key(k: &str) -> Result<(), String> {
    let invalid = |why: &str| Err(format!("Invalid value: \"{k}\": {why}"));
    let (prefix, name) = match k.split('/').collect::<Vec<_>>()[..] {
        [name] => (None, name),
        [prefix, name] => (Some(prefix), name),
        _ => return invalid("a qualified name may hold one '/' at most"),
    };
    if name.is_empty() {
        return invalid("name part must be non-empty");
    }
    if name.len() > 63 {
        return invalid("name part must be no more than 63 characters");
    }
    if label_value(name).is_err() {
        return invalid(&format!("name part {NAME_CHARS}"));
    }
    match prefix {
        Some("") => invalid("prefix part must be non-empty"),
        Some(p) if !dns_subdomain(p) => invalid(
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
             character",
        ),
        _ => Ok(()),
    }
}

fn dns_subdomain(p: &str) -> bool {
    let label_ok = |l: &[u8]| {
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !l.is_empty()
            && edge(l[0])
            && edge(l[l.len() - 1])
            && l.iter().all(|&c| edge(c) || c == b'-')
    };
    p.len() <= 253 && p.as_bytes().split(|&c| c == b'.').all(label_ok)
}

/// `fields.ParseSelector` and the apiserver's field label check: terms split at unescaped
/// commas (empty ones skipped), each split at its first `!=`, `==` or `=`; the value's `\`
/// escapes only `\`, `,` and `=`. Which field labels a resource supports is the apiserver's to
/// say (a custom resource's selectable fields are its own); only the empty one is refused here.
pub fn check_fields(selector: &str) -> Result<(), String> {
    for term in split_field_terms(selector)
        .into_iter()
        .filter(|t| !t.is_empty())
    {
        let Some((label, _, value)) = split_field_term(term) else {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{term}'"
            ));
        };
        if label.is_empty() {
            return Err(format!("field label not supported: {label}"));
        }
        unescaped_value_ok(value)
            .map_err(|why| format!("invalid field selector value {value:?}: {why}"))?;
    }
    Ok(())
}

/// A field selector term split at its first operator (`!=`, `==` or `=`, escaped or not, as
/// `fields.ParseSelector` does): label, operator, value as written.
pub fn split_field_term(term: &str) -> Option<(&str, &'static str, &str)> {
    term.char_indices().find_map(|(i, _)| {
        ["!=", "==", "="]
            .into_iter()
            .find(|op| term[i..].starts_with(op))
            .map(|op| (&term[..i], op, &term[i + op.len()..]))
    })
}

/// Parts of a field selector between commas not escaped by `\` (parentheses mean nothing
/// there), as `fields.ParseSelector` splits it.
pub fn split_field_terms(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut escaped) = (Vec::new(), 0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A field selector value with `\\`, `,` and `=` escaped (`fields.EscapeValue`).
pub fn escape_field_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn unescaped_value_ok(v: &str) -> Result<(), &'static str> {
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\' | ',' | '=') => {}
                Some(_) => return Err("invalid escape sequence"),
                None => return Err("a trailing '\\' escapes nothing"),
            },
            ',' | '=' => return Err("'=' and ',' must be escaped with '\\'"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "selector_syntax_tests.rs"]
mod tests;
