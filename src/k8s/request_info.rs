//! RequestInfo: what a Kubernetes API request asks for, parsed from its method and URL.
//! (Interim minimal version; the full parser replaces it.)

/// Kubernetes verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

/// A parsed request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub is_resource: bool,
    pub verb: Option<Verb>,
    pub resource: String,
    pub subresource: String,
}

/// Why a request cannot be understood.
#[derive(Debug)]
pub enum RequestError {
    UnknownMethod(String),
    BadPath(String),
    BadQuery(String),
}

impl RequestError {
    /// The HTTP status for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            RequestError::UnknownMethod(_) => 405,
            _ => 400,
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::UnknownMethod(m) => write!(f, "method {m:?} is not supported"),
            RequestError::BadPath(p) => write!(f, "invalid path: {p}"),
            RequestError::BadQuery(q) => write!(f, "invalid query: {q}"),
        }
    }
}

impl RequestInfo {
    /// Lower-case verb as Kubernetes names it.
    pub fn verb_str(&self) -> &'static str {
        match self.verb {
            Some(Verb::Get) | None => "get",
            Some(Verb::List) => "list",
            Some(Verb::Watch) => "watch",
            Some(Verb::Create) => "create",
            Some(Verb::Update) => "update",
            Some(Verb::Patch) => "patch",
            Some(Verb::Delete) => "delete",
            Some(Verb::DeleteCollection) => "deletecollection",
        }
    }
}

/// Parses `method` and `path_and_query`.
pub fn parse(method: &str, path_and_query: &str) -> Result<RequestInfo, RequestError> {
    let verb = match method {
        "GET" | "HEAD" => Verb::Get,
        "POST" => Verb::Create,
        "PUT" => Verb::Update,
        "PATCH" => Verb::Patch,
        "DELETE" => Verb::Delete,
        m => return Err(RequestError::UnknownMethod(m.to_string())),
    };
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    if path.split('/').any(|s| s == ".." || s == ".") || path.contains('\0') {
        return Err(RequestError::BadPath(path.to_string()));
    }
    if bad_percent(path) {
        return Err(RequestError::BadPath(path.to_string()));
    }
    if bad_percent(query) {
        return Err(RequestError::BadQuery(query.to_string()));
    }
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match parts.first() {
        Some(&"api") if parts.len() > 2 => &parts[2..],
        Some(&"apis") if parts.len() > 3 => &parts[3..],
        _ => {
            return Ok(RequestInfo {
                is_resource: false,
                verb: Some(verb),
                ..Default::default()
            })
        }
    };
    let rest = if rest.first() == Some(&"namespaces") && rest.len() > 2 {
        &rest[2..]
    } else {
        rest
    };
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match (verb, rest.len()) {
        (Verb::Get, 1) if watch => Verb::Watch,
        (Verb::Get, 1) => Verb::List,
        (Verb::Delete, 1) => Verb::DeleteCollection,
        (v, _) => v,
    };
    Ok(RequestInfo {
        is_resource: true,
        verb: Some(verb),
        resource: rest.first().map(|s| s.to_string()).unwrap_or_default(),
        subresource: rest.get(2).map(|s| s.to_string()).unwrap_or_default(),
    })
}

fn bad_percent(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

/// The client component: User-Agent lower-cased up to the first '/'.
pub fn component(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    ua.split('/')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}
