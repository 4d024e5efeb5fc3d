//! A Kubernetes API double for tests, benchmarks and the sandbox (shape checked against real captures).
//! (Interface placeholder; the double itself lands from its branch.)

pub mod cli;

/// The API double.
#[derive(Clone, Default)]
pub struct ApiDouble {}

impl ApiDouble {
    /// Seeded for the sandbox.
    pub fn sandbox(_node: &str) -> ApiDouble {
        ApiDouble {}
    }

    /// Serves until shutdown.
    pub async fn serve(
        &self,
        _listener: smol::net::TcpListener,
        _tls: Option<std::sync::Arc<rustls::ServerConfig>>,
        shutdown: crate::net::shutdown::Shutdown,
    ) {
        shutdown.wait().await;
    }
}
