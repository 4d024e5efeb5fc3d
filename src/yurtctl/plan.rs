//! The conversion plan: which nodes are cloud, edge and autonomous, the image and the tunnel
//! address; and every object it renders to. `manifests` prints exactly what `convert` creates.

use serde_json::Value;

use super::certs::TunnelCerts;
use super::error::Error;
use super::template::{self, Template};

/// Node label marking edge (`true`) and cloud (`false`) nodes.
pub const EDGE_LABEL: &str = "openyurt.io/is-edge-worker";
/// Node annotation marking autonomous edge nodes.
pub const AUTONOMY_ANNOTATION: &str = "node.beta.openyurt.io/autonomy";
/// The ConfigMap that holds the hubs' settings and the plan.
pub const HUB_CFG: &str = "yurt-hub-cfg";

/// A resolved plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub cloud: Vec<String>,
    pub edge: Vec<String>,
    pub autonomous: Vec<String>,
    pub tunnel_server_address: String,
    pub image: String,
}

/// Splits a comma-separated list, dropping empty and repeated items.
pub fn split_list(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        if !out.iter().any(|o| o == x) {
            out.push(x.to_string());
        }
    }
    out
}

/// The yurt image, `yurt:<version>` under `registry` when given.
pub fn image(registry: Option<&str>) -> String {
    let name = format!("yurt:{}", env!("CARGO_PKG_VERSION"));
    match registry.map(|r| r.trim_end_matches('/')) {
        Some(r) if !r.is_empty() => format!("{r}/{name}"),
        _ => name,
    }
}

impl Plan {
    /// Checks the node sets are consistent: at least one cloud node, no node both cloud and
    /// edge, autonomous nodes among the edge ones.
    pub fn validate(&self) -> Result<(), Error> {
        if self.cloud.is_empty() {
            return Err(Error::Usage(
                "--cloud-nodes must name at least one node".into(),
            ));
        }
        if let Some(n) = self.cloud.iter().find(|n| self.edge.contains(n)) {
            return Err(Error::Usage(format!(
                "node {n} is both a cloud and an edge node"
            )));
        }
        if let Some(n) = self.autonomous.iter().find(|n| !self.edge.contains(n)) {
            return Err(Error::Usage(format!(
                "--autonomous-nodes: {n} is not an edge node (cloud nodes cannot be autonomous)"
            )));
        }
        Ok(())
    }

    fn values<'a>(&'a self, lists: &'a [String; 3]) -> Vec<(&'a str, &'a str)> {
        vec![
            ("cloud_nodes", lists[0].as_str()),
            ("edge_nodes", lists[1].as_str()),
            ("autonomous_nodes", lists[2].as_str()),
            ("tunnel_server_address", self.tunnel_server_address.as_str()),
            ("image", self.image.as_str()),
        ]
    }

    fn render(
        &self,
        t: &Template,
        node: Option<&str>,
        certs: &TunnelCerts,
    ) -> Result<String, Error> {
        let lists = [
            self.cloud.join(","),
            self.edge.join(","),
            self.autonomous.join(","),
        ];
        let mut v = self.values(&lists);
        if let Some(n) = node {
            v.push(("node", n));
        }
        let cert_values = certs.values();
        v.extend(cert_values.iter().map(|(k, x)| (*k, x.as_str())));
        template::render(t, &v)
    }

    /// Every object convert creates, as YAML documents (cluster objects, then one Job per edge
    /// node); the tunnel's Secret and CA ConfigMap carry `certs`.
    pub fn manifests_yaml(&self, certs: &TunnelCerts) -> Result<String, Error> {
        let mut docs = Vec::new();
        for t in template::CLUSTER {
            docs.push(self.render(t, None, certs)?);
        }
        for n in &self.edge {
            docs.push(self.render(&template::NODE_CONVERT_JOB, Some(n), certs)?);
        }
        Ok(docs.join("---\n"))
    }

    /// The cluster-wide objects, in creation order, the tunnel's carrying `certs`.
    pub fn cluster_objects(&self, certs: &TunnelCerts) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for t in template::CLUSTER {
            out.extend(template::parse(t.name, &self.render(t, None, certs)?)?);
        }
        Ok(out)
    }

    /// The check, convert or revert Job for `node`.
    pub fn node_job(&self, t: &Template, node: &str) -> Result<Value, Error> {
        template::parse(
            t.name,
            &self.render(t, Some(node), &TunnelCerts::redacted())?,
        )?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Template(format!("{}: no object", t.name)))
    }

    /// How `other` differs from this (recorded) plan, e.g. `edge nodes: recorded a,b, now a`;
    /// `None` when they are the same.
    pub fn difference(&self, other: &Plan) -> Option<String> {
        let fields = [
            ("cloud nodes", self.cloud.join(","), other.cloud.join(",")),
            ("edge nodes", self.edge.join(","), other.edge.join(",")),
            (
                "autonomous nodes",
                self.autonomous.join(","),
                other.autonomous.join(","),
            ),
            (
                "tunnel server address",
                self.tunnel_server_address.clone(),
                other.tunnel_server_address.clone(),
            ),
            ("image", self.image.clone(), other.image.clone()),
        ];
        let diffs: Vec<String> = fields
            .into_iter()
            .filter(|(_, a, b)| a != b)
            .map(|(what, a, b)| format!("{what}: recorded {a:?}, now {b:?}"))
            .collect();
        (!diffs.is_empty()).then(|| diffs.join("; "))
    }

    /// The plan recorded in a `yurt-hub-cfg` ConfigMap.
    pub fn from_configmap(cm: &Value) -> Option<Plan> {
        let d = cm.get("data")?;
        let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Some(Plan {
            cloud: split_list(&s("cloudNodes")),
            edge: split_list(&s("edgeNodes")),
            autonomous: split_list(&s("autonomousNodes")),
            tunnel_server_address: s("tunnelServerAddress"),
            image: s("image"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(edge: &str, image: &str) -> Plan {
        Plan {
            cloud: split_list("c"),
            edge: split_list(edge),
            autonomous: vec![],
            tunnel_server_address: "t:1".into(),
            image: image.into(),
        }
    }

    #[test]
    fn lists_and_differences() {
        assert_eq!(split_list(" a, ,b,a,"), vec!["a", "b"]);
        assert_eq!(plan("a,b", "i").difference(&plan("a,b", "i")), None);
        assert_eq!(
            plan("a,b", "i").difference(&plan("a", "j")).as_deref(),
            Some("edge nodes: recorded \"a,b\", now \"a\"; image: recorded \"i\", now \"j\"")
        );
        let bad = Plan {
            autonomous: split_list("c"),
            ..plan("a", "i")
        };
        assert!(matches!(bad.validate(), Err(Error::Usage(_))));
    }
}
