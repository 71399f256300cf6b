//! Corten's node agent (the kubelet): registers this machine as a Node, keeps its heartbeat Lease,
//! and runs the pods bound to it on containerd through the CRI v1 gRPC API with CNI networking.
//!
//! [`run`] is the whole agent; `corten server` (and the `corten-kubelet-dev` binary) call it with an API
//! client. Modules: [`cri`] (runtime client), [`cni`] (network config), [`node`] (Node and Lease),
//! [`pods`] (per-pod workers), [`status`] (pure pod status building).

pub mod cni;
pub mod config;
pub mod cri;
pub mod events;
pub mod node;
pub mod pods;
pub mod probes;
pub mod resources;
pub mod status;
pub mod volumes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use config::KubeletConfig;

/// How often the Lease is renewed.
const LEASE_RENEW_PERIOD: Duration = Duration::from_secs(10);
/// How often the Node status (heartbeat in conditions) is re-posted.
const NODE_STATUS_PERIOD: Duration = Duration::from_secs(60);
/// Delay between attempts while the runtime or API server is not reachable yet.
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// Errors that stop the agent before it runs pods.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// The container runtime cannot be used.
    #[error(transparent)]
    Cri(#[from] cri::CriError),
    /// The Node cannot be registered.
    #[error(transparent)]
    Node(#[from] node::NodeError),
    /// The CNI config cannot be written.
    #[error("writing the CNI config: {0}")]
    Cni(std::io::Error),
}

/// Retries `attempt` every [`RETRY_DELAY`] until it succeeds; `None` if shut down first.
async fn retry<T, E: std::fmt::Display, F: std::future::Future<Output = Result<T, E>>>(
    what: &str,
    shutdown: &CancellationToken,
    mut attempt: impl FnMut() -> F,
) -> Option<T> {
    loop {
        match attempt().await {
            Ok(value) => return Some(value),
            Err(error) => tracing::warn!(%error, "{what} failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY_DELAY) => {}
            () = shutdown.cancelled() => return None,
        }
    }
}

/// The sandbox image containerd is configured with, from the CRI verbose status (`config.sandboxImage`).
async fn sandbox_image(cri: &cri::CriClient) -> Option<String> {
    let mut runtime = cri.runtime.clone();
    let status = runtime.status(cri::v1::StatusRequest { verbose: true }).await.ok()?.into_inner();
    let config: serde_json::Value = serde_json::from_str(status.info.get("config")?).ok()?;
    config.get("sandboxImage")?.as_str().map(str::to_owned)
}

/// Warns when the sandbox image is missing: with no registry, pods could not start.
async fn check_sandbox_image(cri: &cri::CriClient) {
    let Some(image) = sandbox_image(cri).await else { return };
    let mut images = cri.images.clone();
    let request = cri::v1::ImageStatusRequest {
        image: Some(cri::v1::ImageSpec { image: image.clone(), ..cri::v1::ImageSpec::default() }),
        verbose: false,
    };
    match images.image_status(request).await {
        Ok(response) if response.get_ref().image.is_some() => tracing::info!(%image, "sandbox image present"),
        _ => tracing::warn!(%image, "sandbox image missing; import it with scripts/build-test-images.sh"),
    }
}

/// Runs the node agent until `shutdown` is cancelled. Containers keep running when it stops.
pub async fn run(client: kube::Client, config: KubeletConfig, shutdown: CancellationToken) -> Result<(), KubeletError> {
    let endpoint = config.container_runtime_endpoint.clone();
    let Some(cri) = retry("connecting to the container runtime", &shutdown, || cri::CriClient::connect(&endpoint)).await
    else {
        return Ok(());
    };
    let Some(version) = retry("querying the runtime version", &shutdown, || cri.version()).await else {
        return Ok(());
    };
    tracing::info!(runtime = %version.runtime_name, version = %version.runtime_version, "container runtime connected");
    let facts = node::NodeFacts::gather(&config, (&version.runtime_name, &version.runtime_version));
    let nodes: Api<Node> = Api::all(client.clone());
    let Some(registered) = retry("registering the Node", &shutdown, || node::register(&nodes, &facts)).await else {
        return Ok(());
    };
    tracing::info!(node = %facts.name, ip = %facts.ip, "node registered");

    let pod_cidr = registered.spec.as_ref().and_then(|s| s.pod_cidr.clone()).unwrap_or_else(|| config.pod_cidr.clone());
    let (path, written) = cni::write_if_absent(&config.cni_conf_dir, &pod_cidr).map_err(KubeletError::Cni)?;
    if written {
        tracing::info!(path = %path.display(), %pod_cidr, "CNI config written");
    }
    check_sandbox_image(&cri).await;

    let heartbeat = tokio::spawn(heartbeat(client.clone(), nodes, facts.clone(), registered, shutdown.clone()));
    let resolv_conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let context = Arc::new(pods::NodeContext {
        cri,
        client: client.clone(),
        host_ip: facts.ip.to_string(),
        pod_log_dir: config.pod_log_dir.clone(),
        dns: pods::parse_resolv_conf(&resolv_conf),
        memory_capacity_bytes: facts.resources.memory_kib.saturating_mul(1024),
        node_name: facts.name.clone(),
    });
    watch_pods(client, context, &facts.name, &shutdown).await;
    heartbeat.abort();
    Ok(())
}

/// Renews the Lease every 10 s and re-posts the Node status every minute.
async fn heartbeat(client: kube::Client, nodes: Api<Node>, facts: node::NodeFacts, mut current: Node, shutdown: CancellationToken) {
    let mut lease_tick = tokio::time::interval(LEASE_RENEW_PERIOD);
    let mut status_tick = tokio::time::interval(NODE_STATUS_PERIOD);
    status_tick.tick().await; // registration just posted the status
    loop {
        tokio::select! {
            _ = lease_tick.tick() => {
                if let Err(error) = node::renew_lease(&client, &current).await {
                    tracing::warn!(%error, "renewing the node lease failed");
                }
            }
            _ = status_tick.tick() => match node::update_status(&nodes, &facts, &current).await {
                Ok(node) => current = node,
                Err(error) => tracing::warn!(%error, "updating the node status failed"),
            },
            () = shutdown.cancelled() => return,
        }
    }
}

/// Watches the pods bound to `node_name` and keeps one worker per pod UID fed with the newest object.
async fn watch_pods(client: kube::Client, context: Arc<pods::NodeContext>, node_name: &str, shutdown: &CancellationToken) {
    let pods: Api<Pod> = Api::all(client);
    let watch_config = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
    // The back-off keeps a failing watch (API server restarting) from retrying in a tight loop.
    let mut events = watcher(pods, watch_config).default_backoff().boxed();
    let mut workers: HashMap<String, watch::Sender<Pod>> = HashMap::new();
    let mut listed: HashSet<String> = HashSet::new();
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            () = shutdown.cancelled() => return,
        };
        let Some(event) = event else { return };
        match event {
            Ok(watcher::Event::Apply(pod)) => dispatch(&mut workers, &context, pod, shutdown),
            Ok(watcher::Event::Delete(pod)) => {
                // Dropping the sender tells the worker the pod is gone.
                workers.remove(pod.metadata.uid.as_deref().unwrap_or_default());
            }
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitApply(pod)) => {
                listed.insert(pod.metadata.uid.clone().unwrap_or_default());
                dispatch(&mut workers, &context, pod, shutdown);
            }
            Ok(watcher::Event::InitDone) => {
                workers.retain(|uid, _| listed.contains(uid));
                let (cri, known, listed_at) = (context.cri.clone(), listed.clone(), jiff::Timestamp::now());
                tokio::spawn(async move {
                    match pods::remove_orphan_sandboxes(&cri, &known, listed_at).await {
                        Ok(0) => {}
                        Ok(removed) => tracing::info!(removed, "removed sandboxes of pods no longer on this node"),
                        Err(error) => tracing::warn!(%error, "removing orphaned sandboxes failed"),
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "pod watch failed; the watcher retries"),
        }
        // Workers that finished (pod removed) leave a closed channel behind.
        workers.retain(|_, sender| !sender.is_closed());
    }
}

fn dispatch(workers: &mut HashMap<String, watch::Sender<Pod>>, context: &Arc<pods::NodeContext>, pod: Pod, shutdown: &CancellationToken) {
    let Some(uid) = pod.metadata.uid.clone() else { return };
    if let Some(sender) = workers.get(&uid) {
        // A send error means the worker already finished this pod: a stale event must not restart it.
        let _ = sender.send(pod);
        return;
    }
    let (sender, receiver) = watch::channel(pod);
    tokio::spawn(pods::run_pod_worker(context.clone(), receiver, shutdown.clone()));
    workers.insert(uid, sender);
}
