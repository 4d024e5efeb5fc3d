//! The node name in a client certificate: a minimal DER walk to the subject's common name
//! (`CN=system:node:<name>`, the kubelet-client form). Pure, no allocation beyond the result.

/// The prefix kubelet-style client certificates carry in their common name.
pub const NODE_CN_PREFIX: &str = "system:node:";

/// Why no node name could be taken from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertNameError {
    /// The DER could not be walked to the subject.
    Malformed(&'static str),
    /// The subject has no common name.
    NoCommonName,
    /// The common name is not `system:node:<name>` with a valid node name.
    NotANode(String),
}

impl std::fmt::Display for CertNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertNameError::Malformed(why) => write!(f, "certificate is malformed: {why}"),
            CertNameError::NoCommonName => f.write_str("certificate subject has no common name"),
            CertNameError::NotANode(cn) => {
                write!(
                    f,
                    "certificate CN {cn:?} is not of the form system:node:<name>"
                )
            }
        }
    }
}

impl std::error::Error for CertNameError {}

/// The node name from a DER certificate's subject CN `system:node:<name>`.
pub fn node_name(der: &[u8]) -> Result<String, CertNameError> {
    let cn = subject_common_name(der)?;
    match cn.strip_prefix(NODE_CN_PREFIX) {
        Some(name) if crate::tunnel::frame::valid_node_name(name) => Ok(name.to_string()),
        _ => Err(CertNameError::NotANode(cn)),
    }
}

/// The first common name (OID 2.5.4.3) in a DER certificate's subject.
pub fn subject_common_name(der: &[u8]) -> Result<String, CertNameError> {
    let (cert, _) = tlv(der, 0x30)?;
    let (tbs, _) = tlv(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = skip(rest)?; // [0] version
    }
    for _ in 0..4 {
        rest = skip(rest)?; // serial, signature algorithm, issuer, validity
    }
    let (subject, _) = tlv(rest, 0x30)?;
    find_cn(subject)
}

const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

fn find_cn(mut name: &[u8]) -> Result<String, CertNameError> {
    while !name.is_empty() {
        let (rdn, after) = tlv(name, 0x31)?;
        name = after;
        let mut attrs = rdn;
        while !attrs.is_empty() {
            let (attr, next) = tlv(attrs, 0x30)?;
            attrs = next;
            let (oid, value) = tlv(attr, 0x06)?;
            if oid == CN_OID {
                return string_value(value);
            }
        }
    }
    Err(CertNameError::NoCommonName)
}

/// UTF8String, PrintableString, IA5String or T61String as text.
fn string_value(v: &[u8]) -> Result<String, CertNameError> {
    let tag = *v
        .first()
        .ok_or(CertNameError::Malformed("empty CN value"))?;
    if !matches!(tag, 0x0c | 0x13 | 0x16 | 0x14) {
        return Err(CertNameError::Malformed("CN is not a text string"));
    }
    let (s, _) = tlv(v, tag)?;
    String::from_utf8(s.to_vec()).map_err(|_| CertNameError::Malformed("CN is not UTF-8"))
}

/// Skips one TLV of any tag.
fn skip(buf: &[u8]) -> Result<&[u8], CertNameError> {
    let tag = *buf.first().ok_or(CertNameError::Malformed("truncated"))?;
    Ok(tlv(buf, tag)?.1)
}

/// Reads one TLV with `tag`: returns its contents and the bytes after it.
fn tlv(buf: &[u8], tag: u8) -> Result<(&[u8], &[u8]), CertNameError> {
    let truncated = CertNameError::Malformed("truncated");
    if buf.first() != Some(&tag) {
        return Err(CertNameError::Malformed("unexpected tag"));
    }
    let first = *buf.get(1).ok_or(truncated.clone())?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(CertNameError::Malformed("unsupported length"));
        }
        let bytes = buf.get(2..2 + n).ok_or(truncated.clone())?;
        let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, 2 + n)
    };
    let end = header.checked_add(len).ok_or(truncated.clone())?;
    let body = buf.get(header..end).ok_or(truncated)?;
    Ok((body, &buf[end..]))
}

#[cfg(all(test, feature = "sandbox"))]
mod tests {
    use super::*;
    use crate::testpki::TestPki;

    fn der(pem: &str) -> Vec<u8> {
        crate::net::tls::certs_from_pem(pem.as_bytes(), "test")
            .expect("test input is valid")
            .remove(0)
            .to_vec()
    }

    #[test]
    fn node_name_from_kubelet_client_cert() {
        let pki = TestPki::generate(&[]).expect("test input is valid");
        let cert = der(&pki.node_client("edge-1").expect("test input is valid").cert);
        assert_eq!(node_name(&cert), Ok("edge-1".to_string()));
        let other = der(&pki
            .client("admin", Some("system:masters"))
            .expect("test input is valid")
            .cert);
        assert_eq!(
            node_name(&other),
            Err(CertNameError::NotANode("admin".into()))
        );
        assert_eq!(
            subject_common_name(&der(&pki.ca_pem)),
            Ok("yurt test CA".into())
        );
    }

    #[test]
    fn every_prefix_is_an_error_not_a_panic() {
        let pki = TestPki::generate(&[]).expect("test input is valid");
        let cert = der(&pki.node_client("n").expect("test input is valid").cert);
        for i in 0..cert.len() {
            assert!(node_name(&cert[..i]).is_err());
        }
        let mut flipped = cert.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = node_name(&flipped);
            flipped[i] ^= 0xff;
        }
    }
}
