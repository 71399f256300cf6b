//! Filters and scores: upstream's default plugins, as pure functions over the API types.
//!
//! Filters decide whether a pod *can* run on a node (node name, unschedulable, resources fit,
//! node selector and required node affinity, taints, host ports); each failure has upstream's
//! reason text so `FailedScheduling` events read the same. Scores rank the feasible nodes
//! (least allocated, balanced allocation, preferred node affinity), each on 0..=100.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration};

use crate::quantity::{millicores, units};

/// What a pod asks for, or what a node has left, in the units the filters compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu: u64,
    /// Memory in bytes.
    pub memory: u64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: u64,
    /// Pod count.
    pub pods: u64,
}

impl Resources {
    fn add(&mut self, other: Resources) {
        self.cpu += other.cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.pods += other.pods;
    }

    fn max(self, other: Resources) -> Resources {
        Resources {
            cpu: self.cpu.max(other.cpu),
            memory: self.memory.max(other.memory),
            ephemeral_storage: self.ephemeral_storage.max(other.ephemeral_storage),
            pods: self.pods.max(other.pods),
        }
    }

    fn from_map(map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> Resources {
        let get = |k: &str| map.and_then(|m| m.get(k)).map(|q| q.0.as_str());
        Resources {
            cpu: get("cpu").map(millicores).unwrap_or(0),
            memory: get("memory").map(units).unwrap_or(0),
            ephemeral_storage: get("ephemeral-storage").map(units).unwrap_or(0),
            pods: get("pods").map(units).unwrap_or(0),
        }
    }
}

/// A pod's effective request: the larger of its containers' sum and its largest init container,
/// plus overhead, and one pod slot. Requests default to limits when only limits are set.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else { return Resources { pods: 1, ..Default::default() } };
    let container = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.as_ref();
        let requests = Resources::from_map(r.and_then(|r| r.requests.as_ref()));
        let limits = Resources::from_map(r.and_then(|r| r.limits.as_ref()));
        let has = |k: &str| r.and_then(|r| r.requests.as_ref()).is_some_and(|m| m.contains_key(k));
        Resources {
            cpu: if has("cpu") { requests.cpu } else { limits.cpu },
            memory: if has("memory") { requests.memory } else { limits.memory },
            ephemeral_storage: if has("ephemeral-storage") { requests.ephemeral_storage } else { limits.ephemeral_storage },
            pods: 0,
        }
    };
    let mut sum = Resources::default();
    for c in &spec.containers {
        sum.add(container(c));
    }
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        init_max = init_max.max(container(c));
    }
    let mut total = sum.max(init_max);
    total.add(Resources::from_map(spec.overhead.as_ref()));
    total.pods = 1;
    total
}

/// A node's allocatable resources (capacity when allocatable is absent).
pub fn allocatable(node: &Node) -> Resources {
    let status = node.status.as_ref();
    Resources::from_map(status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref())))
}

/// Why a node was filtered out; the text is upstream's, used in `FailedScheduling` messages.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unfit {
    /// `spec.nodeName` names another node.
    NodeName,
    /// The node is cordoned.
    Unschedulable,
    /// Not enough of a resource.
    Insufficient(&'static str),
    /// Too many pods.
    TooManyPods,
    /// nodeSelector / required node affinity.
    Affinity,
    /// An untolerated taint.
    Taint(String),
    /// A host port is taken.
    Ports,
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfit::NodeName => write!(f, "node(s) didn't match the requested node name"),
            Unfit::Unschedulable => write!(f, "node(s) were unschedulable"),
            Unfit::Insufficient(r) => write!(f, "Insufficient {r}"),
            Unfit::TooManyPods => write!(f, "Too many pods"),
            Unfit::Affinity => write!(f, "node(s) didn't match Pod's node affinity/selector"),
            Unfit::Taint(t) => write!(f, "node(s) had untolerated taint {{{t}}}"),
            Unfit::Ports => write!(f, "node(s) didn't have free ports for the requested pod ports"),
        }
    }
}

