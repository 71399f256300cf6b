//! Printers for the core (`v1`) kinds: pods, services, nodes, namespaces, config, storage
//! claims, events and the other legacy-group kinds.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::{
    age, col, containers_and_images, count, deleting, entries, format_labels, int, items, name, since, text, text_or,
    timestamp, wide, Column, Printer, AGE, NAME,
};

pub(super) fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    if !group.is_empty() {
        return None;
    }
    Some(match kind {
        "Pod" => &POD,
        "PodTemplate" => &POD_TEMPLATE,
        "ReplicationController" => &REPLICATION_CONTROLLER,
        "Service" => &SERVICE,
        "Endpoints" => &ENDPOINTS,
        "Node" => &NODE,
        "Event" => &EVENT,
        "Namespace" => &NAMESPACE,
        "Secret" => &SECRET,
        "ServiceAccount" => &SERVICE_ACCOUNT,
        "PersistentVolume" => &PERSISTENT_VOLUME,
        "PersistentVolumeClaim" => &PERSISTENT_VOLUME_CLAIM,
        "ComponentStatus" => &COMPONENT_STATUS,
        "ConfigMap" => &CONFIG_MAP,
        "ResourceQuota" => &RESOURCE_QUOTA,
        _ => return None,
    })
}

// ---- Pod ------------------------------------------------------------------------------------

static POD: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready containers out of all containers of the pod."),
        col("Status", "string", "Summary of the pod's state: its phase or the reason it is not running."),
        col("Restarts", "string", "Container restarts, and how long ago the last one happened."),
        AGE,
        wide("IP", "string", "The pod's first IP address."),
        wide("Node", "string", "The node the pod is bound to."),
        wide("Nominated Node", "string", "The node the scheduler nominated for the pod after preemption."),
        wide("Readiness Gates", "string", "Readiness gates whose condition is true, out of all gates."),
    ],
    cells: pod_cells,
};

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let summary = PodSummary::of(pod);
    let restarts = match summary.last_restart {
        Some(at) if summary.restarts != 0 => format!("{} ({} ago)", summary.restarts, since(Some(at), now)),
        _ => summary.restarts.to_string(),
    };
    let ip = items(pod, "/status/podIPs").first().map_or("", |ip| text(ip, "/ip"));
    vec![
        json!(name(pod)),
        json!(format!("{}/{}", summary.ready, summary.total)),
        json!(summary.status),
        json!(restarts),
        age(pod, now),
        json!(if ip.is_empty() { "<none>" } else { ip }),
        json!(text_or(pod, "/spec/nodeName", "<none>")),
        json!(text_or(pod, "/status/nominatedNodeName", "<none>")),
        json!(readiness_gates(pod)),
    ]
}

/// What the READY, STATUS and RESTARTS columns summarize.
struct PodSummary {
    ready: usize,
    total: usize,
    status: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

fn is_restartable_init(pod: &Value, container_name: &str) -> bool {
    items(pod, "/spec/initContainers")
        .iter()
        .any(|c| text(c, "/name") == container_name && text(c, "/restartPolicy") == "Always")
}

fn condition_status<'a>(obj: &'a Value, type_: &str) -> Option<&'a str> {
    items(obj, "/status/conditions").iter().find(|c| text(c, "/type") == type_).map(|c| text(c, "/status"))
}

