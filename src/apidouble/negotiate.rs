//! Content negotiation: which encoding and which form (object, Table, metadata only, aggregated
//! discovery) a request's `Accept` header asks for, as kube-apiserver picks it.

use super::errors::DoubleError;

/// The wire encoding of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Yaml,
    Protobuf,
}

/// The form of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The objects themselves.
    Plain,
    /// `meta.k8s.io` Table of the given version (`v1` or `v1beta1`).
    Table(&'static str),
    /// `meta.k8s.io/v1` PartialObjectMetadata(List).
    PartialMetadata,
    /// `apidiscovery.k8s.io/v2` APIGroupDiscoveryList (only on `/api` and `/apis`).
    AggregatedDiscovery,
}

/// The negotiated answer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub encoding: Encoding,
    pub form: Form,
}

impl Negotiated {
    /// Plain JSON.
    pub const JSON: Negotiated = Negotiated {
        encoding: Encoding::Json,
        form: Form::Plain,
    };

    /// The `Content-Type` of a non-watch answer.
    pub fn content_type(&self) -> &'static str {
        match (self.form, self.encoding) {
            (Form::AggregatedDiscovery, _) => {
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            }
            (_, Encoding::Json) => "application/json",
            (_, Encoding::Yaml) => "application/yaml",
            (_, Encoding::Protobuf) => "application/vnd.kubernetes.protobuf",
        }
    }

    /// The `Content-Type` of a watch stream.
    pub fn watch_content_type(&self) -> &'static str {
        match self.encoding {
            Encoding::Protobuf => "application/vnd.kubernetes.protobuf;stream=watch",
            Encoding::Yaml => "application/yaml",
            Encoding::Json => "application/json",
        }
    }
}

/// Picks the first media range of `accept` the double can produce. `discovery` allows the
/// aggregated discovery form. An empty header means JSON.
pub fn negotiate(accept: &str, discovery: bool) -> Result<Negotiated, DoubleError> {
    negotiate_with(accept, discovery, true)
}

/// Like [`negotiate`]; with `protobuf` false, protobuf ranges are skipped (JSON when also accepted).
pub fn negotiate_with(
    accept: &str,
    discovery: bool,
    protobuf: bool,
) -> Result<Negotiated, DoubleError> {
    if accept.trim().is_empty() {
        return Ok(Negotiated::JSON);
    }
    for range in accept.split(',') {
        let media = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let param = |name: &str| -> Option<String> {
            range
                .split(';')
                .skip(1)
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        if param("q").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)) {
            continue;
        }
        let (as_, g, v) = (param("as"), param("g"), param("v"));
        let encoding = match media.as_str() {
            "application/json" | "*/*" | "application/*" => Encoding::Json,
            "application/yaml" => Encoding::Yaml,
            "application/vnd.kubernetes.protobuf" if protobuf => Encoding::Protobuf,
            _ => continue,
        };
        let form = match (as_.as_deref(), g.as_deref(), v.as_deref()) {
            (None, _, _) => Form::Plain,
            (Some("Table"), Some("meta.k8s.io"), Some("v1")) => Form::Table("v1"),
            (Some("Table"), Some("meta.k8s.io"), Some("v1beta1")) => Form::Table("v1beta1"),
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1"),
            ) => Form::PartialMetadata,
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2"))
                if discovery =>
            {
                Form::AggregatedDiscovery
            }
            _ => continue,
        };
        if form != Form::Plain && encoding != Encoding::Json {
            continue;
        }
        return Ok(Negotiated { encoding, form });
    }
    Err(DoubleError::NotAcceptable(
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(accept: &str) -> Negotiated {
        negotiate(accept, true).expect(accept)
    }

    #[test]
    fn clients_get_what_they_ask_for() {
        assert_eq!(n(""), Negotiated::JSON);
        assert_eq!(
            n("application/vnd.kubernetes.protobuf,application/json").encoding,
            Encoding::Protobuf
        );
        assert_eq!(
            n("application/vnd.kubernetes.protobuf, */*").encoding,
            Encoding::Protobuf
        );
        assert_eq!(n("application/json, */*"), Negotiated::JSON);
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(n(kubectl).form, Form::Table("v1"));
        let disc = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(n(disc).form, Form::AggregatedDiscovery);
        assert_eq!(negotiate(disc, false).expect("json").form, Form::Plain);
        assert_eq!(
            n("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io").form,
            Form::PartialMetadata
        );
        assert_eq!(n("application/yaml").encoding, Encoding::Yaml);
        assert_eq!(
            n("application/vnd.kubernetes.protobuf;q=0, application/json"),
            Negotiated::JSON
        );
        assert_eq!(
            n("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json")
                .form,
            Form::Plain
        );
    }

    #[test]
    fn protobuf_can_be_turned_off() {
        let kubelet = "application/vnd.kubernetes.protobuf,application/json";
        assert_eq!(
            negotiate_with(kubelet, false, false).expect("json"),
            Negotiated::JSON
        );
        assert_eq!(
            negotiate_with("application/vnd.kubernetes.protobuf", false, false)
                .expect_err("406")
                .code(),
            406
        );
    }

    #[test]
    fn unknown_types_are_refused() {
        let e = negotiate("text/html", false).expect_err("refused");
        assert_eq!(e.code(), 406);
        assert!(negotiate("application/json;as=Widget;v=v1;g=x", false).is_err());
        assert_eq!(
            n("application/vnd.kubernetes.protobuf").content_type(),
            "application/vnd.kubernetes.protobuf"
        );
        assert_eq!(
            n("application/vnd.kubernetes.protobuf").watch_content_type(),
            "application/vnd.kubernetes.protobuf;stream=watch"
        );
    }
}
