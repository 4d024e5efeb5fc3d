//! Command-line entry: the multicall dispatcher (`yurt <cmd>` or a link named `yurthub`, …),
//! Kubernetes-style `--flag=value` arguments, and the exit codes every subcommand shares.

use argh::FromArgs;

/// Exit code for bad flags or unusable configuration (sysexits' EX_USAGE).
pub const EXIT_USAGE: i32 = 64;
/// Exit code for a runtime failure after start-up.
pub const EXIT_FAILURE: i32 = 1;

/// Runs the program for `args` (argv, including argv[0]) and returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    init_logging();
    let (cmd, rest) = dispatch(&args);
    let rest = split_equals(rest);
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match cmd.as_str() {
        "hub" => hub(&rest),
        "edge" => crate::edge::main(&rest),
        "tunnel-agent" => run_parsed::<crate::tunnel::agent::cli::AgentArgs>(
            "yurt tunnel-agent",
            &rest,
            crate::tunnel::agent::cli::main,
        ),
        #[cfg(feature = "cloud")]
        "tunnel-server" => run_parsed::<crate::tunnel::server::cli::ServerArgs>(
            "yurt tunnel-server",
            &rest,
            crate::tunnel::server::cli::main,
        ),
        #[cfg(feature = "cloud")]
        "yurtctl" => crate::yurtctl::main(&rest),
        #[cfg(feature = "sandbox")]
        "sandbox" => {
            run_parsed::<crate::sandbox::SandboxArgs>("yurt sandbox", &rest, crate::sandbox::main)
        }
        #[cfg(feature = "sandbox")]
        "api-double" => run_parsed::<crate::apidouble::cli::ApiDoubleArgs>(
            "yurt api-double",
            &rest,
            crate::apidouble::cli::main,
        ),
        "version" | "--version" => {
            println!("yurt {}", env!("CARGO_PKG_VERSION"));
            0
        }
        "" | "help" | "--help" | "-h" => {
            print!("{}", usage());
            0
        }
        other => {
            eprintln!("yurt: unknown command {other:?}; run `yurt help` for the list");
            EXIT_USAGE
        }
    }
}

/// Entry of the `yurthub` binary: `yurt hub` alone. A binary that reaches no other subcommand
/// links none of their code, so the hub maps less of it (docs/BENCHMARKS.md, hub cache RSS).
pub fn hub_main(args: Vec<String>) -> i32 {
    init_logging();
    let rest = split_equals(args.get(1..).unwrap_or(&[]));
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match rest.first().copied() {
        Some("version" | "--version") => {
            println!("yurthub {}", env!("CARGO_PKG_VERSION"));
            0
        }
        _ => hub(&rest),
    }
}

/// `hub [flags]` or `hub cache ...`.
fn hub(rest: &[&str]) -> i32 {
    if rest.first() == Some(&"cache") {
        return run_parsed::<crate::hub::cache::cli::CacheArgs>(
            "yurt hub cache",
            &rest[1..],
            crate::hub::cache::cli::main,
        );
    }
    run_parsed::<crate::hub::config::HubArgs>("yurt hub", rest, crate::hub::main)
}

fn usage() -> String {
    let mut s = String::from(
        "yurt: edge autonomy for native Kubernetes\n\nUsage: yurt <command> [flags]\n\nCommands:\n  \
         hub          node-local proxy and cache in front of kube-apiserver (also: link named yurthub)\n  edge         hub + tunnel agent in one process: what edge images run (also: yurt-edge)\n  \
         tunnel-agent reverse tunnel agent: links this node's kubelet to the tunnel servers\n",
    );
    if cfg!(feature = "cloud") {
        s.push_str(
            "  tunnel-server tunnel server: agents in, HTTP CONNECT front end for kube-apiserver\n  \
             yurtctl      convert a cluster to Yurt and back, node status (also: link named yurtctl)\n",
        );
    }
    if cfg!(feature = "sandbox") {
        s.push_str(
            "  sandbox      local playground: an API double and a hub on loopback, for kubectl\n  \
             api-double   serve the Kubernetes API double alone (for tests and benchmarks)\n",
        );
    }
    s.push_str("  version      print the version\n\nRun `yurt <command> --help` for its flags.\n");
    s
}

/// Picks the subcommand: argv[0]'s file name when it names a component, else argv[1].
/// Returns the command and the arguments after it.
pub fn dispatch(args: &[String]) -> (String, &[String]) {
    let argv0 = args.first().map(String::as_str).unwrap_or("yurt");
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    let by_name = match base {
        "yurthub" => Some("hub"),
        "yurt-tunnel-agent" => Some("tunnel-agent"),
        "yurt-tunnel-server" => Some("tunnel-server"),
        "yurt-edge" => Some("edge"),
        "yurtctl" => Some("yurtctl"),
        _ => None,
    };
    match by_name {
        Some(cmd) => (cmd.to_string(), args.get(1..).unwrap_or(&[])),
        None => match args.get(1) {
            Some(cmd) => (cmd.clone(), &args[2..]),
            None => (String::new(), &[]),
        },
    }
}

