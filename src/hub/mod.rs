//! YurtHub: the node-local proxy (and cache) in front of kube-apiserver.
//!
//! [`run`] takes bound listeners, a resolved [`config::HubConfig`] and a shutdown signal, so tests
//! bind port 0 and the binary binds the configured ports.

pub mod body;
pub mod cache;
pub mod config;
pub mod health;
pub mod kubeconfig;
pub mod metrics;
pub mod proxy;
pub mod server;
pub mod upgrade;
pub mod upstream;

use std::sync::Arc;

use smol::net::TcpListener;

use crate::cli::{bind, serve_until_signal, Exec, EXIT_USAGE};
use crate::net::shutdown::Shutdown;

/// The hub's two listeners.
pub struct Listeners {
    /// Where clients (kubelet, kube-proxy, …) send API requests (10261).
    pub proxy: TcpListener,
    /// healthz / readyz / metrics (10267).
    pub server: TcpListener,
}

/// Serves until `shutdown` fires, then drains in-flight requests for the configured grace period.
///
/// The cache uses `cfg.cache_dir` with default agents and sizes; see [`run_with_cache`].
pub async fn run(
    listeners: Listeners,
    cfg: config::HubConfig,
    shutdown: Shutdown,
) -> Result<(), crate::net::tls::TlsError> {
    let cache = cache::CacheConfig::in_dir(&cfg.cache_dir);
    run_with_cache(listeners, cfg, cache, shutdown).await
}

/// [`run`] with explicit cache settings. A cache that cannot open is logged and the hub runs
/// as a plain proxy: the cloud path never depends on the disk.
pub async fn run_with_cache(
    listeners: Listeners,
    cfg: config::HubConfig,
    cache_cfg: cache::CacheConfig,
    shutdown: Shutdown,
) -> Result<(), crate::net::tls::TlsError> {
    let pool = Arc::new(upstream::Pool::new(&cfg)?);
    let metrics = Arc::new(metrics::Metrics::default());
    let gc_timeout = cache_cfg.gc_timeout;
    let cache = open_cache(cache_cfg).await;
    let gc = cache.clone().map(|c| {
        smol::spawn(cache::gc::run(
            c,
            pool.clone(),
            gc_timeout,
            shutdown.clone(),
        ))
    });
    let proxy = Arc::new(proxy::Proxy {
        pool: pool.clone(),
        metrics: metrics.clone(),
        cache: cache.clone(),
    });
    let server = Arc::new(server::HubServer {
        pool: pool.clone(),
        metrics,
        cache,
    });
    let urls: Vec<&str> = cfg.servers.iter().map(|s| s.addr_url()).collect();
    log::info!(
        "hub for node {} forwarding to {}; proxy listening on http://{}; server on http://{}",
        cfg.node_name,
        urls.join(","),
        local(&listeners.proxy),
        local(&listeners.server)
    );
    let health = crate::net::rt::spawn(health::run(pool, cfg.heartbeat, shutdown.clone()));
    let grace = cfg.shutdown_grace;
    let p = crate::net::http::serve(
        listeners.proxy,
        None,
        shutdown.clone(),
        grace,
        move |req, c| proxy.clone().handle(req, c),
    );
    let s = crate::net::http::serve(
        listeners.server,
        None,
        shutdown.clone(),
        grace,
        move |req, c| server.clone().handle(req, c),
    );
    smol::future::zip(p, s).await;
    health.await;
    if let Some(gc) = gc {
        gc.await;
    }
    log::info!("hub stopped");
    Ok(())
}

async fn open_cache(cfg: cache::CacheConfig) -> Option<Arc<cache::Cache>> {
    let dir = cfg.dir.clone();
    // The sizes in force, so an image's --cache-config can be seen to have taken effect.
    let sizes = format!("{:?}", cfg.store);
    match smol::unblock(move || cache::Cache::open(&cfg)).await {
        Ok(c) => {
            log::info!("cache in {} with {sizes}", dir.display());
            Some(Arc::new(c))
        }
        Err(e) => {
            log::warn!(
                "cache in {} unavailable, running without it: {e}",
                dir.display()
            );
            None
        }
    }
}

fn local(l: &TcpListener) -> String {
    l.local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into())
}

impl config::ServerAddr {
    fn addr_url(&self) -> &str {
        &self.url
    }
}

/// `yurt hub`: resolve flags, bind, serve until SIGTERM/SIGINT.
pub fn main(args: config::HubArgs) -> i32 {
    let cfg = match args.resolve().and_then(|c| Ok((c, args.resolve_cache()?))) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("yurt hub: {e}");
            return EXIT_USAGE;
        }
    };
    let (cfg, cache_cfg) = cfg;
    let (proxy_addr, server_addr) = (cfg.proxy_addr, cfg.server_addr);
    let binding = async move {
        Ok(Listeners {
            proxy: bind(proxy_addr).await?,
            server: bind(server_addr).await?,
        })
    };
    serve_until_signal(
        "yurt hub",
        Exec::Hub,
        binding,
        |listeners, shutdown| async move {
            match run_with_cache(listeners, cfg, cache_cfg, shutdown).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("yurt hub: {e}");
                    EXIT_USAGE
                }
            }
        },
    )
}
