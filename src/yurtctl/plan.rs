//! The conversion plan: which nodes are cloud, edge and autonomous, the image and the tunnel
//! address; and every object it renders to. `manifests` prints exactly what `convert` creates.

use serde_json::Value;

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

/// Splits a comma-separated list, dropping empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
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

    fn render(&self, t: &Template, node: Option<&str>) -> Result<String, Error> {
        let lists = [
            self.cloud.join(","),
            self.edge.join(","),
            self.autonomous.join(","),
        ];
        let mut v = self.values(&lists);
        if let Some(n) = node {
            v.push(("node", n));
        }
        template::render(t, &v)
    }

    /// Every object convert creates, as YAML documents (cluster objects, then one Job per edge node).
    pub fn manifests_yaml(&self) -> Result<String, Error> {
        let mut docs = Vec::new();
        for t in template::CLUSTER {
            docs.push(self.render(t, None)?);
        }
        for n in &self.edge {
            docs.push(self.render(&template::NODE_CONVERT_JOB, Some(n))?);
        }
        Ok(docs.join("---\n"))
    }

    /// The cluster-wide objects, in creation order.
    pub fn cluster_objects(&self) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for t in template::CLUSTER {
            out.extend(template::parse(t.name, &self.render(t, None)?)?);
        }
        Ok(out)
    }

    /// The convert (or revert) Job for `node`.
    pub fn node_job(&self, t: &Template, node: &str) -> Result<Value, Error> {
        template::parse(t.name, &self.render(t, Some(node))?)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Template(format!("{}: no object", t.name)))
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
