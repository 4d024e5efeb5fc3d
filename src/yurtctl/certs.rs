//! The tunnel's own PKI, made by `yurtctl convert`: a tunnel CA and a serving certificate for
//! the tunnel server, signed by it (SANs: the host agents dial and the Service's DNS names). The
//! CA's key signs once and is dropped; agents trust the CA (ConfigMap `yurt-tunnel-ca`, copied to
//! each edge node), the server presents the certificate (Secret `yurt-tunnel-server-certs`).
//! Agents' client certificates are kubelet's, verified by the cluster's client CA, not by this.

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::Value;

use super::error::Error;

/// Years the tunnel CA and the server certificate are valid (no rotation yet: revert and
/// convert again to renew).
pub const VALID_YEARS: i32 = 10;

/// DNS names of the `yurt-tunnel-server` Service, always in the serving certificate.
pub const SERVICE_NAMES: [&str; 4] = [
    "yurt-tunnel-server",
    "yurt-tunnel-server.kube-system",
    "yurt-tunnel-server.kube-system.svc",
    "yurt-tunnel-server.kube-system.svc.cluster.local",
];

/// What the `tunnel-certs.yaml` objects carry: real PEM, or nothing (what `manifests` prints
/// unless asked to generate).
#[derive(Clone, PartialEq, Eq)]
pub struct TunnelCerts {
    /// The tunnel CA certificate (PEM); empty when redacted.
    pub ca_pem: String,
    /// The server certificate (PEM).
    pub cert_pem: String,
    /// The server certificate's private key (PEM).
    pub key_pem: String,
}

impl std::fmt::Debug for TunnelCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TunnelCerts(<redacted>)")
    }
}

/// The host part of `host:port` (`[v6]:port` unbracketed).
pub fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Today as (year, month, day), UTC (Howard Hinnant's civil_from_days).
fn today() -> (i32, u8, u8) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((yoe + era * 400 + i64::from(m <= 2)) as i32, m, d)
}

fn validity(p: &mut CertificateParams) {
    let (y, m, d) = today();
    // From yesterday, so a node whose clock lags a little still accepts it.
    p.not_before = rcgen::date_time_ymd(y, m, d) - std::time::Duration::from_secs(86_400);
    p.not_after = rcgen::date_time_ymd(y + VALID_YEARS, m, d.min(28));
}

impl TunnelCerts {
    /// Empty material, for printing the objects without secrets.
    pub fn redacted() -> TunnelCerts {
        TunnelCerts {
            ca_pem: String::new(),
            cert_pem: String::new(),
            key_pem: String::new(),
        }
    }

    /// A new tunnel CA and a serving certificate for `host` (IP or DNS name) and the Service's
    /// names.
    pub fn generate(host: &str) -> Result<TunnelCerts, Error> {
        let err = |e: rcgen::Error| Error::Template(format!("tunnel certificates: {e}"));
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name
            .push(DnType::CommonName, "yurt-tunnel-ca");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut ca);
        let ca_key = KeyPair::generate().map_err(err)?;
        let ca_cert = ca.self_signed(&ca_key).map_err(err)?;

        let mut sans = vec![host.to_string()];
        sans.extend(SERVICE_NAMES.iter().map(|s| s.to_string()));
        sans.dedup();
        let mut leaf = CertificateParams::new(sans).map_err(err)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "yurt-tunnel-server");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut leaf);
        let key = KeyPair::generate().map_err(err)?;
        let cert = leaf
            .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
            .map_err(err)?;
        Ok(TunnelCerts {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The material of an existing `yurt-tunnel-server-certs` Secret (`data`, base64).
    pub fn from_secret(secret: &Value) -> Result<TunnelCerts, Error> {
        let field = |k: &str| {
            let b64 = secret["data"][k].as_str().unwrap_or("");
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Error::Preflight(format!(
                        "Secret kube-system/yurt-tunnel-server-certs has no usable {k}; delete it and rerun convert to generate a new one"
                    ))
                })
        };
        Ok(TunnelCerts {
            ca_pem: field("ca.crt")?,
            cert_pem: field("tls.crt")?,
            key_pem: field("tls.key")?,
        })
    }

    /// Template values: base64 for the Secret, a JSON string for the ConfigMap's PEM.
    pub fn values(&self) -> [(&'static str, String); 4] {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        [
            ("tunnel_ca_b64", b64(&self.ca_pem)),
            ("tunnel_cert_b64", b64(&self.cert_pem)),
            ("tunnel_key_b64", b64(&self.key_pem)),
            (
                "tunnel_ca_json",
                serde_json::Value::String(self.ca_pem.clone()).to_string(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_dates() {
        assert_eq!(host_of("10.0.0.10:10262"), "10.0.0.10");
        assert_eq!(host_of("tunnel.example:10262"), "tunnel.example");
        assert_eq!(host_of("[fd00::1]:10262"), "fd00::1");
        let (y, m, d) = today();
        assert!(y >= 2024 && (1..=12).contains(&m) && (1..=31).contains(&d));
    }

    #[test]
    fn generated_material_round_trips_through_the_secret() {
        let c = TunnelCerts::generate("10.0.0.10").expect("generate");
        assert!(c.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let v = c.values();
        let secret =
            serde_json::json!({"data": {"ca.crt": v[0].1, "tls.crt": v[1].1, "tls.key": v[2].1}});
        assert_eq!(TunnelCerts::from_secret(&secret).expect("parse"), c);
        let bad = serde_json::json!({"data": {"ca.crt": v[0].1}});
        assert!(matches!(
            TunnelCerts::from_secret(&bad),
            Err(Error::Preflight(_))
        ));
        assert_eq!(
            TunnelCerts::redacted().values()[3].1,
            "\"\"",
            "empty JSON string"
        );
    }
}
