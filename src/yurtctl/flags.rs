//! Pure edits of kubelet flags inside unit files and env files: point `--kubeconfig` at a new
//! path and drop `--bootstrap-kubeconfig`, leaving every other byte as it was.

/// The result of editing one file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The new text.
    pub text: String,
    /// The `--kubeconfig` values found before the edit, in order.
    pub old_kubeconfigs: Vec<String>,
}

/// Where a flag's value lies in a line: flag start, value start, value end.
#[derive(Debug, Clone, Copy)]
struct FlagSpan {
    start: usize,
    value: usize,
    end: usize,
}

fn is_boundary(b: u8) -> bool {
    b.is_ascii_whitespace() || b == b'"' || b == b'\'' || b == b'='
}

fn value_end(line: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < line.len() && !is_boundary(line[i]) && line[i] != b'\\' {
        i += 1;
    }
    i
}

/// The first `flag` (`--kubeconfig`) at or after `from`, with `=value` or ` value`.
fn find_flag(line: &str, flag: &str, from: usize) -> Option<FlagSpan> {
    let bytes = line.as_bytes();
    let mut at = from;
    while let Some(off) = line.get(at..)?.find(flag) {
        let start = at + off;
        let after = start + flag.len();
        let left_ok = start == 0 || is_boundary(bytes[start - 1]);
        match bytes.get(after) {
            Some(b'=') if left_ok => {
                let value = after + 1;
                return Some(FlagSpan {
                    start,
                    value,
                    end: value_end(bytes, value),
                });
            }
            Some(b' ') | Some(b'\t') if left_ok => {
                let mut value = after;
                while bytes.get(value).is_some_and(|b| *b == b' ' || *b == b'\t') {
                    value += 1;
                }
                return Some(FlagSpan {
                    start,
                    value,
                    end: value_end(bytes, value),
                });
            }
            _ => at = after,
        }
    }
    None
}

/// Removes every `--bootstrap-kubeconfig` flag (with one separating space) from `line`.
fn drop_bootstrap(line: &str) -> String {
    let mut line = line.to_string();
    while let Some(s) = find_flag(&line, "--bootstrap-kubeconfig", 0) {
        let mut end = s.end;
        let mut start = s.start;
        if line.as_bytes().get(end) == Some(&b' ') {
            end += 1;
        } else if start > 0 && line.as_bytes()[start - 1] == b' ' {
            start -= 1;
        }
        line.replace_range(start..end, "");
    }
    line
}

/// Points every `--kubeconfig` in `line` at `new`; returns the old values.
fn repoint(line: &mut String, new: &str) -> Vec<String> {
    let mut old = Vec::new();
    let mut from = 0;
    while let Some(s) = find_flag(line, "--kubeconfig", from) {
        old.push(line[s.value..s.end].to_string());
        line.replace_range(s.value..s.end, new);
        from = s.value + new.len();
    }
    old
}

/// Edits `text`: outside comment lines, `--kubeconfig` values become `new` and
/// `--bootstrap-kubeconfig` flags go. Lines keep their endings.
pub fn point_kubeconfig(text: &str, new: &str) -> Edit {
    let mut out = String::with_capacity(text.len() + new.len());
    let mut old_kubeconfigs = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') || !line.contains("kubeconfig") {
            out.push_str(line);
            continue;
        }
        let mut l = drop_bootstrap(line);
        old_kubeconfigs.extend(repoint(&mut l, new));
        out.push_str(&l);
    }
    Edit {
        text: out,
        old_kubeconfigs,
    }
}

/// Whether `text` sets `--kubeconfig` outside comments.
pub fn has_kubeconfig_flag(text: &str) -> bool {
    !point_kubeconfig(text, "").old_kubeconfigs.is_empty()
}

/// The last value of `flag` (`--config`) set outside comments, if any.
pub fn flag_value(text: &str, flag: &str) -> Option<String> {
    let mut last = None;
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut from = 0;
        while let Some(s) = find_flag(line, flag, from) {
            last = Some(line[s.value..s.end].to_string());
            from = s.end.max(s.start + flag.len());
        }
    }
    last
}

/// A top-level `key: value` scalar of a YAML document (no parser needed for one scalar).
pub fn top_level_scalar(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .find(|v| !v.is_empty())
}

/// The `server:` of the first cluster in a kubeconfig's text (no YAML parser needed for the
/// one scalar), if any.
pub fn kubeconfig_server(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("server:"))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DROPIN: &str = "[Service]\n# --kubeconfig=/not/this\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"\nExecStart=\n";

    #[test]
    fn kubeadm_dropin_is_repointed() {
        let e = point_kubeconfig(DROPIN, "/var/lib/openyurt/kubelet.conf");
        assert_eq!(e.old_kubeconfigs, vec!["/etc/kubernetes/kubelet.conf"]);
        assert!(e.text.contains(
            "Environment=\"KUBELET_KUBECONFIG_ARGS=--kubeconfig=/var/lib/openyurt/kubelet.conf\"\n"
        ));
        assert!(e.text.contains("# --kubeconfig=/not/this\n"));
        let again = point_kubeconfig(&e.text, "/var/lib/openyurt/kubelet.conf");
        assert_eq!(again.text, e.text);
    }

    #[test]
    fn space_form_and_continuations() {
        let unit = "ExecStart=/usr/bin/kubelet \\\n  --kubeconfig /var/lib/kubelet/kubeconfig \\\n  --v=2\n";
        let e = point_kubeconfig(unit, "/n");
        assert_eq!(e.old_kubeconfigs, vec!["/var/lib/kubelet/kubeconfig"]);
        assert_eq!(
            e.text,
            "ExecStart=/usr/bin/kubelet \\\n  --kubeconfig /n \\\n  --v=2\n"
        );
        assert!(!has_kubeconfig_flag(
            "KUBELET_KUBEADM_ARGS=\"--pod-infra-container-image=x\"\n"
        ));
        assert!(!has_kubeconfig_flag("--bootstrap-kubeconfig=/x\n"));
    }

    #[test]
    fn flag_values_and_scalars() {
        let t = "# --config=/no\nA=\"--config=/a --config-dir=/x\"\nB=--config /b\n";
        assert_eq!(flag_value(t, "--config").as_deref(), Some("/b"));
        assert_eq!(flag_value("--config-dir=/x", "--config"), None);
        let y = "kind: KubeletConfiguration\nstaticPodPath: /etc/kubernetes/manifests\n";
        assert_eq!(
            top_level_scalar(y, "staticPodPath").as_deref(),
            Some("/etc/kubernetes/manifests")
        );
        assert_eq!(
            top_level_scalar("  staticPodPath: /x\n", "staticPodPath"),
            None
        );
    }

    #[test]
    fn server_of_a_kubeconfig() {
        let k = "clusters:\n- cluster:\n    certificate-authority-data: AA\n    server: https://10.0.0.1:6443\n";
        assert_eq!(
            kubeconfig_server(k).as_deref(),
            Some("https://10.0.0.1:6443")
        );
    }
}
