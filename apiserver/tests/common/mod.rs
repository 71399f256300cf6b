//! The in-process server the API tests talk to: port 0, the embedded store in a temp dir, and a
//! kube-rs client with the admin certificate. Stopped when dropped.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio_util::sync::CancellationToken;

/// A running server and a client for it.
pub struct TestServer {
    /// Client with the admin identity.
    pub client: Client,
    /// The client's configuration (for tests that build other clients); not every test needs it.
    #[allow(dead_code)]
    pub config: Config,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts a fresh server.
pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let shutdown = CancellationToken::new();
    let running = corten_apiserver::start(
        corten_apiserver::Config {
            data_dir: dir.path().to_path_buf(),
            bind_address: "127.0.0.1".parse().expect("ip"),
            https_port: 0,
            etcd_endpoints: vec![],
            advertise_address: Some("127.0.0.1".parse().expect("ip")),
        },
        shutdown.clone(),
    )
    .await
    .expect("server starts");
    let kubeconfig = Kubeconfig::read_from(&running.admin_kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("config");
    let client = Client::try_from(config.clone()).expect("client");
    TestServer { client, config, _dir: dir, shutdown }
}
