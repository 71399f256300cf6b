//! The Corten API server: the Kubernetes wire API over a revisioned key-value store.
//!
//! Start reading at [`run`] (the lifecycle), then [`handlers`] (request dispatch) and
//! [`registry`] (the generic store every kind goes through). What differs per kind is not here but
//! in `corten-apis` (resource table, strategies, printers, OpenAPI); storage is `corten-storage`.
//!
//! Lifecycle, in order: open storage → load or create certificates → bootstrap system objects →
//! bind the listener (only then is the server "ready") → serve until the shutdown token fires →
//! stop accepting, let in-flight requests finish.

pub mod authn;
pub mod bootstrap;
pub mod discovery;
pub mod duplicates;
pub mod handlers;
pub mod hooks;
pub mod http;
pub mod openapi;
pub mod pki;
pub mod registry;
pub mod request;
pub mod reviews;
pub mod subresources;
pub mod table;
pub mod tls;
pub mod watch;
pub mod watch_cache;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::routing::get;
use axum::Router;
use corten_storage::{Backend, Revision};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Server settings (the `corten server` flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where state, certificates and the admin kubeconfig live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub bind_address: IpAddr,
    /// HTTPS port.
    pub https_port: u16,
    /// etcd endpoints; empty means the embedded store.
    pub etcd_endpoints: Vec<String>,
    /// The address other nodes and pods reach this server at; detected when `None`.
    pub advertise_address: Option<IpAddr>,
}

/// How often old revisions are compacted, and how far back history is kept: like
/// kube-apiserver, each run compacts up to the revision seen at the previous run.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// How long `corten server` waits for etcd to answer at start.
const ETCD_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// A started server: listening, with its system objects in place.
pub struct Running {
    /// The address the server listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The admin kubeconfig.
    pub admin_kubeconfig: PathBuf,
    /// Resolves when the server has stopped after `shutdown` fired.
    pub done: tokio::task::JoinHandle<()>,
}

/// Starts the API server and returns once it accepts connections.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let store = open_store(&config).await?;
    let store: Arc<dyn Backend> = Arc::new(watch_cache::WatchCache::start(store, shutdown.clone()).await.context("loading the watch cache")?);

    let addr = SocketAddr::new(config.bind_address, config.https_port);
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let addr = listener.local_addr().context("listener address")?;

    let advertise = config.advertise_address.unwrap_or_else(detect_host_address);
    let mut ips = vec![advertise, bootstrap::KUBERNETES_SERVICE_IP.parse().context("service IP")?];
    if !config.bind_address.is_unspecified() {
        ips.push(config.bind_address);
    }
    let url_host = if config.bind_address.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { config.bind_address };
    let server_url = format!("https://{}", SocketAddr::new(url_host, addr.port()));
    let pki = pki::ensure(&config.data_dir, &pki::ServingNames { ips, cluster_domain: "cluster.local".into() }, &server_url)?;

    let registry = Arc::new(registry::Registry::new(store.clone()));
    bootstrap::ensure(&registry, advertise, addr.port())
        .await
        .map_err(|e| anyhow::anyhow!("creating the system objects: {}", e.message()))?;

    let tasks = TaskTracker::new();
    tasks.spawn(compact_periodically(store.clone(), shutdown.clone()));

    let state = Arc::new(handlers::AppState {
        registry,
        openapi: openapi::OpenApi::default(),
        server_address: format!("{advertise}:{}", addr.port()),
        shutdown: shutdown.clone(),
    });
    let router = Router::new()
        .route("/healthz", get(handlers::health))
        .route("/livez", get(handlers::health))
        .route("/readyz", get(handlers::health))
        .fallback(handlers::dispatch)
        .with_state(state)
        .layer(axum::middleware::from_fn(authn::require_identity));
    let tls = tls::server_config(&pki.serving_cert_pem, &pki.serving_key_pem, &pki.ca_cert_pem)?;
    tracing::info!(%addr, kubeconfig = %pki.admin_kubeconfig.display(), "API server ready");

    let done = tokio::spawn(async move {
        tls::serve(listener, tls, router, shutdown, tasks.clone()).await;
        tasks.close();
        if tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await.is_err() {
            tracing::warn!("some connections did not finish within 5s of shutdown");
        }
    });
    Ok(Running { addr, admin_kubeconfig: pki.admin_kubeconfig, done })
}

async fn open_store(config: &Config) -> Result<Arc<dyn Backend>> {
    if config.etcd_endpoints.is_empty() {
        let dir = config.data_dir.join("db");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("state.redb");
        let store = corten_storage::embedded::EmbeddedBackend::open(&path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Arc::new(store))
    } else {
        // Like kube-apiserver, wait for etcd to come up (it is often started alongside).
        let deadline = tokio::time::Instant::now() + ETCD_CONNECT_TIMEOUT;
        loop {
            match corten_storage::etcd::EtcdBackend::connect(&config.etcd_endpoints).await {
                Ok(store) => match store.current_revision().await {
                    Ok(_) => return Ok(Arc::new(store)),
                    Err(e) if tokio::time::Instant::now() < deadline => tracing::info!(error = %e, "etcd not ready yet; retrying"),
                    Err(e) => return Err(e).with_context(|| format!("etcd at {} is not answering", config.etcd_endpoints.join(","))),
                },
                Err(e) if tokio::time::Instant::now() < deadline => tracing::info!(error = %e, "cannot reach etcd yet; retrying"),
                Err(e) => return Err(e).with_context(|| format!("connecting to etcd at {}", config.etcd_endpoints.join(","))),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn compact_periodically(store: Arc<dyn Backend>, shutdown: CancellationToken) {
    let mut previous: Option<Revision> = None;
    let mut tick = tokio::time::interval(COMPACTION_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Some(rev) = previous.filter(|r| r.0 > 0) {
            if let Err(e) = store.compact(rev).await {
                tracing::warn!(%e, revision = rev.0, "compaction failed");
            }
        }
        previous = store.current_revision().await.ok();
    }
}

/// The host's first global IPv4 address (what `hostname -I` lists first), else loopback.
fn detect_host_address() -> IpAddr {
    std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.split_whitespace().filter_map(|a| a.parse::<IpAddr>().ok()).find(IpAddr::is_ipv4))
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}
