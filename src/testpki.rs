//! A throwaway PKI for the sandbox and tests: a CA, a serving certificate for loopback, and client
//! certificates in the kubelet form (`CN=system:node:<name>, O=system:nodes`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

use crate::net::tls::{self, Identity};

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct PemPair {
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for PemPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PemPair(<redacted>)")
    }
}

impl PemPair {
    /// The pair as a rustls identity.
    pub fn identity(&self) -> Identity {
        Identity::from_pem(self.cert.as_bytes(), self.key.as_bytes()).expect("generated PEM parses")
    }
}

/// A CA plus a server certificate for `localhost`/`127.0.0.1`/`::1` (and extra names).
pub struct TestPki {
    pub ca_pem: String,
    ca_params: CertificateParams,
    ca_key: KeyPair,
    pub server: PemPair,
}

/// Files written by [`TestPki::write_files`].
#[derive(Debug, Clone)]
pub struct PkiFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl TestPki {
    /// A new CA and a serving certificate valid for loopback and `extra_sans`.
    pub fn generate(extra_sans: &[&str]) -> Result<TestPki, rcgen::Error> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "yurt test CA");
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.clone().self_signed(&ca_key)?;
        let mut sans = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        sans.extend(extra_sans.iter().map(|s| s.to_string()));
        let mut pki = TestPki {
            ca_pem: ca_cert.pem(),
            ca_params,
            ca_key,
            server: PemPair {
                cert: String::new(),
                key: String::new(),
            },
        };
        pki.server = pki.issue(
            sans,
            "kube-apiserver",
            None,
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        Ok(pki)
    }

    /// A client certificate in the form kubelet uses: `CN=system:node:<node>, O=system:nodes`.
    pub fn node_client(&self, node: &str) -> Result<PemPair, rcgen::Error> {
        self.client(&format!("system:node:{node}"), Some("system:nodes"))
    }

    /// A client certificate with the given common name and organisation.
    pub fn client(&self, cn: &str, org: Option<&str>) -> Result<PemPair, rcgen::Error> {
        self.issue(Vec::new(), cn, org, ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A serving certificate for `sans` (names or IPs).
    pub fn serving(&self, sans: &[&str]) -> Result<PemPair, rcgen::Error> {
        let sans = sans.iter().map(|s| s.to_string()).collect();
        self.issue(
            sans,
            "yurt test server",
            None,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn issue(
        &self,
        sans: Vec<String>,
        cn: &str,
        org: Option<&str>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<PemPair, rcgen::Error> {
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(o) = org {
            params.distinguished_name.push(DnType::OrganizationName, o);
        }
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate()?;
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(PemPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// A rustls server config for the serving certificate; client certs optional, verified by the CA.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        tls::server_config(&self.server.identity(), Some(self.ca_pem.as_bytes()), false)
            .expect("generated PKI makes a valid server config")
    }

    /// Writes CA and server material into `dir` (files 0600).
    pub fn write_files(&self, dir: &Path) -> std::io::Result<PkiFiles> {
        let files = PkiFiles {
            ca: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        write_private(&files.ca, &self.ca_pem)?;
        write_private(&files.server_cert, &self.server.cert)?;
        write_private(&files.server_key, &self.server.key)?;
        Ok(files)
    }

    /// A kubelet.conf-style kubeconfig with the CA and `client` inline, pointing at `server_url`.
    pub fn kubeconfig(&self, server_url: &str, client: &PemPair) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {}\n  name: default-cluster\n\
             contexts:\n- context:\n    cluster: default-cluster\n    namespace: default\n    user: default-auth\n  name: default-context\n\
             current-context: default-context\npreferences: {{}}\nusers:\n- name: default-auth\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&self.ca_pem),
            server_url,
            b64(&client.cert),
            b64(&client.key)
        )
    }
}

/// Writes `contents` to `path`, readable by the owner only.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}
