//! Node controllers: pod CIDR allocation and node lifecycle (heartbeats → readiness and taints).
//!
//! * **IPAM**: every Node without `spec.podCIDR` gets the next free /24 of the cluster CIDR
//!   (10.42.0.0/16, like k3s), in `spec.podCIDR` and `spec.podCIDRs`.
//! * **Lifecycle**: a kubelet renews its Lease in `kube-node-lease` every few seconds. When a
//!   node's lease is older than the grace period (40 s, upstream's `node-monitor-grace-period`),
//!   its `Ready` condition becomes `Unknown` ("Kubelet stopped posting node status.") and it gets
//!   the `node.kubernetes.io/unreachable` taints (NoSchedule and NoExecute), as upstream; when the
//!   lease is fresh again the taints are removed (the kubelet sets `Ready` itself).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Taint};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The cluster's pod network; each node gets a /24 of it.
pub const CLUSTER_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 42, 0, 0), 16);
/// How long a silent node stays Ready.
pub const GRACE_PERIOD: Duration = Duration::from_secs(40);
/// The taint key of nodes whose kubelet stopped reporting.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const TICK: Duration = Duration::from_secs(5);

/// Runs both loops until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = pass(&client).await {
            tracing::debug!(error = %e, "node controller pass failed; will retry");
        }
    }
}

async fn pass(client: &Client) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let all = nodes.list(&ListParams::default()).await?.items;
    let mut taken: BTreeSet<String> = all.iter().filter_map(|n| n.spec.as_ref()?.pod_cidr.clone()).collect();
    let now = k8s_openapi::jiff::Timestamp::now();
    for node in &all {
        let name = node.name_any();
        if node.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_none() {
            if let Some(cidr) = next_free_cidr(&taken) {
                let patch = json!({ "spec": { "podCIDR": cidr, "podCIDRs": [cidr] } });
                nodes.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                taken.insert(cidr);
            }
        }
        let renewed = leases.get_opt(&name).await?.and_then(|l| l.spec?.renew_time).map(|t| t.0);
        let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let Some(last_seen) = renewed.or(created) else { continue };
        let silent = now.duration_since(last_seen).as_secs() > GRACE_PERIOD.as_secs() as i64;
        let taints: Vec<Taint> = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
        let tainted = taints.iter().any(|t| t.key == UNREACHABLE);
        if silent && !tainted {
            mark_unreachable(&nodes, node, &taints).await?;
        } else if !silent && tainted {
            let kept: Vec<&Taint> = taints.iter().filter(|t| t.key != UNREACHABLE).collect();
            let patch = json!({ "spec": { "taints": kept } });
            nodes.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
    }
    Ok(())
}

async fn mark_unreachable(nodes: &Api<Node>, node: &Node, taints: &[Taint]) -> Result<(), kube::Error> {
    let name = node.name_any();
    let now = corten_apimachinery::time::now_rfc3339();
    let mut conditions = node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    if !conditions.iter().any(|c| c.type_ == "Ready") {
        conditions.push(k8s_openapi::api::core::v1::NodeCondition { type_: "Ready".into(), ..Default::default() });
    }
    for c in conditions.iter_mut().filter(|c| matches!(c.type_.as_str(), "Ready" | "MemoryPressure" | "DiskPressure" | "PIDPressure")) {
        c.status = "Unknown".into();
        c.reason = Some("NodeStatusUnknown".into());
        c.message = Some("Kubelet stopped posting node status.".into());
        c.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    }
    let status_patch = json!({ "status": { "conditions": conditions } });
    nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status_patch)).await?;
    let mut new_taints: Vec<serde_json::Value> = taints.iter().map(|t| serde_json::to_value(t).unwrap_or_default()).collect();
    for effect in ["NoSchedule", "NoExecute"] {
        new_taints.push(json!({ "key": UNREACHABLE, "effect": effect, "timeAdded": now }));
    }
    nodes.patch(&name, &PatchParams::default(), &Patch::Merge(&json!({ "spec": { "taints": new_taints } }))).await?;
    tracing::info!(node = %name, "node stopped reporting; marked unreachable");
    Ok(())
}

/// The first /24 of the cluster CIDR not in `taken`.
pub fn next_free_cidr(taken: &BTreeSet<String>) -> Option<String> {
    let (base, prefix) = CLUSTER_CIDR;
    let subnets = 1u32 << (24 - u32::from(prefix));
    (0..subnets)
        .map(|i| Ipv4Addr::from(u32::from(base) + (i << 8)))
        .map(|ip| format!("{ip}/24"))
        .find(|cidr| !taken.contains(cidr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_handed_out_in_order_skipping_taken_ones() {
        let mut taken = BTreeSet::new();
        assert_eq!(next_free_cidr(&taken).as_deref(), Some("10.42.0.0/24"));
        taken.insert("10.42.0.0/24".to_string());
        taken.insert("10.42.2.0/24".to_string());
        assert_eq!(next_free_cidr(&taken).as_deref(), Some("10.42.1.0/24"));
        taken.insert("10.42.1.0/24".to_string());
        assert_eq!(next_free_cidr(&taken).as_deref(), Some("10.42.3.0/24"));
    }

    #[test]
    fn the_range_runs_out_after_256_nodes() {
        let taken: BTreeSet<String> = (0..256).map(|i| format!("10.42.{i}.0/24")).collect();
        assert_eq!(next_free_cidr(&taken), None);
    }
}
