//! Pod events as the kubelet reports them (`Pulled`, `Created`, `Started`, `Killing`, `Failed`),
//! so `kubectl describe pod` and `kubectl get events` tell a pod's story as upstream's do.
//! Recording is best effort: a failed event never fails the pod.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::json;

/// Records a core/v1 Event about `pod` from this node's kubelet.
pub async fn record(client: &kube::Client, node: &str, pod: &Pod, field_path: Option<&str>, type_: &str, reason: &str, message: &str) {
    let ns = pod.namespace().unwrap_or_default();
    let now = k8s_openapi::jiff::Timestamp::now().round(k8s_openapi::jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default();
    let mut involved = json!({
        "kind": "Pod", "apiVersion": "v1", "namespace": ns, "name": pod.name_any(),
        "uid": pod.uid(), "resourceVersion": pod.resource_version(),
    });
    if let Some(path) = field_path {
        involved["fieldPath"] = json!(path);
    }
    let event = json!({
        "metadata": { "name": event_name(&pod.name_any()), "namespace": ns },
        "involvedObject": involved,
        "reason": reason, "message": message, "type": type_,
        "source": { "component": "kubelet", "host": node },
        "reportingComponent": "kubelet", "reportingInstance": node,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    });
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    match serde_json::from_value::<Event>(event) {
        Ok(e) => {
            if let Err(err) = api.create(&PostParams::default(), &e).await {
                tracing::debug!(error = %err, "recording a pod event failed");
            }
        }
        Err(err) => tracing::debug!(error = %err, "building a pod event failed"),
    }
}

/// Upstream's event naming: `<object>.<hex nanoseconds>` (unique per object and moment).
fn event_name(object: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{object}.{nanos:x}")
}
