//! `yurt api-double`: serve the API double alone, with a reusable PKI directory and kubeconfig.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argh::FromArgs;

use super::ApiDouble;
use crate::net::tls::{self, Identity};
use crate::testpki::{write_private, TestPki};

/// Serve the Kubernetes API double (tests and benchmarks).
#[derive(FromArgs, Debug)]
pub struct ApiDoubleArgs {
    /// address to listen on (default 127.0.0.1:0, a free port)
    #[argh(option, default = "String::from(\"127.0.0.1:0\")")]
    pub listen: String,
    /// directory with ca.crt, server.crt/key and admin.crt/key (reused when all exist, else
    /// generated); a kubeconfig for the admin client is written there on every start
    #[argh(option)]
    pub pki_dir: Option<PathBuf>,
    /// initial data: sandbox (default) or empty
    #[argh(option, default = "String::from(\"sandbox\")")]
    pub seed: String,
    /// node name for the sandbox seed (default edge-node-1)
    #[argh(option, default = "String::from(\"edge-node-1\")")]
    pub node_name: String,
    /// extra pods pod-1..pod-N in namespace default on --node-name, on top of the seed (default 0)
    #[argh(option, default = "0")]
    pub pods: usize,
    /// pad each of the --pods pods to about this many bytes of JSON with an annotation of
    /// incompressible text (benchmarks; default 0 = no padding)
    #[argh(option, default = "0")]
    pub pod_bytes: usize,
    /// serve plain HTTP instead of TLS
    #[argh(switch)]
    pub plain: bool,
    /// never answer in protobuf (JSON for clients that accept it; fixture spec/status otherwise)
    #[argh(switch)]
    pub no_protobuf: bool,
}

const FILES: [&str; 5] = [
    "ca.crt",
    "server.crt",
    "server.key",
    "admin.crt",
    "admin.key",
];

/// PEM material for serving and for the admin client.
struct Pki {
    ca: String,
    server: Identity,
    admin_cert: String,
    admin_key: String,
}

fn load_or_create(dir: &Path) -> Result<Pki, String> {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{}: {e}", dir.join(f).display()))
    };
    if !FILES.iter().all(|f| dir.join(f).is_file()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let pki = TestPki::generate(&[]).map_err(|e| format!("generating the PKI: {e}"))?;
        let admin = pki
            .client("kubernetes-admin", Some("system:masters"))
            .map_err(|e| format!("admin certificate: {e}"))?;
        pki.write_files(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        write_private(&dir.join("admin.crt"), &admin.cert).map_err(|e| e.to_string())?;
        write_private(&dir.join("admin.key"), &admin.key).map_err(|e| e.to_string())?;
    }
    let server = Identity::from_pem(
        read("server.crt")?.as_bytes(),
        read("server.key")?.as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    Ok(Pki {
        ca: read("ca.crt")?,
        server,
        admin_cert: read("admin.crt")?,
        admin_key: read("admin.key")?,
    })
}

/// A kubeconfig for `url` trusting `ca`, authenticating with the admin client certificate.
pub fn kubeconfig(url: &str, ca: &str, cert: &str, key: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {url}\n  name: api-double\n\
         contexts:\n- context:\n    cluster: api-double\n    namespace: default\n    user: admin\n  name: api-double\n\
         current-context: api-double\npreferences: {{}}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(ca),
        b64(cert),
        b64(key)
    )
}

fn run(args: ApiDoubleArgs) -> Result<(), String> {
    let double = match args.seed.as_str() {
        "sandbox" => ApiDouble::sandbox(&args.node_name),
        "empty" => ApiDouble::new(),
        other => return Err(format!("--seed must be sandbox or empty, not {other:?}")),
    };
    super::seed::pods(&double, &args.node_name, args.pods, args.pod_bytes);
    double.set_protobuf(!args.no_protobuf);
    let pki = match (&args.pki_dir, args.plain) {
        (Some(dir), _) => Some((dir.clone(), load_or_create(dir)?)),
        (None, false) => {
            let dir = std::env::temp_dir().join(format!("yurt-api-double-{}", std::process::id()));
            Some((dir.clone(), load_or_create(&dir)?))
        }
        (None, true) => None,
    };
    let tls_config: Option<Arc<rustls::ServerConfig>> = match (&pki, args.plain) {
        (Some((_, p)), false) => Some(
            tls::server_config(&p.server, Some(p.ca.as_bytes()), false)
                .map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind(args.listen.as_str())
            .await
            .map_err(|e| format!("--listen {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let url = format!("{}://{addr}", if args.plain { "http" } else { "https" });
        if let Some((dir, p)) = &pki {
            write_private(
                &dir.join("kubeconfig"),
                &kubeconfig(&url, &p.ca, &p.admin_cert, &p.admin_key),
            )
            .map_err(|e| e.to_string())?;
        }
        let (shutdown, _signals) =
            crate::net::shutdown::on_signals().map_err(|e| format!("signal handlers: {e}"))?;
        let mut out = std::io::stdout();
        writeln!(out, "listening on {url}")
            .and_then(|_| out.flush())
            .map_err(|e| e.to_string())?;
        double.serve(listener, tls_config, shutdown).await;
        Ok(())
    })
}

/// Entry point.
pub fn main(args: ApiDoubleArgs) -> i32 {
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("yurt api-double: {e}");
            crate::cli::EXIT_FAILURE
        }
    }
}