fn later(current: Option<Timestamp>, candidate: Option<Timestamp>) -> Option<Timestamp> {
    match (current, candidate) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn last_termination(status: &Value) -> Option<Timestamp> {
    timestamp(status, "/lastState/terminated/finishedAt")
}

/// The text for a terminated container without a reason: its signal, else its exit code.
fn exit_text(terminated: &Value) -> String {
    match int(terminated, "/signal") {
        0 => format!("ExitCode:{}", int(terminated, "/exitCode")),
        signal => format!("Signal:{signal}"),
    }
}

impl PodSummary {
    fn of(pod: &Value) -> Self {
        let init_specs = items(pod, "/spec/initContainers");
        let mut total = items(pod, "/spec/containers").len();
        total += init_specs.iter().filter(|c| text(c, "/restartPolicy") == "Always").count();
        let mut ready = 0;
        let mut restarts = 0;
        let mut restartable_restarts = 0;
        let mut last_restart = None;
        let mut last_restartable_restart = None;

        let mut status = text_or(pod, "/status/reason", text(pod, "/status/phase")).to_string();
        if items(pod, "/status/conditions")
            .iter()
            .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated")
        {
            status = "SchedulingGated".to_string();
        }

        let mut initializing = false;
        for (i, cs) in items(pod, "/status/initContainerStatuses").iter().enumerate() {
            let restartable = is_restartable_init(pod, text(cs, "/name"));
            restarts += int(cs, "/restartCount");
            last_restart = later(last_restart, last_termination(cs));
            if restartable {
                restartable_restarts += int(cs, "/restartCount");
                last_restartable_restart = later(last_restartable_restart, last_termination(cs));
            }
            let terminated = cs.pointer("/state/terminated").filter(|t| t.is_object());
            let waiting_reason = text(cs, "/state/waiting/reason");
            if terminated.is_some_and(|t| int(t, "/exitCode") == 0) {
                continue;
            }
            if restartable && cs.get("started").and_then(Value::as_bool) == Some(true) {
                if cs.get("ready").and_then(Value::as_bool) == Some(true) {
                    ready += 1;
                }
                continue;
            }
            status = match terminated {
                Some(t) => match text(t, "/reason") {
                    "" => format!("Init:{}", exit_text(t)),
                    reason => format!("Init:{reason}"),
                },
                None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => format!("Init:{waiting_reason}"),
                None => format!("Init:{i}/{}", init_specs.len()),
            };
            initializing = true;
            break;
        }

        if !initializing || condition_status(pod, "Initialized") == Some("True") {
            restarts = restartable_restarts;
            last_restart = last_restartable_restart;
            let mut has_running = false;
            for cs in items(pod, "/status/containerStatuses").iter().rev() {
                restarts += int(cs, "/restartCount");
                last_restart = later(last_restart, last_termination(cs));
                let terminated = cs.pointer("/state/terminated").filter(|t| t.is_object());
                let waiting_reason = text(cs, "/state/waiting/reason");
                if !waiting_reason.is_empty() {
                    status = waiting_reason.to_string();
                } else if let Some(t) = terminated {
                    status = match text(t, "/reason") {
                        "" => exit_text(t),
                        reason => reason.to_string(),
                    };
                } else if cs.get("ready").and_then(Value::as_bool) == Some(true)
                    && cs.pointer("/state/running").is_some_and(Value::is_object)
                {
                    has_running = true;
                    ready += 1;
                }
            }
            if status == "Completed" && has_running {
                status = if condition_status(pod, "Ready") == Some("True") { "Running" } else { "NotReady" }.to_string();
            }
        }

        let phase = text(pod, "/status/phase");
        if deleting(pod) && text(pod, "/status/reason") == "NodeLost" {
            status = "Unknown".to_string();
        } else if deleting(pod) && phase != "Succeeded" && phase != "Failed" {
            status = "Terminating".to_string();
        }
        PodSummary { ready, total, status, restarts, last_restart }
    }
}

fn readiness_gates(pod: &Value) -> String {
    let gates = items(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let passing = gates.iter().filter(|g| condition_status(pod, text(g, "/conditionType")) == Some("True")).count();
    format!("{passing}/{}", gates.len())
}

// ---- PodTemplate, ReplicationController -----------------------------------------------------

const CONTAINERS: Column = super::wide("Containers", "string", "Names of the containers in the pod template.");
const IMAGES: Column = super::wide("Images", "string", "Images of the containers in the pod template.");

static POD_TEMPLATE: Printer = Printer {
    columns: &[
        NAME,
        col("Containers", "string", "Names of the containers in the pod template."),
        col("Images", "string", "Images of the containers in the pod template."),
        col("Pod Labels", "string", "Labels of the pod template."),
    ],
    cells: |obj, _| {
        let (names, images) = containers_and_images(items(obj, "/template/spec/containers"));
        vec![json!(name(obj)), json!(names), json!(images), json!(format_labels(obj.pointer("/template/metadata/labels")))]
    },
};

static REPLICATION_CONTROLLER: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "Desired number of pods."),
        col("Current", "integer", "Number of pods that exist."),
        col("Ready", "integer", "Number of ready pods."),
        AGE,
        CONTAINERS,
        IMAGES,
        wide("Selector", "string", "Label selector of the pods."),
    ],
    cells: |obj, now| {
        let (names, images) = containers_and_images(items(obj, "/spec/template/spec/containers"));
        let desired = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        vec![
            json!(name(obj)),
            json!(desired),
            json!(int(obj, "/status/replicas")),
            json!(int(obj, "/status/readyReplicas")),
            age(obj, now),
            json!(names),
            json!(images),
            json!(format_labels(obj.pointer("/spec/selector"))),
        ]
    },
};

