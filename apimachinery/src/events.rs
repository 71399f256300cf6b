//! Core/v1 Events about pods, as the scheduler and the kubelet record them: upstream's naming
//! (`<object>.<hex nanoseconds>`) and field layout, built in one place so every recorder agrees
//! with `kubectl describe`.

use k8s_openapi::api::core::v1::{Event, Pod};
use serde_json::json;

use crate::time::now_rfc3339;

/// Who records an event: the component (`default-scheduler`, `kubelet`), its instance, and the
/// node it runs on, if any.
#[derive(Debug, Clone, Copy)]
pub struct Reporter<'a> {
    /// `source.component` and `reportingComponent`.
    pub component: &'a str,
    /// `reportingInstance`.
    pub instance: &'a str,
    /// `source.host`.
    pub host: Option<&'a str>,
}

/// Upstream's event name: `<object>.<hex nanoseconds>` (unique per object and moment).
pub fn event_name(object: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{object}.{nanos:x}")
}

/// An Event about `pod` (and, with `field_path`, one of its containers).
pub fn pod_event(pod: &Pod, field_path: Option<&str>, reporter: Reporter<'_>, type_: &str, reason: &str, message: &str) -> Result<Event, serde_json::Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let now = now_rfc3339();
    let mut involved = json!({
        "kind": "Pod", "apiVersion": "v1", "namespace": ns, "name": name,
        "uid": pod.metadata.uid, "resourceVersion": pod.metadata.resource_version,
    });
    if let Some(path) = field_path {
        involved["fieldPath"] = json!(path);
    }
    let mut source = json!({ "component": reporter.component });
    if let Some(host) = reporter.host {
        source["host"] = json!(host);
    }
    serde_json::from_value(json!({
        "metadata": { "name": event_name(&name), "namespace": ns },
        "involvedObject": involved,
        "reason": reason, "message": message, "type": type_,
        "source": source,
        "reportingComponent": reporter.component, "reportingInstance": reporter.instance,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_and_describe_their_pod() {
        let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": "web", "namespace": "ns", "uid": "u1" } })).expect("pod");
        let reporter = Reporter { component: "kubelet", instance: "node-1", host: Some("node-1") };
        let event = pod_event(&pod, Some("spec.containers{c}"), reporter, "Normal", "Started", "Started container c").expect("event");
        let name = event.metadata.name.clone().unwrap_or_default();
        assert!(name.starts_with("web.") && name.len() > 4, "{name}");
        assert_eq!(event.involved_object.field_path.as_deref(), Some("spec.containers{c}"));
        assert_eq!(event.involved_object.uid.as_deref(), Some("u1"));
        assert_eq!(event.source.and_then(|s| s.host).as_deref(), Some("node-1"));
        assert_eq!(event.count, Some(1));
    }
}
