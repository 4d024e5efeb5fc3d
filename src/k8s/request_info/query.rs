//! Query strings: form-decoded pairs, and the list options (selectors, resourceVersion, watch, ...) read from them.

use super::decode::{find_byte, first_forbidden_raw, has_byte, percent_decode};
use super::error::{quote, RequestError};

/// A decoded query: `key=value` pairs in the order sent. A key without `=` has an empty value.
#[derive(Debug, Default)]
pub(super) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Form-decodes a raw query (without the `?`): `&` separates pairs, empty pairs are skipped,
    /// `+` is a space. A `;` is refused, as Go's net/url has done since Go 1.17.
    pub(super) fn parse(raw: &str) -> Result<Query, RequestError> {
        if let Some(c) = first_forbidden_raw(raw) {
            return Err(bad(format!(
                "{} contains the raw character {c:?}",
                quote(raw)
            )));
        }
        let mut pairs = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            if has_byte(pair, b';') {
                return Err(bad(format!("{} uses ';' as a separator", quote(pair))));
            }
            let (key, value) = match find_byte(pair, b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            pairs.push((decode(key)?, decode(value)?));
        }
        Ok(Query { pairs })
    }

    /// The first value sent for `key`; later duplicates are ignored.
    pub(super) fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(raw: &str) -> Result<String, RequestError> {
    percent_decode(raw, true).map_err(|e| bad(format!("{}: {}", quote(raw), e.describe())))
}

fn bad(why: String) -> RequestError {
    RequestError::BadQuery(why)
}

/// The `ListOptions` query parameters a resource request may carry (meta/v1 names).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ListOptions {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub limit: Option<u64>,
    pub continue_token: Option<String>,
    pub include_object: Option<String>,
    pub send_initial_events: bool,
    pub allow_watch_bookmarks: bool,
    pub watch: bool,
}

/// Reads the list options. Text options that are empty count as absent (an empty selector
/// selects everything, an empty resourceVersion is "most recent"), so equal requests compare equal.
pub(super) fn list_options(query: &Query) -> Result<ListOptions, RequestError> {
    Ok(ListOptions {
        label_selector: text(query, "labelSelector")?,
        field_selector: text(query, "fieldSelector")?,
        resource_version: text(query, "resourceVersion")?,
        resource_version_match: text(query, "resourceVersionMatch")?,
        timeout_seconds: number(query, "timeoutSeconds")?,
        limit: number(query, "limit")?,
        continue_token: text(query, "continue")?,
        include_object: text(query, "includeObject")?,
        send_initial_events: flag(query, "sendInitialEvents"),
        allow_watch_bookmarks: flag(query, "allowWatchBookmarks"),
        watch: flag(query, "watch"),
    })
}

/// A text option: `None` when absent or empty; a control character (e.g. `%00`) is refused, so
/// the value is safe to put into cache keys and logs.
fn text(query: &Query, key: &str) -> Result<Option<String>, RequestError> {
    match query.first(key) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().any(char::is_control) => Err(bad(format!(
            "{key}={} contains a control character",
            quote(v)
        ))),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// A non-negative integer option; present but empty or non-numeric is refused, as
/// kube-apiserver refuses it.
fn number(query: &Query, key: &str) -> Result<Option<u64>, RequestError> {
    match query.first(key) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad(format!("{key}={} is not a non-negative integer", quote(v)))),
    }
}

/// A boolean option, as apimachinery converts it: absent, `0` or `false` (any case) is false;
/// anything else, even an empty value, is true.
fn flag(query: &Query, key: &str) -> bool {
    match query.first(key) {
        None => false,
        Some(v) => !(v == "0" || v.eq_ignore_ascii_case("false")),
    }
}
