//! Kubeconfig files (kubelet.conf style): the cluster's CA and server, and the client identity.
//!
//! Only what the hub needs is read: the current context's cluster (`server`,
//! `certificate-authority[-data]`) and user (`client-certificate[-data]`, `client-key[-data]`,
//! `token`, `tokenFile`). Relative paths are resolved against the kubeconfig's folder, as kubectl does.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

/// Why a kubeconfig could not be used. `Display` is one line for humans.
#[derive(Debug)]
pub enum KubeconfigError {
    Read(PathBuf, std::io::Error),
    Yaml(PathBuf, String),
    Missing(PathBuf, String),
    Base64(PathBuf, &'static str),
}

impl std::fmt::Display for KubeconfigError {
    /// One line: control characters in paths the file names (`"a\nb"`) come out escaped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = match self {
            KubeconfigError::Read(p, e) => format!("cannot read {}: {e}", p.display()),
            KubeconfigError::Yaml(p, e) => {
                format!("{} is not a valid kubeconfig: {e}", p.display())
            }
            KubeconfigError::Missing(p, what) => format!("{}: {what}", p.display()),
            KubeconfigError::Base64(p, field) => {
                format!("{}: {field} is not valid base64", p.display())
            }
        };
        f.write_str(&super::config::one_line(&m))
    }
}

impl std::error::Error for KubeconfigError {}

/// What the hub takes from a kubeconfig.
#[derive(Clone)]
pub struct Kubeconfig {
    /// The current cluster's `server` URL.
    pub server: String,
    /// PEM of the CA that signs the apiserver's certificate.
    pub ca_pem: Vec<u8>,
    /// How the hub identifies itself upstream.
    pub credential: Credential,
}

/// The hub's own identity for requests that carry none.
#[derive(Clone)]
pub enum Credential {
    /// A client certificate and key, PEM.
    ClientCert { cert_pem: Vec<u8>, key_pem: Vec<u8> },
    /// A bearer token (never printed).
    Token(String),
    /// No credential: requests without Authorization go upstream anonymously.
    None,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ClientCert { .. } => f.write_str("ClientCert(<redacted>)"),
            Credential::Token(_) => f.write_str("Token(<redacted>)"),
            Credential::None => f.write_str("None"),
        }
    }
}

impl std::fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubeconfig")
            .field("server", &self.server)
            .field("credential", &self.credential)
            .finish()
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(rename = "current-context", default)]
    current_context: String,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: Option<T>,
}

#[derive(Deserialize, Default)]
struct Cluster {
    #[serde(default)]
    server: String,
    #[serde(rename = "certificate-authority")]
    ca_file: Option<String>,
    #[serde(rename = "certificate-authority-data")]
    ca_data: Option<String>,
}

#[derive(Deserialize, Default)]
struct User {
    #[serde(rename = "client-certificate")]
    cert_file: Option<String>,
    #[serde(rename = "client-certificate-data")]
    cert_data: Option<String>,
    #[serde(rename = "client-key")]
    key_file: Option<String>,
    #[serde(rename = "client-key-data")]
    key_data: Option<String>,
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
}

#[derive(Deserialize, Default)]
struct Context {
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    user: String,
}

impl Kubeconfig {
    /// Reads and resolves the kubeconfig at `path`.
    pub fn load(path: &Path) -> Result<Kubeconfig, KubeconfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| KubeconfigError::Read(path.to_path_buf(), e))?;
        Kubeconfig::parse(&text, path)
    }

    /// Resolves kubeconfig `text`; `path` names it in errors and anchors relative file paths.
    pub fn parse(text: &str, path: &Path) -> Result<Kubeconfig, KubeconfigError> {
        let file: File = serde_yaml_ng::from_str(text)
            .map_err(|e| KubeconfigError::Yaml(path.to_path_buf(), e.to_string()))?;
        let r = Resolver {
            path,
            dir: path.parent().unwrap_or(Path::new(".")),
        };
        let (cluster_name, user_name) = r.context(&file)?;
        let cluster = find(&file.clusters, &cluster_name)
            .ok_or_else(|| r.missing(format!("cluster {cluster_name:?} not found")))?;
        let user = find(&file.users, &user_name);
        let ca_pem = match (&cluster.ca_data, &cluster.ca_file) {
            (Some(d), _) => r.b64(d, "certificate-authority-data")?,
            (None, Some(f)) => r.read(f)?,
            (None, None) => {
                return Err(r.missing("the cluster has no certificate-authority".into()))
            }
        };
        let credential = match user {
            Some(u) => r.credential(u)?,
            None => Credential::None,
        };
        Ok(Kubeconfig {
            server: cluster.server.clone(),
            ca_pem,
            credential,
        })
    }
}

fn find<'a, T>(list: &'a [Named<T>], name: &str) -> Option<&'a T> {
    list.iter()
        .find(|n| n.name == name)
        .and_then(|n| n.value.as_ref())
}

struct Resolver<'a> {
    path: &'a Path,
    dir: &'a Path,
}

