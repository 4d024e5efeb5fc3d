//! Manifest templates: the files under `manifests/yurtctl/`, compiled in and rendered with
//! `{{name}}` placeholders filled from a value table. A placeholder with no value is an error.

use serde_json::Value;

use super::error::Error;

/// A template file: its path under `manifests/yurtctl/` and its text.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub name: &'static str,
    pub text: &'static str,
}

macro_rules! template {
    ($file:literal) => {
        Template {
            name: $file,
            text: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/manifests/yurtctl/",
                $file
            )),
        }
    };
}

/// Cluster-wide objects, in the order convert creates them (revert deletes in reverse). The
/// plan's record (`yurt-hub-cfg`) comes first, so an interrupted convert can always be reverted.
pub const CLUSTER: &[Template] = &[
    template!("yurt-hub-cfg.yaml"),
    template!("rbac.yaml"),
    template!("tunnel-certs.yaml"),
    template!("tunnel-server.yaml"),
];
/// The Job that checks one edge node before anything changes (`{{node}}`).
pub const NODE_CHECK_JOB: Template = template!("node-check-job.yaml");
/// The Job that converts one edge node (`{{node}}`).
pub const NODE_CONVERT_JOB: Template = template!("node-convert-job.yaml");
/// The Job that reverts one edge node (`{{node}}`).
pub const NODE_REVERT_JOB: Template = template!("node-revert-job.yaml");
/// The kubelet kubeconfig `node convert` writes (server `http://127.0.0.1:10261`, no credentials).
pub const KUBELET_CONF: Template = template!("node/kubelet.conf");
/// The `yurt edge` static pod `node convert` writes.
pub const EDGE_POD: Template = template!("node/yurt-edge.yaml");

/// Every template, for tests that render and parse them all.
pub fn all() -> Vec<Template> {
    let mut v = CLUSTER.to_vec();
    v.extend([
        NODE_CHECK_JOB,
        NODE_CONVERT_JOB,
        NODE_REVERT_JOB,
        KUBELET_CONF,
        EDGE_POD,
    ]);
    v
}

/// Fills every `{{key}}` of `t` from `values`; an unknown key is [`Error::Template`].
pub fn render(t: &Template, values: &[(&str, &str)]) -> Result<String, Error> {
    let mut out = String::with_capacity(t.text.len());
    let mut rest = t.text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| Error::Template(format!("{}: unclosed {{{{", t.name)))?;
        let key = after[..end].trim();
        let value = values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| Error::Template(format!("{}: no value for {{{{{key}}}}}", t.name)))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses rendered YAML (one or more `---`-separated documents) into JSON objects, skipping
/// empty documents.
pub fn parse(name: &str, yaml: &str) -> Result<Vec<Value>, Error> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc)
            .map_err(|e| Error::Template(format!("{name}: not valid YAML after rendering: {e}")))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_and_unknown_ones_fail() {
        let t = Template {
            name: "t",
            text: "a: {{x}}\nb: \"{{ y }}\"\n",
        };
        let out = render(&t, &[("x", "1"), ("y", "two")]).expect("render");
        assert_eq!(out, "a: 1\nb: \"two\"\n");
        assert!(matches!(render(&t, &[("x", "1")]), Err(Error::Template(_))));
        let docs = parse("t", "a: 1\n---\n---\nb: 2\n").expect("parse");
        assert_eq!(docs.len(), 2);
    }
}
