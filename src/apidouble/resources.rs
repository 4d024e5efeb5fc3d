//! The resource table: which group/version/resources the double serves, their kinds, scopes and verbs.

/// Every verb a plain resource supports.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Verbs of a `status` subresource.
pub const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// A subresource: its name, the kind it answers with (group/version empty = the parent's) and verbs.
#[derive(Debug, Clone, Copy)]
pub struct Subresource {
    pub name: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// One served resource.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// API group; empty for core.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural resource name as in URLs (`pods`).
    pub name: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The Kubernetes API fixture (`k8s\0` envelope) whose non-metadata fields stand in for the
    /// object's spec/status in protobuf answers.
    pub fixture_pb: &'static [u8],
}

impl Resource {
    /// `v1` or `group/version`, as objects carry it in `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `leases.coordination.k8s.io`, as error messages name resources.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.name.to_string()
        } else {
            format!("{}.{}", self.name, self.group)
        }
    }

    /// Whether the resource has a `status` subresource.
    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "status")
    }

    /// The named subresource.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

macro_rules! fixture {
    ($file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/k8s-api-testdata/",
            $file
        ))
    };
}

const fn status(kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        group: "",
        version: "",
        kind,
        verbs: STATUS_VERBS,
    }
}

const TOKEN: Subresource = Subresource {
    name: "token",
    group: "authentication.k8s.io",
    version: "v1",
    kind: "TokenRequest",
    verbs: &["create"],
};

#[allow(clippy::too_many_arguments)]
const fn res(
    group: &'static str,
    name: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    subresources: &'static [Subresource],
    fixture_pb: &'static [u8],
) -> Resource {
    Resource {
        group,
        version: "v1",
        name,
        singular,
        kind,
        namespaced,
        short_names,
        categories: &[],
        subresources,
        fixture_pb,
    }
}

/// The standard resource table, in discovery order.
#[rustfmt::skip]
pub static RESOURCES: &[Resource] = &[
    res("", "namespaces", "namespace", "Namespace", false, &["ns"], &[status("Namespace")], fixture!("core.v1.Namespace.pb")),
    res("", "nodes", "node", "Node", false, &["no"], &[status("Node")], fixture!("core.v1.Node.pb")),
    Resource {
        categories: &["all"],
        ..res("", "pods", "pod", "Pod", true, &["po"], &[status("Pod")], fixture!("core.v1.Pod.pb"))
    },
    Resource {
        categories: &["all"],
        ..res("", "services", "service", "Service", true, &["svc"], &[status("Service")], fixture!("core.v1.Service.pb"))
    },
    res("", "endpoints", "endpoints", "Endpoints", true, &["ep"], &[], fixture!("core.v1.Endpoints.pb")),
    res("", "configmaps", "configmap", "ConfigMap", true, &["cm"], &[], fixture!("core.v1.ConfigMap.pb")),
    res("", "secrets", "secret", "Secret", true, &[], &[], fixture!("core.v1.Secret.pb")),
    res("", "events", "event", "Event", true, &["ev"], &[], fixture!("core.v1.Event.pb")),
    res("", "serviceaccounts", "serviceaccount", "ServiceAccount", true, &["sa"], &[TOKEN], fixture!("core.v1.ServiceAccount.pb")),
    res("", "persistentvolumes", "persistentvolume", "PersistentVolume", false, &["pv"], &[status("PersistentVolume")], fixture!("core.v1.PersistentVolume.pb")),
    res("", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true, &["pvc"], &[status("PersistentVolumeClaim")], fixture!("core.v1.PersistentVolumeClaim.pb")),
    res("coordination.k8s.io", "leases", "lease", "Lease", true, &[], &[], fixture!("coordination.k8s.io.v1.Lease.pb")),
    res("discovery.k8s.io", "endpointslices", "endpointslice", "EndpointSlice", true, &[], &[], fixture!("discovery.k8s.io.v1.EndpointSlice.pb")),
    res("storage.k8s.io", "csinodes", "csinode", "CSINode", false, &[], &[], fixture!("storage.k8s.io.v1.CSINode.pb")),
    res("storage.k8s.io", "csidrivers", "csidriver", "CSIDriver", false, &[], &[], fixture!("storage.k8s.io.v1.CSIDriver.pb")),
    res("node.k8s.io", "runtimeclasses", "runtimeclass", "RuntimeClass", false, &[], &[], fixture!("node.k8s.io.v1.RuntimeClass.pb")),
    res("networking.k8s.io", "servicecidrs", "servicecidr", "ServiceCIDR", false, &[], &[status("ServiceCIDR")], fixture!("networking.k8s.io.v1.ServiceCIDR.pb")),
    res("certificates.k8s.io", "certificatesigningrequests", "certificatesigningrequest", "CertificateSigningRequest", false, &["csr"], &[status("CertificateSigningRequest")], fixture!("certificates.k8s.io.v1.CertificateSigningRequest.pb")),
    res("events.k8s.io", "events", "event", "Event", true, &["ev"], &[], fixture!("events.k8s.io.v1.Event.pb")),
    // What yurtctl convert creates.
    res("apps", "daemonsets", "daemonset", "DaemonSet", true, &["ds"], &[status("DaemonSet")], fixture!("apps.v1.DaemonSet.pb")),
    res("apps", "deployments", "deployment", "Deployment", true, &["deploy"], &[status("Deployment")], fixture!("apps.v1.Deployment.pb")),
    res("batch", "jobs", "job", "Job", true, &[], &[status("Job")], fixture!("batch.v1.Job.pb")),
    res("rbac.authorization.k8s.io", "clusterroles", "clusterrole", "ClusterRole", false, &[], &[], fixture!("rbac.authorization.k8s.io.v1.ClusterRole.pb")),
    res("rbac.authorization.k8s.io", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, &[], &[], fixture!("rbac.authorization.k8s.io.v1.ClusterRoleBinding.pb")),
    res("rbac.authorization.k8s.io", "roles", "role", "Role", true, &[], &[], fixture!("rbac.authorization.k8s.io.v1.Role.pb")),
    res("rbac.authorization.k8s.io", "rolebindings", "rolebinding", "RoleBinding", true, &[], &[], fixture!("rbac.authorization.k8s.io.v1.RoleBinding.pb")),
];

/// Index of the resource `name` in `group`/`version`.
pub fn find(group: &str, version: &str, name: &str) -> Option<usize> {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.version == version && r.name == name)
}

/// The resource at `idx` (indices come from [`find`]).
pub fn get(idx: usize) -> Option<&'static Resource> {
    RESOURCES.get(idx)
}

/// The API groups served, in discovery order, each with its one version (`v1`). Core is `""`.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert!(RESOURCES.len() >= 19);
        for (i, r) in RESOURCES.iter().enumerate() {
            assert_eq!(
                find(r.group, r.version, r.name),
                Some(i),
                "{} twice",
                r.name
            );
            assert!(r.fixture_pb.starts_with(b"k8s\0"), "{} fixture", r.name);
        }
        let pods = get(find("", "v1", "pods").expect("pods")).expect("pods");
        assert!(pods.has_status() && pods.namespaced);
        assert_eq!(pods.api_version(), "v1");
        let lease = get(find("coordination.k8s.io", "v1", "leases").expect("leases")).expect("l");
        assert_eq!(lease.api_version(), "coordination.k8s.io/v1");
        assert_eq!(lease.qualified_name(), "leases.coordination.k8s.io");
        assert_eq!(groups().first(), Some(&""));
        assert!(find("apps", "v1", "replicasets").is_none());
    }
}