impl Resolver<'_> {
    fn missing(&self, what: String) -> KubeconfigError {
        KubeconfigError::Missing(self.path.to_path_buf(), what)
    }

    /// Cluster and user names of the current context (or the only ones present).
    fn context(&self, file: &File) -> Result<(String, String), KubeconfigError> {
        if let Some(ctx) = find(&file.contexts, &file.current_context) {
            return Ok((ctx.cluster.clone(), ctx.user.clone()));
        }
        if !file.current_context.is_empty() {
            return Err(self.missing(format!(
                "current-context {:?} not found",
                file.current_context
            )));
        }
        match (file.clusters.first(), file.users.first()) {
            (Some(c), u) => Ok((
                c.name.clone(),
                u.map(|u| u.name.clone()).unwrap_or_default(),
            )),
            (None, _) => Err(self.missing("no clusters defined".into())),
        }
    }

    fn read(&self, file: &str) -> Result<Vec<u8>, KubeconfigError> {
        let p = self.dir.join(file);
        std::fs::read(&p).map_err(|e| KubeconfigError::Read(p, e))
    }

    fn b64(&self, data: &str, field: &'static str) -> Result<Vec<u8>, KubeconfigError> {
        let compact: String = data.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| KubeconfigError::Base64(self.path.to_path_buf(), field))
    }

    fn pem(
        &self,
        data: &Option<String>,
        file: &Option<String>,
        field: &'static str,
    ) -> Result<Option<Vec<u8>>, KubeconfigError> {
        match (data, file) {
            (Some(d), _) => self.b64(d, field).map(Some),
            (None, Some(f)) => self.read(f).map(Some),
            (None, None) => Ok(None),
        }
    }

    fn credential(&self, u: &User) -> Result<Credential, KubeconfigError> {
        let cert = self.pem(&u.cert_data, &u.cert_file, "client-certificate-data")?;
        let key = self.pem(&u.key_data, &u.key_file, "client-key-data")?;
        match (cert, key) {
            (Some(cert_pem), Some(key_pem)) => {
                return Ok(Credential::ClientCert { cert_pem, key_pem })
            }
            (Some(_), None) => {
                return Err(self.missing("client certificate without client key".into()))
            }
            (None, Some(_)) => {
                return Err(self.missing("client key without client certificate".into()))
            }
            (None, None) => {}
        }
        if let Some(t) = &u.token {
            return Ok(Credential::Token(t.trim().to_string()));
        }
        if let Some(f) = &u.token_file {
            let t = self.read(f)?;
            return Ok(Credential::Token(
                String::from_utf8_lossy(&t).trim().to_string(),
            ));
        }
        Ok(Credential::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBELET_CONF: &str = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0FQRU0=\n    server: https://10.0.0.1:6443\n  name: default-cluster\ncontexts:\n- context:\n    cluster: default-cluster\n    namespace: default\n    user: default-auth\n  name: default-context\ncurrent-context: default-context\nkind: Config\npreferences: {}\nusers:\n- name: default-auth\n  user:\n    client-certificate: pki/kubelet-client-current.pem\n    client-key: pki/kubelet-client-current.pem\n";

    #[test]
    fn kubelet_conf_with_cert_files_relative_to_the_kubeconfig() {
        let dir = std::env::temp_dir().join(format!("yurt-kc-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pki")).expect("mkdir");
        std::fs::write(dir.join("pki/kubelet-client-current.pem"), b"CERTANDKEY").expect("write");
        let kc = Kubeconfig::parse(KUBELET_CONF, &dir.join("kubelet.conf")).expect("parses");
        assert_eq!(kc.server, "https://10.0.0.1:6443");
        assert_eq!(kc.ca_pem, b"CAPEM");
        assert!(
            matches!(&kc.credential, Credential::ClientCert { cert_pem, key_pem } if cert_pem == b"CERTANDKEY" && key_pem == b"CERTANDKEY")
        );
        assert!(
            !format!("{kc:?}").contains("CERTANDKEY"),
            "Debug must not print secrets"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn token_users_and_clear_errors() {
        let text = KUBELET_CONF.replace(
            "    client-certificate: pki/kubelet-client-current.pem\n    client-key: pki/kubelet-client-current.pem\n",
            "    token: abc.def\n",
        );
        let kc = Kubeconfig::parse(&text, Path::new("/x/kc")).expect("parses");
        assert!(matches!(&kc.credential, Credential::Token(t) if t == "abc.def"));
        assert!(!format!("{kc:?}").contains("abc.def"));

        let missing = KubeconfigError::to_string(
            &Kubeconfig::parse(KUBELET_CONF, Path::new("/nonexistent/kc")).expect_err("error"),
        );
        assert!(missing.contains("kubelet-client-current.pem"), "{missing}");
        let bad = Kubeconfig::parse("clusters: [", Path::new("/x/kc"))
            .expect_err("error")
            .to_string();
        assert!(bad.starts_with("/x/kc is not a valid kubeconfig"), "{bad}");
        let b64 = KUBELET_CONF
            .replace("Q0FQRU0=", "\"not base64%\"")
            .replace("client-certificate: pki", "token: t\n    x: pki");
        let e = Kubeconfig::parse(&b64, Path::new("/x/kc"))
            .expect_err("error")
            .to_string();
        assert!(
            e.contains("certificate-authority-data is not valid base64"),
            "{e}"
        );
        // Found by the user_config fuzz target: a file name with a line break (a YAML block
        // scalar) gave a two-line error.
        let nl = KUBELET_CONF.replace("pki/kubelet-client-current.pem", "\"a\\nb\"");
        let e = Kubeconfig::parse(&nl, Path::new("/x/kc"))
            .expect_err("error")
            .to_string();
        assert!(e.starts_with("cannot read /x/a\\nb: "), "{e}");
        let ctx = KUBELET_CONF.replace("current-context: default-context", "current-context: nope");
        let e = Kubeconfig::parse(&ctx, Path::new("/x/kc"))
            .expect_err("error")
            .to_string();
        assert!(e.contains("current-context \"nope\" not found"), "{e}");
    }
}