/// Rewrites `--flag=value` into `--flag value`, as Kubernetes manifests write flags.
/// `--switch=true` becomes `--switch`, `--switch=false` is dropped; a lone `--` ends rewriting.
pub fn split_equals(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest_literal = false;
    for a in args {
        if rest_literal || a == "--" || !a.starts_with("--") {
            rest_literal |= a == "--";
            out.push(a.clone());
            continue;
        }
        match a.split_once('=') {
            Some((flag, "true")) if is_switch(flag) => out.push(flag.to_string()),
            Some((flag, "false")) if is_switch(flag) => {}
            Some((flag, value)) => {
                out.push(flag.to_string());
                out.push(value.to_string());
            }
            None => out.push(a.clone()),
        }
    }
    out
}

/// Flags that take no value. Kept here so `--x=true` works for them.
fn is_switch(flag: &str) -> bool {
    matches!(flag, "--help" | "--plain" | "--no-protobuf")
}

/// Parses flags for `name`, runs `f`, and maps parse failures to one clear line and exit 64.
pub fn run_parsed<A: FromArgs>(name: &str, rest: &[&str], f: impl FnOnce(A) -> i32) -> i32 {
    let cmd: Vec<&str> = name.split(' ').collect();
    match A::from_args(&cmd, rest) {
        Ok(a) => f(a),
        Err(early) => match early.status {
            Ok(()) => {
                print!("{}", early.output);
                0
            }
            Err(()) => {
                let first = early.output.lines().next().unwrap_or("invalid arguments");
                eprintln!("{name}: {first} (see `{name} --help`)");
                EXIT_USAGE
            }
        },
    }
}

/// Binds a TCP listener, with the error as one line a user can act on.
pub async fn bind(addr: impl std::fmt::Display) -> Result<smol::net::TcpListener, String> {
    let addr = addr.to_string();
    smol::net::TcpListener::bind(addr.as_str())
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Which executor runs a long-running command's tasks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Exec {
    /// smol's: the tunnel, whose sockets are all async-io's.
    Smol,
    /// The hub's own loop on the main thread (`net::rt`), for the proxy's sockets.
    Hub,
}

/// The shape every long-running command shares: bind (a failure is one line and exit 1), watch
/// SIGTERM/SIGINT, then `serve` until the signal; `serve` returns the exit code.
pub fn serve_until_signal<L, B, S, F>(name: &str, exec: Exec, bind: B, serve: S) -> i32
where
    B: std::future::Future<Output = Result<L, String>>,
    S: FnOnce(L, crate::net::shutdown::Shutdown) -> F,
    F: std::future::Future<Output = i32>,
{
    let main = async {
        let listeners = match bind.await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{name}: {e}");
                return EXIT_FAILURE;
            }
        };
        let (shutdown, _signals) = match crate::net::shutdown::on_signals() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{name}: cannot install signal handlers: {e}");
                return EXIT_FAILURE;
            }
        };
        serve(listeners, shutdown).await
    };
    match exec {
        Exec::Smol => smol::block_on(main),
        Exec::Hub => crate::net::rt::block_on(main),
    }
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("info");
    let _ = env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argv0_link_names_pick_the_component() {
        let args = strings(&["/usr/local/bin/yurthub", "--node-name", "n1"]);
        let (cmd, rest) = dispatch(&args);
        assert_eq!(cmd, "hub");
        assert_eq!(rest, &strings(&["--node-name", "n1"])[..]);
        let args = strings(&["yurt", "hub", "--x"]);
        let (cmd, rest) = dispatch(&args);
        assert_eq!(cmd, "hub");
        assert_eq!(rest, &strings(&["--x"])[..]);
        assert_eq!(dispatch(&strings(&["yurt"])).0, "");
    }

    #[test]
    fn equals_form_is_split() {
        let out = split_equals(&strings(&[
            "--server-addr=https://a:6443,https://b",
            "--port",
            "1",
            "--plain=false",
            "--help=true",
        ]));
        assert_eq!(
            out,
            strings(&[
                "--server-addr",
                "https://a:6443,https://b",
                "--port",
                "1",
                "--help"
            ])
        );
        // A value may itself contain '='.
        assert_eq!(
            split_equals(&strings(&["--x=a=b"])),
            strings(&["--x", "a=b"])
        );
        // After `--`, nothing is rewritten.
        assert_eq!(
            split_equals(&strings(&["--", "--x=1"])),
            strings(&["--", "--x=1"])
        );
    }
}
