//! Runs the shared contract suite against both backends, plus embedded durability checks.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use corten_storage::embedded::EmbeddedBackend;
use corten_storage::{testing, Backend, ReadAt, Revision};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backend_honours_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let counter = AtomicUsize::new(0);
    testing::run_contract(|| {
        let path = dir.path().join(format!("store-{}.redb", counter.fetch_add(1, Ordering::Relaxed)));
        async move { EmbeddedBackend::open(&path).expect("open embedded store") }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backend_keeps_committed_state_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.redb");
    let (kept, last) = {
        let store = EmbeddedBackend::open(&path).expect("open");
        let kept = store.create("/k/a", Bytes::from_static(b"a1")).await.expect("create a");
        let b = store.create("/k/b", Bytes::from_static(b"b1")).await.expect("create b");
        store.update("/k/a", Bytes::from_static(b"a2"), kept).await.expect("update a");
        let (_, last) = store.delete("/k/b", Some(b)).await.expect("delete b");
        (kept, last)
    };
    let store = EmbeddedBackend::open(&path).expect("reopen");
    assert_eq!(store.current_revision().await.expect("revision"), last, "the revision survives a reopen");
    let page = store.list("/k/", None, None, ReadAt::Latest).await.expect("list");
    let state: Vec<(String, Bytes, Revision)> = page.items.into_iter().map(|kv| (kv.key, kv.value, kv.create_revision)).collect();
    assert_eq!(state, [("/k/a".to_owned(), Bytes::from_static(b"a2"), kept)]);
    let old = store.get("/k/b", ReadAt::Exactly(Revision(last.0 - 1))).await.expect("history survives");
    assert_eq!(old.map(|kv| kv.value), Some(Bytes::from_static(b"b1")));
    let next = store.create("/k/c", Bytes::from_static(b"c")).await.expect("create after reopen");
    assert_eq!(next, Revision(last.0 + 1), "the counter continues where it stopped");
}

/// A throwaway single-member etcd in a temporary directory, killed on drop.
struct ThrowawayEtcd {
    child: std::process::Child,
    endpoint: String,
    _data: tempfile::TempDir,
}

impl ThrowawayEtcd {
    /// Starts etcd on free local ports, or `None` if the `etcd` binary is not installed.
    fn start() -> Option<Self> {
        let free_port = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let (client_port, peer_port) = (free_port(), free_port());
        let data = tempfile::tempdir().expect("tempdir");
        let endpoint = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let spawned = std::process::Command::new("etcd")
            .arg("--data-dir")
            .arg(data.path().join("etcd"))
            .args(["--name", "contract", "--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("contract={peer}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => Some(Self { child, endpoint, _data: data }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => panic!("starting etcd: {error}"),
        }
    }

    /// Connects, retrying while etcd boots.
    async fn connect(&self) -> corten_storage::etcd::EtcdBackend {
        let endpoints = [self.endpoint.clone()];
        for _ in 0..100 {
            if let Ok(store) = corten_storage::etcd::EtcdBackend::connect(&endpoints).await {
                if store.current_revision().await.is_ok() {
                    return store;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("etcd at {} did not become ready", self.endpoint);
    }
}

impl Drop for ThrowawayEtcd {
    fn drop(&mut self) {
        // Best effort: the process may already be gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_backend_honours_the_contract() {
    let Some(etcd) = ThrowawayEtcd::start() else {
        eprintln!("SKIPPED etcd_backend_honours_the_contract: no `etcd` binary on PATH");
        return;
    };
    testing::run_contract(|| etcd.connect()).await;
}