/// Runs every filter; the first failure wins (like upstream's per-node status).
pub fn filter(pod: &Pod, node: &Node, pods_on_node: &[&Pod], requested_on_node: Resources) -> Result<(), Unfit> {
    let spec = pod.spec.as_ref();
    let node_name = node.metadata.name.as_deref().unwrap_or("");
    if let Some(wanted) = spec.and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty()) {
        if wanted != node_name {
            return Err(Unfit::NodeName);
        }
    }
    let tolerations: &[Toleration] = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        let cordon = Taint { key: "node.kubernetes.io/unschedulable".into(), effect: "NoSchedule".into(), ..Default::default() };
        if !tolerations.iter().any(|t| tolerates(t, &cordon)) {
            return Err(Unfit::Unschedulable);
        }
    }
    if !matches_node_selector(pod, node) {
        return Err(Unfit::Affinity);
    }
    for taint in node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default() {
        if (taint.effect == "NoSchedule" || taint.effect == "NoExecute") && !tolerations.iter().any(|t| tolerates(t, taint)) {
            let value = taint.value.as_deref().map(|v| format!(": {v}")).unwrap_or_default();
            return Err(Unfit::Taint(format!("{}{value}", taint.key)));
        }
    }
    let want = pod_requests(pod);
    let have = allocatable(node);
    if requested_on_node.pods + 1 > have.pods {
        return Err(Unfit::TooManyPods);
    }
    if want.cpu > 0 && requested_on_node.cpu + want.cpu > have.cpu {
        return Err(Unfit::Insufficient("cpu"));
    }
    if want.memory > 0 && requested_on_node.memory + want.memory > have.memory {
        return Err(Unfit::Insufficient("memory"));
    }
    if want.ephemeral_storage > 0 && requested_on_node.ephemeral_storage + want.ephemeral_storage > have.ephemeral_storage {
        return Err(Unfit::Insufficient("ephemeral-storage"));
    }
    let wanted_ports = host_ports(pod);
    if !wanted_ports.is_empty() {
        let used: Vec<(String, String, i32)> = pods_on_node.iter().flat_map(|p| host_ports(p)).collect();
        for (proto, ip, port) in &wanted_ports {
            let clash = used.iter().any(|(p2, ip2, port2)| p2 == proto && port2 == port && (ip == ip2 || ip == "0.0.0.0" || ip2 == "0.0.0.0"));
            if clash {
                return Err(Unfit::Ports);
            }
        }
    }
    Ok(())
}

fn host_ports(pod: &Pod) -> Vec<(String, String, i32)> {
    let Some(spec) = pod.spec.as_ref() else { return Vec::new() };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let hp = p.host_port.filter(|hp| *hp > 0)?;
            let ip = p.host_ip.clone().filter(|ip| !ip.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
            Some((p.protocol.clone().unwrap_or_else(|| "TCP".into()), ip, hp))
        })
        .collect()
}

/// Whether a toleration tolerates a taint (upstream's matching rules).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or("");
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => key == taint.key && t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
    }
}

/// `nodeSelector` and required node affinity.
pub fn matches_node_selector(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return true };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    if let Some(selector) = &spec.node_selector {
        if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref());
    match required {
        // Terms are ORed; an empty term list matches nothing.
        Some(r) => r.node_selector_terms.iter().any(|term| term_matches(term, node)),
        None => true,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let name = node.metadata.name.clone().unwrap_or_default();
    exprs.iter().all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| r.key == "metadata.name" && requirement_matches(r, Some(&name)))
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (value.and_then(|v| v.parse::<i64>().ok()), values.first().and_then(|b| b.parse::<i64>().ok())) else {
                return false;
            };
            if r.operator == "Gt" { v > bound } else { v < bound }
        }
        _ => false,
    }
}

/// Sum of the scores, each 0..=100: least allocated, balanced allocation, preferred affinity.
pub fn score(pod: &Pod, node: &Node, requested_on_node: Resources) -> u64 {
    let have = allocatable(node);
    let mut after = requested_on_node;
    after.add(pod_requests(pod));
    let fraction = |used: u64, cap: u64| if cap == 0 { 1.0 } else { (used as f64 / cap as f64).min(1.0) };
    let (cpu, mem) = (fraction(after.cpu, have.cpu), fraction(after.memory, have.memory));
    let least_allocated = ((1.0 - cpu) * 100.0 + (1.0 - mem) * 100.0) / 2.0;
    let balanced = (1.0 - (cpu - mem).abs() / 2.0) * 100.0;
    least_allocated.round() as u64 + balanced.round() as u64 + preferred_affinity(pod, node)
}

/// Preferred node affinity: the matching terms' weights, scaled to 0..=100.
fn preferred_affinity(pod: &Pod, node: &Node) -> u64 {
    let Some(preferred) = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.preferred_during_scheduling_ignored_during_execution.as_ref())
    else {
        return 0;
    };
    let total: i64 = preferred.iter().map(|p| i64::from(p.weight)).sum();
    if total <= 0 {
        return 0;
    }
    let matched: i64 = preferred.iter().filter(|p| term_matches(&p.preference, node)).map(|p| i64::from(p.weight)).sum();
    (matched * 100 / total) as u64
}

