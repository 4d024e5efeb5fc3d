//! yurtctl's one error type: each variant is a case a caller (or the exit code) branches on;
//! `Display` is the single line the user sees.

use std::fmt;
use std::path::PathBuf;

/// Everything yurtctl can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad or conflicting flags (exit 64).
    Usage(String),
    /// No usable kubeconfig, context or credentials.
    Kubeconfig(String),
    /// The API server did not answer.
    Unreachable(String),
    /// The API server answered with an error.
    Api { what: String, source: String },
    /// The cluster is not in a state the command can start from; nothing was changed.
    Preflight(String),
    /// Another yurtctl holds `kube-system/yurtctl-lock`.
    Locked(String),
    /// A step failed part-way: which node and step, and what state it was left in.
    Step {
        node: Option<String>,
        step: String,
        cause: String,
        state: String,
    },
    /// A file could not be read or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The node's kubelet configuration is not a layout yurtctl knows.
    Layout(String),
    /// A manifest template did not render or parse.
    Template(String),
}

impl Error {
    /// The process exit code: 64 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => crate::cli::EXIT_USAGE,
            _ => crate::cli::EXIT_FAILURE,
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Preflight(m) | Error::Layout(m) | Error::Template(m) => {
                f.write_str(m)
            }
            Error::Kubeconfig(m) => write!(f, "kubeconfig: {m}"),
            Error::Unreachable(m) => write!(f, "cluster unreachable: {m}"),
            Error::Api { what, source } => write!(f, "{what}: {source}"),
            Error::Locked(m) => write!(f, "locked: {m}"),
            Error::Step {
                node,
                step,
                cause,
                state,
            } => {
                let node = node
                    .as_deref()
                    .map(|n| format!("node {n}: "))
                    .unwrap_or_default();
                write!(f, "{node}step {step} failed: {cause}; state left: {state}")
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {}
