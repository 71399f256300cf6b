//! Pod events as the kubelet reports them (`Pulled`, `Created`, `Started`, `Killing`, `Failed`),
//! so `kubectl describe pod` and `kubectl get events` tell a pod's story as upstream's do.
//! Recording is best effort: a failed event never fails the pod.

use corten_apimachinery::events::{pod_event, Reporter};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::PostParams;
use kube::{Api, ResourceExt};

/// Records a core/v1 Event about `pod` from this node's kubelet.
pub async fn record(client: &kube::Client, node: &str, pod: &Pod, field_path: Option<&str>, type_: &str, reason: &str, message: &str) {
    let reporter = Reporter { component: "kubelet", instance: node, host: Some(node) };
    let api: Api<Event> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    match pod_event(pod, field_path, reporter, type_, reason, message) {
        Ok(e) => {
            if let Err(err) = api.create(&PostParams::default(), &e).await {
                tracing::debug!(error = %err, "recording a pod event failed");
            }
        }
        Err(err) => tracing::debug!(error = %err, "building a pod event failed"),
    }
}
