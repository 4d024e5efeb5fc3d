//! TLS for the tunnel: TLS 1.3 only, mutual, with its own ALPN on the agent link; client
//! certificates required on the CONNECT front end.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::net::tls::{self, certs_from_pem, Identity, TlsError};

/// ALPN of the agent link.
pub const ALPN: &[u8] = b"yurt-tunnel/1";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca_pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs_from_pem(ca_pem, "the certificate authority")? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// The server side of the agent link: TLS 1.3, agent certificates required and verified by `ca_pem`.
pub fn agent_listener_config(
    identity: &Identity,
    ca_pem: &[u8],
) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(ca_pem)?),
        provider(),
    )
    .build()
    .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The agent side of the link: TLS 1.3, trusting `ca_pem`, presenting `identity`.
pub fn agent_dial_config(
    ca_pem: &[u8],
    identity: &Identity,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(ca_pem)?)
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The CONNECT front end over TLS: client certificates required and verified by `ca_pem`; no
/// ALPN, since CONNECT clients (kube-apiserver, curl) need none.
pub fn proxy_config(identity: &Identity, ca_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    let base = tls::server_config(identity, Some(ca_pem), true)?;
    let mut config = (*base).clone();
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
}

/// The agent's TLS material as files, read again before each connection attempt, so a rotated
/// kubelet client certificate (`kubelet-client-current.pem`) is picked up without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTlsFiles {
    /// Client certificate chain (PEM); may be the same file as `key`.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// CA that verifies the servers (PEM).
    pub ca: PathBuf,
}

impl AgentTlsFiles {
    /// Reads the files and builds [`agent_dial_config`]; the error names the file or the problem.
    pub fn load(&self) -> Result<Arc<ClientConfig>, String> {
        let read =
            |p: &PathBuf| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        let identity =
            Identity::from_pem(&read(&self.cert)?, &read(&self.key)?).map_err(|e| e.to_string())?;
        agent_dial_config(&read(&self.ca)?, &identity).map_err(|e| e.to_string())
    }
}