// ---- Service, Endpoints ---------------------------------------------------------------------

static SERVICE: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "How the service is exposed."),
        col("Cluster-IP", "string", "The service's cluster IP."),
        col("External-IP", "string", "Addresses the service is reachable at from outside the cluster."),
        col("Port(s)", "string", "Service ports, with node ports."),
        AGE,
        wide("Selector", "string", "Labels of the pods behind the service."),
    ],
    cells: service_cells,
};

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    let cluster_ip = items(svc, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .or_else(|| svc.pointer("/spec/clusterIP").and_then(Value::as_str))
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let ports: Vec<String> = items(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let (port, protocol) = (int(p, "/port"), text(p, "/protocol"));
            match int(p, "/nodePort") {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        json!(name(svc)),
        json!(text(svc, "/spec/type")),
        json!(cluster_ip),
        json!(service_external_ip(svc)),
        json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") }),
        age(svc, now),
        json!(format_labels(svc.pointer("/spec/selector"))),
    ]
}

/// Load-balancer ingress points (IP, else hostname), sorted and de-duplicated.
pub(super) fn load_balancer_ingress(status: &Value, pointer: &str) -> Vec<String> {
    let mut out: Vec<String> = items(status, pointer)
        .iter()
        .filter_map(|i| [text(i, "/ip"), text(i, "/hostname")].into_iter().find(|s| !s.is_empty()))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn service_external_ip(svc: &Value) -> String {
    let external: Vec<String> = items(svc, "/spec/externalIPs").iter().filter_map(Value::as_str).map(str::to_string).collect();
    match text(svc, "/spec/type") {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut all = load_balancer_ingress(svc, "/status/loadBalancer/ingress");
            if all.is_empty() && external.is_empty() {
                return "<pending>".to_string();
            }
            all.extend(external);
            all.join(",")
        }
        "ExternalName" => text(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    }
}

static ENDPOINTS: Printer = Printer {
    columns: &[NAME, col("Endpoints", "string", "Ready addresses and ports of the endpoints."), AGE],
    cells: |obj, now| vec![json!(name(obj)), json!(format_endpoints(obj)), age(obj, now)],
};

/// Up to three `ip:port` pairs, then `+ N more...`; `<none>` without subsets.
fn format_endpoints(obj: &Value) -> String {
    let subsets = items(obj, "/subsets");
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut all = Vec::new();
    for subset in subsets {
        let addresses = items(subset, "/addresses");
        let ports = items(subset, "/ports");
        if ports.is_empty() {
            all.extend(addresses.iter().map(|a| text(a, "/ip").to_string()));
            continue;
        }
        for port in ports {
            for a in addresses {
                let ip = text(a, "/ip");
                let p = int(port, "/port");
                all.push(if ip.contains(':') { format!("[{ip}]:{p}") } else { format!("{ip}:{p}") });
            }
        }
    }
    let shown = all.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if all.len() > 3 {
        format!("{shown} + {} more...", all.len() - 3)
    } else {
        shown
    }
}

// ---- Node -----------------------------------------------------------------------------------

static NODE: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Whether the node is ready, and whether it accepts new pods."),
        col("Roles", "string", "Roles of the node, from its node-role labels."),
        AGE,
        col("Version", "string", "Version of the node's kubelet."),
        wide("Internal-IP", "string", "The node's first internal IP."),
        wide("External-IP", "string", "The node's first external IP."),
        wide("OS-Image", "string", "The node's operating system image."),
        wide("Kernel-Version", "string", "The node's kernel version."),
        wide("Container-Runtime", "string", "The node's container runtime and its version."),
    ],
    cells: node_cells,
};

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let mut status = vec![match condition_status(node, "Ready") {
        Some("True") => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if super::flag(node, "/spec/unschedulable") {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if k == "kubernetes.io/role" => v.as_str().filter(|r| !r.is_empty()),
            None => None,
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    let address = |type_: &str| {
        items(node, "/status/addresses")
            .iter()
            .find(|a| text(a, "/type") == type_)
            .map_or("<none>", |a| text(a, "/address"))
            .to_string()
    };
    vec![
        json!(name(node)),
        json!(status.join(",")),
        json!(if roles.is_empty() { "<none>".to_string() } else { roles.join(",") }),
        age(node, now),
        json!(text(node, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(text_or(node, "/status/nodeInfo/osImage", "<unknown>")),
        json!(text_or(node, "/status/nodeInfo/kernelVersion", "<unknown>")),
        json!(text_or(node, "/status/nodeInfo/containerRuntimeVersion", "<unknown>")),
    ]
}

// ---- Event ----------------------------------------------------------------------------------

/// The core event columns, shared with `events.k8s.io` events.
pub(super) const EVENT_COLUMNS: &[Column] = &[
        col("Last Seen", "string", "Time since the event was last seen."),
        col("Type", "string", "Normal or Warning."),
        col("Reason", "string", "Short machine-readable reason for the event."),
        col("Object", "string", "The object the event is about."),
        wide("Subobject", "string", "The part of the object the event is about (e.g. a container)."),
        wide("Source", "string", "The component (and host) that reported the event."),
        col("Message", "string", "What happened, for humans."),
        wide("First Seen", "string", "Time since the event was first seen."),
        wide("Count", "string", "How many times the event happened."),
        Column { name: "Name", type_: "string", format: "name", description: "Name of the event.", priority: 1 },
];

static EVENT: Printer = Printer { columns: EVENT_COLUMNS, cells: event_cells };

/// Columns of a core `v1` Event; `events.k8s.io` events are shown through the same printer.
pub(super) fn event_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    let first = timestamp(ev, "/firstTimestamp").or_else(|| timestamp(ev, "/eventTime"));
    let first_seen = since(first, now);
    let mut last_seen = match timestamp(ev, "/lastTimestamp") {
        Some(t) => since(Some(t), now),
        None => first_seen.clone(),
    };
    let mut occurrences = int(ev, "/count");
    if ev.get("series").is_some_and(Value::is_object) {
        last_seen = since(timestamp(ev, "/series/lastObservedTime"), now);
        occurrences = int(ev, "/series/count");
    } else if occurrences == 0 {
        occurrences = 1;
    }
    let kind = text(ev, "/involvedObject/kind").to_lowercase();
    let target = match text(ev, "/involvedObject/name") {
        "" => kind,
        object => format!("{kind}/{object}"),
    };
    let component = text_or(ev, "/source/component", text(ev, "/reportingComponent"));
    let instance = text_or(ev, "/source/host", text(ev, "/reportingInstance"));
    let source = if instance.is_empty() { component.to_string() } else { format!("{component}, {instance}") };
    vec![
        json!(last_seen),
        json!(text(ev, "/type")),
        json!(text(ev, "/reason")),
        json!(target),
        json!(text(ev, "/involvedObject/fieldPath")),
        json!(source),
        json!(text(ev, "/message").trim()),
        json!(first_seen),
        json!(occurrences),
        json!(name(ev)),
    ]
}

// ---- Namespace, Secret, ServiceAccount, ConfigMap, ComponentStatus ---------------------------

static NAMESPACE: Printer = Printer {
    columns: &[NAME, col("Status", "string", "Active, or Terminating while its contents are removed."), AGE],
    cells: |obj, now| vec![json!(name(obj)), json!(text(obj, "/status/phase")), age(obj, now)],
};

static SECRET: Printer = Printer {
    columns: &[NAME, col("Type", "string", "Type of the secret's data."), col("Data", "string", "Number of data keys."), AGE],
    cells: |obj, now| vec![json!(name(obj)), json!(text(obj, "/type")), json!(entries(obj, "/data")), age(obj, now)],
};

static SERVICE_ACCOUNT: Printer = Printer {
    columns: &[NAME, col("Secrets", "string", "Number of secrets listed by the service account."), AGE],
    cells: |obj, now| vec![json!(name(obj)), count(items(obj, "/secrets").len()), age(obj, now)],
};

static CONFIG_MAP: Printer = Printer {
    columns: &[NAME, col("Data", "string", "Number of data and binaryData keys."), AGE],
    cells: |obj, now| {
        vec![json!(name(obj)), json!(entries(obj, "/data") + entries(obj, "/binaryData")), age(obj, now)]
    },
};

static COMPONENT_STATUS: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Healthy, Unhealthy or Unknown."),
        col("Message", "string", "Message of the health condition."),
        col("Error", "string", "Error of the health condition."),
    ],
    cells: |obj, _| {
        let healthy = items(obj, "/conditions").iter().find(|c| text(c, "/type") == "Healthy");
        let (status, message, error) = match healthy {
            Some(c) if text(c, "/status") == "True" => ("Healthy", text(c, "/message"), text(c, "/error")),
            Some(c) => ("Unhealthy", text(c, "/message"), text(c, "/error")),
            None => ("Unknown", "", ""),
        };
        vec![json!(name(obj)), json!(status), json!(message), json!(error)]
    },
};

// ---- PersistentVolume, PersistentVolumeClaim, ResourceQuota ---------------------------------

/// Access modes abbreviated in upstream's fixed order (`RWO,ROX,RWX,RWOP`).
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| has(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// The storage class: the legacy beta annotation wins over `spec.storageClassName`.
fn storage_class(obj: &Value) -> &str {
    match obj.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class").and_then(Value::as_str) {
        Some(class) => class,
        None => text(obj, "/spec/storageClassName"),
    }
}

static PERSISTENT_VOLUME: Printer = Printer {
    columns: &[
        NAME,
        col("Capacity", "string", "Storage capacity of the volume."),
        col("Access Modes", "string", "How the volume can be mounted."),
        col("Reclaim Policy", "string", "What happens to the volume when its claim is released."),
        col("Status", "string", "Phase of the volume."),
        col("Claim", "string", "The claim bound to the volume."),
        col("StorageClass", "string", "Storage class of the volume."),
        col("VolumeAttributesClass", "string", "Volume attributes class of the volume."),
        col("Reason", "string", "Why the volume is in its phase."),
        AGE,
        wide("VolumeMode", "string", "Filesystem or Block."),
    ],
    cells: |obj, now| {
        let claim = match obj.pointer("/spec/claimRef") {
            Some(r) if r.is_object() => format!("{}/{}", text(r, "/namespace"), text(r, "/name")),
            _ => String::new(),
        };
        let phase = if deleting(obj) { "Terminating" } else { text(obj, "/status/phase") };
        vec![
            json!(name(obj)),
            json!(text(obj, "/spec/capacity/storage")),
            json!(access_modes(items(obj, "/spec/accessModes"))),
            json!(text(obj, "/spec/persistentVolumeReclaimPolicy")),
            json!(phase),
            json!(claim),
            json!(storage_class(obj)),
            json!(text_or(obj, "/spec/volumeAttributesClassName", "<unset>")),
            json!(text(obj, "/status/reason")),
            age(obj, now),
            json!(text_or(obj, "/spec/volumeMode", "<unset>")),
        ]
    },
};

static PERSISTENT_VOLUME_CLAIM: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Phase of the claim."),
        col("Volume", "string", "The volume bound to the claim."),
        col("Capacity", "string", "Capacity of the bound volume."),
        col("Access Modes", "string", "How the bound volume can be mounted."),
        col("StorageClass", "string", "Storage class of the claim."),
        col("VolumeAttributesClass", "string", "Volume attributes class of the claim."),
        AGE,
        wide("VolumeMode", "string", "Filesystem or Block."),
    ],
    cells: |obj, now| {
        let phase = if deleting(obj) { "Terminating" } else { text(obj, "/status/phase") };
        let bound = !text(obj, "/spec/volumeName").is_empty();
        let (capacity, modes) = if bound {
            (text(obj, "/status/capacity/storage").to_string(), access_modes(items(obj, "/status/accessModes")))
        } else {
            (String::new(), String::new())
        };
        vec![
            json!(name(obj)),
            json!(phase),
            json!(text(obj, "/spec/volumeName")),
            json!(capacity),
            json!(modes),
            json!(storage_class(obj)),
            json!(text_or(obj, "/spec/volumeAttributesClassName", "<unset>")),
            age(obj, now),
            json!(text_or(obj, "/spec/volumeMode", "<unset>")),
        ]
    },
};