/// Resources requested by the given pods.
pub fn requested(pods: &[&Pod]) -> Resources {
    let mut total = Resources::default();
    for p in pods {
        total.add(pod_requests(p));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str, memory: &str, extra: serde_json::Value) -> Node {
        let mut n = json!({
            "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name, "zone": "a" } },
            "spec": {},
            "status": { "allocatable": { "cpu": cpu, "memory": memory, "pods": "110" } }
        });
        merge(&mut n, extra);
        serde_json::from_value(n).expect("node")
    }

    fn pod(extra: serde_json::Value) -> Pod {
        let mut p = json!({
            "metadata": { "name": "p", "namespace": "default" },
            "spec": { "containers": [{ "name": "c", "image": "i", "resources": { "requests": { "cpu": "500m", "memory": "256Mi" } } }] }
        });
        merge(&mut p, extra);
        serde_json::from_value(p).expect("pod")
    }

    fn merge(target: &mut serde_json::Value, patch: serde_json::Value) {
        if let (Some(t), serde_json::Value::Object(p)) = (target.as_object_mut(), patch) {
            for (k, v) in p {
                match t.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k, v);
                    }
                }
            }
        }
    }

    #[test]
    fn requests_take_the_larger_of_containers_and_init_containers() {
        let p = pod(json!({ "spec": { "initContainers": [{ "name": "i", "image": "i", "resources": { "requests": { "cpu": "2" } } }] } }));
        let r = pod_requests(&p);
        assert_eq!((r.cpu, r.memory, r.pods), (2000, 256 << 20, 1));
        let limits_only = pod(json!({ "spec": { "containers": [{ "name": "c", "image": "i", "resources": { "limits": { "cpu": "1" } } }] } }));
        assert_eq!(pod_requests(&limits_only).cpu, 1000);
    }

    #[test]
    fn resources_must_fit() {
        let n = node("n1", "1", "1Gi", json!({}));
        assert_eq!(filter(&pod(json!({})), &n, &[], Resources::default()), Ok(()));
        let busy = Resources { cpu: 600, ..Default::default() };
        assert_eq!(filter(&pod(json!({})), &n, &[], busy), Err(Unfit::Insufficient("cpu")));
    }

    #[test]
    fn cordoned_and_tainted_nodes_need_tolerations() {
        let cordoned = node("n1", "4", "8Gi", json!({ "spec": { "unschedulable": true } }));
        assert_eq!(filter(&pod(json!({})), &cordoned, &[], Resources::default()), Err(Unfit::Unschedulable));
        let tainted = node("n1", "4", "8Gi", json!({ "spec": { "taints": [{ "key": "dedicated", "value": "gpu", "effect": "NoSchedule" }] } }));
        let err = filter(&pod(json!({})), &tainted, &[], Resources::default()).expect_err("tainted");
        assert_eq!(err.to_string(), "node(s) had untolerated taint {dedicated: gpu}");
        let tolerant = pod(json!({ "spec": { "tolerations": [{ "key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule" }] } }));
        assert_eq!(filter(&tolerant, &tainted, &[], Resources::default()), Ok(()));
        let exists_all = pod(json!({ "spec": { "tolerations": [{ "operator": "Exists" }] } }));
        assert_eq!(filter(&exists_all, &tainted, &[], Resources::default()), Ok(()));
    }

    #[test]
    fn node_selector_and_required_affinity() {
        let n = node("n1", "4", "8Gi", json!({}));
        assert!(matches_node_selector(&pod(json!({ "spec": { "nodeSelector": { "zone": "a" } } })), &n));
        assert!(!matches_node_selector(&pod(json!({ "spec": { "nodeSelector": { "zone": "b" } } })), &n));
        let affinity = |op: &str, values: serde_json::Value| {
            pod(json!({ "spec": { "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{ "matchExpressions": [{ "key": "zone", "operator": op, "values": values }] }] } } } } }))
        };
        assert!(matches_node_selector(&affinity("In", json!(["a", "b"])), &n));
        assert!(!matches_node_selector(&affinity("NotIn", json!(["a"])), &n));
        assert!(matches_node_selector(&affinity("Exists", json!([])), &n));
        assert!(!matches_node_selector(&affinity("DoesNotExist", json!([])), &n));
    }

    #[test]
    fn host_ports_conflict() {
        let n = node("n1", "4", "8Gi", json!({}));
        let with_port = pod(json!({ "spec": { "containers": [{ "name": "c", "image": "i", "ports": [{ "containerPort": 80, "hostPort": 8080 }] }] } }));
        assert_eq!(filter(&with_port, &n, &[&with_port], Resources::default()), Err(Unfit::Ports));
        assert_eq!(filter(&with_port, &n, &[], Resources::default()), Ok(()));
    }

    #[test]
    fn emptier_nodes_and_preferred_affinity_score_higher() {
        let n = node("n1", "4", "8Gi", json!({}));
        let idle = score(&pod(json!({})), &n, Resources::default());
        let busy = score(&pod(json!({})), &n, Resources { cpu: 3000, memory: 6 << 30, pods: 10, ephemeral_storage: 0 });
        assert!(idle > busy, "{idle} vs {busy}");
        let preferring = pod(json!({ "spec": { "affinity": { "nodeAffinity": { "preferredDuringSchedulingIgnoredDuringExecution": [
            { "weight": 10, "preference": { "matchExpressions": [{ "key": "zone", "operator": "In", "values": ["a"] }] } } ] } } } }));
        assert_eq!(score(&preferring, &n, Resources::default()), idle + 100);
    }
}
