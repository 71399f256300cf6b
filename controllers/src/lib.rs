//! Controllers: the kube-controller-manager equivalents, each an API client.
//!
//! Controllers talk to the API server only through the public API (kube-rs), exactly like
//! upstream's controllers, so they work the same on the embedded store and on etcd and can later
//! move to another process. Today: namespace lifecycle ([`namespace`]), the garbage collector for
//! ownerReferences ([`gc`]), ReplicaSets ([`replicaset`]), Deployments ([`deployment`]) and nodes
//! ([`node`]: pod CIDRs, heartbeats).

pub mod deployment;
pub mod endpoints;
pub mod gc;
pub mod leader;
pub mod namespace;
pub mod node;
pub mod replicaset;
mod resources;

use kube::Client;
use tokio_util::sync::CancellationToken;

/// Runs every controller until `shutdown` is cancelled.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let namespaces = tokio::spawn(namespace::run(client.clone(), shutdown.clone()));
    let gc = tokio::spawn(gc::run(client.clone(), shutdown.clone()));
    let replicasets = tokio::spawn(replicaset::run(client.clone(), shutdown.clone()));
    let deployments = tokio::spawn(deployment::run(client.clone(), shutdown.clone()));
    let endpoints = tokio::spawn(endpoints::run(client.clone(), shutdown.clone()));
    let nodes = tokio::spawn(node::run(client, shutdown.clone()));
    shutdown.cancelled().await;
    namespaces.abort();
    gc.abort();
    replicasets.abort();
    deployments.abort();
    nodes.abort();
    endpoints.abort();
}