static RESOURCE_QUOTA: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        col("Request", "string", "Used and hard amounts of requests and object counts."),
        col("Limit", "string", "Used and hard amounts of limits."),
    ],
    cells: |obj, now| {
        let hard = obj.pointer("/status/hard").and_then(Value::as_object);
        let mut resources: Vec<&String> = hard.into_iter().flat_map(|m| m.keys()).collect();
        resources.sort();
        let (mut requests, mut limits) = (Vec::new(), Vec::new());
        for resource in resources {
            let used = obj.pointer("/status/used").and_then(|u| u.get(resource.as_str())).and_then(Value::as_str).unwrap_or("0");
            let limit = hard.and_then(|h| h.get(resource.as_str())).and_then(Value::as_str).unwrap_or("0");
            let entry = format!("{resource}: {used}/{limit}");
            if resource.split('.').count() > 1 && resource.starts_with("limits.") {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
        vec![json!(name(obj)), age(obj, now), json!(requests.join(", ")), json!(limits.join(", "))]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-06-01T12:00:00Z".parse().expect("timestamp")
    }

    fn pod_status(pod: &Value) -> String {
        pod_cells(pod, now())[2].as_str().expect("status").to_string()
    }

    #[test]
    fn pod_with_two_ready_containers() {
        let running = json!({"ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2024-06-01T11:00:00Z"}}});
        let pod = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-06-01T11:55:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}], "containerStatuses": [running.clone(), running]},
        });
        let cells = pod_cells(&pod, now());
        assert_eq!(cells, vec![
            json!("web"), json!("2/2"), json!("Running"), json!("0"), json!("5m"),
            json!("10.42.0.5"), json!("n1"), json!("<none>"), json!("<none>"),
        ]);
        assert_eq!(cells.len(), POD.columns.len());
    }

    #[test]
    fn crashing_container_shows_its_waiting_reason_and_last_restart() {
        let pod = json!({
            "metadata": {"name": "crash", "creationTimestamp": "2024-06-01T10:00:00Z"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-06-01T11:55:00Z"}},
            }]},
        });
        let cells = pod_cells(&pod, now());
        assert_eq!(cells[1], json!("0/1"));
        assert_eq!(cells[2], json!("CrashLoopBackOff"));
        assert_eq!(cells[3], json!("4 (5m ago)"));
        // kubectl's human durations stay in minutes below three hours.
        assert_eq!(cells[4], json!("120m"));
    }

    #[test]
    fn terminated_container_without_reason_shows_exit_code_or_signal() {
        let pod = |terminated: Value| json!({"spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": terminated}}]}});
        assert_eq!(pod_status(&pod(json!({"exitCode": 3}))), "ExitCode:3");
        assert_eq!(pod_status(&pod(json!({"exitCode": 137, "signal": 9}))), "Signal:9");
        assert_eq!(pod_status(&pod(json!({"exitCode": 0, "reason": "Completed"}))), "Completed");
    }

    #[test]
    fn deleting_pod_is_terminating_unless_finished() {
        let mut pod = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-06-01T11:59:00Z"},
            "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&pod), "Terminating");
        pod["status"]["phase"] = json!("Succeeded");
        assert_eq!(pod_status(&pod), "Succeeded");
        pod["status"]["phase"] = json!("Running");
        pod["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_status(&pod), "Unknown");
    }

    #[test]
    fn init_containers_show_progress_and_failures() {
        let pod = |init_status: Value| json!({
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": init_status,
                "containerStatuses": [{"state": {"waiting": {"reason": "PodInitializing"}}}]},
        });
        let done = json!({"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let running = json!({"name": "i2", "state": {"running": {}}});
        assert_eq!(pod_status(&pod(json!([done.clone(), running]))), "Init:1/2");
        let crashing = json!({"name": "i2", "state": {"waiting": {"reason": "CrashLoopBackOff"}}});
        assert_eq!(pod_status(&pod(json!([done.clone(), crashing]))), "Init:CrashLoopBackOff");
        let failed = json!({"name": "i2", "state": {"terminated": {"exitCode": 2}}});
        assert_eq!(pod_status(&pod(json!([done, failed]))), "Init:ExitCode:2");
    }

    #[test]
    fn sidecar_init_containers_count_towards_ready() {
        let pod = json!({
            "spec": {"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}}}],
                "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]},
        });
        let cells = pod_cells(&pod, now());
        assert_eq!(cells[1], json!("2/2"));
        assert_eq!(cells[2], json!("Running"));
        assert_eq!(cells[3], json!("1"));
    }

    #[test]
    fn node_port_service_lists_node_ports() {
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-06-01T11:59:30Z"},
            "spec": {"type": "NodePort", "clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20"], "selector": {"app": "web"},
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]},
        });
        assert_eq!(service_cells(&svc, now()), vec![
            json!("web"), json!("NodePort"), json!("10.43.0.20"), json!("<none>"),
            json!("80:30080/TCP,53/UDP"), json!("30s"), json!("app=web"),
        ]);
    }

    #[test]
    fn load_balancer_without_ingress_is_pending() {
        let svc = json!({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.43.0.9"]}});
        assert_eq!(service_cells(&svc, now())[3], json!("<pending>"));
        let svc = json!({"spec": {"type": "LoadBalancer", "externalIPs": ["1.2.3.4"]},
            "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example"}]}}});
        assert_eq!(service_cells(&svc, now())[3], json!("5.6.7.8,lb.example,1.2.3.4"));
        assert_eq!(service_cells(&svc, now())[2], json!("<none>"));
    }

    #[test]
    fn node_status_roles_and_addresses() {
        let node = json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0"}},
        });
        let cells = node_cells(&node, now());
        assert_eq!(cells[1], json!("NotReady,SchedulingDisabled"));
        assert_eq!(cells[2], json!("control-plane,master"));
        assert_eq!(cells[4], json!("v1.33.0"));
        assert_eq!(cells[5], json!("192.168.1.10"));
        assert_eq!(cells[6], json!("<none>"));
        assert_eq!(cells[7], json!("<unknown>"));
    }

    #[test]
    fn event_object_and_times() {
        let ev = json!({"metadata": {"name": "web.17a"}, "type": "Warning", "reason": "BackOff", "message": " Back-off \n",
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{a}"},
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-06-01T11:00:00Z", "lastTimestamp": "2024-06-01T11:58:00Z", "count": 7});
        assert_eq!(event_cells(&ev, now()), vec![
            json!("2m"), json!("Warning"), json!("BackOff"), json!("pod/web"), json!("spec.containers{a}"),
            json!("kubelet, n1"), json!("Back-off"), json!("60m"), json!(7), json!("web.17a"),
        ]);
    }

    #[test]
    fn endpoints_show_three_then_more() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
            "ports": [{"port": 80}]}]});
        assert_eq!(format_endpoints(&ep), "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...");
        assert_eq!(format_endpoints(&json!({})), "<none>");
    }

    #[test]
    fn config_and_secret_count_keys() {
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!((CONFIG_MAP.cells)(&cm, now())[1], json!(3));
        let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}});
        assert_eq!((SECRET.cells)(&secret, now())[1..3], [json!("Opaque"), json!(1)]);
    }

    #[test]
    fn quota_splits_requests_and_limits() {
        let rq = json!({"status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"},
            "used": {"pods": "3", "limits.cpu": "500m"}}});
        let cells = (RESOURCE_QUOTA.cells)(&rq, now());
        assert_eq!(cells[2], json!("pods: 3/10, requests.cpu: 0/1"));
        assert_eq!(cells[3], json!("limits.cpu: 500m/2"));
    }
}
