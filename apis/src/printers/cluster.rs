//! Printers for the remaining API groups: RBAC, storage, networking, scheduling, node,
//! certificates, coordination, discovery, events, admission, flow control and aggregation.

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::{
    age, col, count, flag, human_duration, int, items, list_with_more, name, selector_string, text, text_or, Printer, AGE,
    NAME,
};

pub(super) fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    Some(match (group, kind) {
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => &ROLE_BINDING,
        ("storage.k8s.io", "StorageClass") => &STORAGE_CLASS,
        ("storage.k8s.io", "VolumeAttachment") => &VOLUME_ATTACHMENT,
        ("storage.k8s.io", "CSIDriver") => &CSI_DRIVER,
        ("storage.k8s.io", "CSINode") => &CSI_NODE,
        ("storage.k8s.io", "CSIStorageCapacity") => &CSI_STORAGE_CAPACITY,
        ("networking.k8s.io", "Ingress") => &INGRESS,
        ("networking.k8s.io", "IngressClass") => &INGRESS_CLASS,
        ("networking.k8s.io", "NetworkPolicy") => &NETWORK_POLICY,
        ("networking.k8s.io", "ServiceCIDR") => &SERVICE_CIDR,
        ("networking.k8s.io", "IPAddress") => &IP_ADDRESS,
        ("scheduling.k8s.io", "PriorityClass") => &PRIORITY_CLASS,
        ("node.k8s.io", "RuntimeClass") => &RUNTIME_CLASS,
        ("certificates.k8s.io", "CertificateSigningRequest") => &CERTIFICATE_SIGNING_REQUEST,
        ("coordination.k8s.io", "Lease") => &LEASE,
        ("discovery.k8s.io", "EndpointSlice") => &ENDPOINT_SLICE,
        ("events.k8s.io", "Event") => &EVENTS_EVENT,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration") => &WEBHOOK_CONFIGURATION,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => &VALIDATING_ADMISSION_POLICY,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => &VALIDATING_ADMISSION_POLICY_BINDING,
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => &FLOW_SCHEMA,
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => &PRIORITY_LEVEL_CONFIGURATION,
        ("apiregistration.k8s.io", "APIService") => &API_SERVICE,
        _ => return None,
    })
}

// ---- rbac -----------------------------------------------------------------------------------

static ROLE_BINDING: Printer = Printer {
    columns: &[
        NAME,
        col("Role", "string", "The bound role, as Kind/name."),
        AGE,
        super::wide("Users", "string", "Users the role is granted to."),
        super::wide("Groups", "string", "Groups the role is granted to."),
        super::wide("ServiceAccounts", "string", "Service accounts the role is granted to, as namespace/name."),
    ],
    cells: |obj, now| {
        let (mut users, mut groups, mut service_accounts) = (Vec::new(), Vec::new(), Vec::new());
        for s in items(obj, "/subjects") {
            match text(s, "/kind") {
                "User" => users.push(text(s, "/name").to_string()),
                "Group" => groups.push(text(s, "/name").to_string()),
                "ServiceAccount" => service_accounts.push(format!("{}/{}", text(s, "/namespace"), text(s, "/name"))),
                _ => {}
            }
        }
        vec![
            json!(name(obj)),
            json!(format!("{}/{}", text(obj, "/roleRef/kind"), text(obj, "/roleRef/name"))),
            age(obj, now),
            json!(users.join(", ")),
            json!(groups.join(", ")),
            json!(service_accounts.join(", ")),
        ]
    },
};

// ---- storage --------------------------------------------------------------------------------

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str)
}

static STORAGE_CLASS: Printer = Printer {
    columns: &[
        NAME,
        col("Provisioner", "string", "The volume plugin that provisions volumes of this class."),
        col("ReclaimPolicy", "string", "Reclaim policy of provisioned volumes."),
        col("VolumeBindingMode", "string", "When volumes are bound and provisioned."),
        col("AllowVolumeExpansion", "string", "Whether volumes of this class can be expanded."),
        AGE,
    ],
    cells: |obj, now| {
        let is_default = ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
            .iter()
            .any(|key| annotation(obj, key) == Some("true"));
        let display_name = if is_default { format!("{} (default)", name(obj)) } else { name(obj).to_string() };
        vec![
            json!(display_name),
            json!(text(obj, "/provisioner")),
            json!(text_or(obj, "/reclaimPolicy", "Delete")),
            json!(text_or(obj, "/volumeBindingMode", "Immediate")),
            json!(flag(obj, "/allowVolumeExpansion")),
            age(obj, now),
        ]
    },
};

static VOLUME_ATTACHMENT: Printer = Printer {
    columns: &[
        NAME,
        super::Column { name: "Attacher", type_: "string", format: "name", description: "The volume driver that attaches.", priority: 0 },
        col("PV", "string", "The persistent volume attached."),
        col("Node", "string", "The node it is attached to."),
        col("Attached", "boolean", "Whether the volume is attached."),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            json!(name(obj)),
            json!(text(obj, "/spec/attacher")),
            json!(text(obj, "/spec/source/persistentVolumeName")),
            json!(text(obj, "/spec/nodeName")),
            json!(flag(obj, "/status/attached")),
            age(obj, now),
        ]
    },
};

static CSI_DRIVER: Printer = Printer {
    columns: &[
        NAME,
        col("AttachRequired", "boolean", "Whether volumes need an attach step."),
        col("PodInfoOnMount", "boolean", "Whether pod information is passed on mount."),
        col("StorageCapacity", "boolean", "Whether the driver reports storage capacity."),
        col("TokenRequests", "string", "Audiences of the service account tokens passed to the driver."),
        col("RequiresRepublish", "boolean", "Whether volumes are periodically re-published."),
        col("Modes", "string", "Volume lifecycle modes supported."),
        AGE,
    ],
    cells: |obj, now| {
        let token_requests = match obj.pointer("/spec/tokenRequests").and_then(Value::as_array) {
            Some(requests) => requests.iter().map(|t| text(t, "/audience")).collect::<Vec<_>>().join(","),
            None => "<unset>".to_string(),
        };
        let modes: Vec<&str> = items(obj, "/spec/volumeLifecycleModes").iter().filter_map(Value::as_str).collect();
        vec![
            json!(name(obj)),
            json!(obj.pointer("/spec/attachRequired").and_then(Value::as_bool).unwrap_or(true)),
            json!(flag(obj, "/spec/podInfoOnMount")),
            json!(flag(obj, "/spec/storageCapacity")),
            json!(token_requests),
            json!(flag(obj, "/spec/requiresRepublish")),
            json!(if modes.is_empty() { "<none>".to_string() } else { modes.join(",") }),
            age(obj, now),
        ]
    },
};

static CSI_NODE: Printer = Printer {
    columns: &[NAME, col("Drivers", "integer", "Number of CSI drivers registered on the node."), AGE],
    cells: |obj, now| vec![json!(name(obj)), count(items(obj, "/spec/drivers").len()), age(obj, now)],
};

static CSI_STORAGE_CAPACITY: Printer = Printer {
    columns: &[
        NAME,
        col("StorageClassName", "string", "The storage class the capacity applies to."),
        col("Capacity", "string", "Available capacity."),
    ],
    cells: |obj, _| {
        vec![json!(name(obj)), json!(text(obj, "/storageClassName")), json!(text_or(obj, "/capacity", "<unset>"))]
    },
};

// ---- networking -----------------------------------------------------------------------------

static INGRESS: Printer = Printer {
    columns: &[
        NAME,
        col("Class", "string", "The ingress class handling the ingress."),
        col("Hosts", "string", "Hosts the rules match."),
        col("Address", "string", "Load-balancer addresses of the ingress."),
        col("Ports", "string", "Ports the ingress serves."),
        AGE,
    ],
    cells: |obj, now| {
        let rules = items(obj, "/spec/rules");
        let hosts: Vec<&str> = rules.iter().map(|r| text(r, "/host")).filter(|h| !h.is_empty()).take(3).collect();
        let hosts = if hosts.is_empty() {
            "*".to_string()
        } else if rules.len() > 3 && rules.iter().take(3).all(|r| !text(r, "/host").is_empty()) {
            format!("{} + {} more...", hosts.join(","), rules.len() - 3)
        } else {
            hosts.join(",")
        };
        let ports = if items(obj, "/spec/tls").is_empty() { "80" } else { "80, 443" };
        vec![
            json!(name(obj)),
            json!(text_or(obj, "/spec/ingressClassName", "<none>")),
            json!(hosts),
            json!(super::core::load_balancer_ingress(obj, "/status/loadBalancer/ingress").join(",")),
            json!(ports),
            age(obj, now),
        ]
    },
};

static INGRESS_CLASS: Printer = Printer {
    columns: &[
        NAME,
        col("Controller", "string", "The controller implementing the class."),
        col("Parameters", "string", "The resource holding the class's parameters."),
        AGE,
    ],
    cells: |obj, now| {
        let parameters = match obj.pointer("/spec/parameters").filter(|p| p.is_object()) {
            None => "<none>".to_string(),
            Some(p) => {
                let kind = match text(p, "/apiGroup") {
                    "" if p.get("apiGroup").is_none() => text(p, "/kind").to_string(),
                    group => format!("{}.{group}", text(p, "/kind")),
                };
                format!("{kind}/{}", text(p, "/name"))
            }
        };
        vec![json!(name(obj)), json!(text(obj, "/spec/controller")), json!(parameters), age(obj, now)]
    },
};

static NETWORK_POLICY: Printer = Printer {
    columns: &[NAME, col("Pod-Selector", "string", "The pods the policy applies to."), AGE],
    cells: |obj, now| vec![json!(name(obj)), json!(super::format_selector(obj.pointer("/spec/podSelector"))), age(obj, now)],
};

static SERVICE_CIDR: Printer = Printer {
    columns: &[NAME, col("CIDRs", "string", "The service IP ranges."), AGE],
    cells: |obj, now| {
        let cidrs: Vec<&str> = items(obj, "/spec/cidrs").iter().filter_map(Value::as_str).collect();
        vec![json!(name(obj)), json!(cidrs.join(",")), age(obj, now)]
    },
};

static IP_ADDRESS: Printer = Printer {
    columns: &[NAME, col("ParentRef", "string", "The object the address is allocated to.")],
    cells: |obj, _| {
        let parent = match obj.pointer("/spec/parentRef").filter(|p| p.is_object()) {
            None => "<none>".to_string(),
            Some(p) => {
                let mut out = match text(p, "/group") {
                    "" => text(p, "/resource").to_lowercase(),
                    group => format!("{}.{group}", text(p, "/resource")).to_lowercase(),
                };
                let ns = text(p, "/namespace");
                if !ns.is_empty() {
                    out = format!("{out}/{ns}");
                }
                format!("{out}/{}", text(p, "/name"))
            }
        };
        vec![json!(name(obj)), json!(parent)]
    },
};

// ---- scheduling, node, certificates, coordination, discovery --------------------------------

static PRIORITY_CLASS: Printer = Printer {
    columns: &[
        NAME,
        col("Value", "integer", "The priority value."),
        col("Global-Default", "boolean", "Whether pods without a priority class get this one."),
        AGE,
        col("PreemptionPolicy", "string", "Whether pods of this class may preempt others."),
    ],
    cells: |obj, now| {
        vec![
            json!(name(obj)),
            json!(int(obj, "/value")),
            json!(flag(obj, "/globalDefault")),
            age(obj, now),
            json!(text(obj, "/preemptionPolicy")),
        ]
    },
};

static RUNTIME_CLASS: Printer = Printer {
    columns: &[NAME, col("Handler", "string", "The container runtime handler."), AGE],
    cells: |obj, now| vec![json!(name(obj)), json!(text(obj, "/handler")), age(obj, now)],
};

static CERTIFICATE_SIGNING_REQUEST: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        col("SignerName", "string", "The signer asked to sign."),
        col("Requestor", "string", "The user who created the request."),
        col("RequestedDuration", "string", "Requested validity of the certificate."),
        col("Condition", "string", "Approved, Denied or Pending, and whether it was issued or failed."),
    ],
    cells: |obj, now| {
        let has = |type_: &str| items(obj, "/status/conditions").iter().any(|c| text(c, "/type") == type_);
        let mut condition = if has("Denied") {
            "Denied"
        } else if has("Approved") {
            "Approved"
        } else {
            "Pending"
        }
        .to_string();
        if has("Failed") {
            condition.push_str(",Failed");
        }
        if !text(obj, "/status/certificate").is_empty() {
            condition.push_str(",Issued");
        }
        let duration = obj
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .map_or_else(|| "<none>".to_string(), |s| human_duration(jiff::SignedDuration::from_secs(s)));
        vec![
            json!(name(obj)),
            age(obj, now),
            json!(text_or(obj, "/spec/signerName", "<none>")),
            json!(text(obj, "/spec/username")),
            json!(duration),
            json!(condition),
        ]
    },
};

static LEASE: Printer = Printer {
    columns: &[NAME, col("Holder", "string", "Who holds the lease."), AGE],
    cells: |obj, now| vec![json!(name(obj)), json!(text(obj, "/spec/holderIdentity")), age(obj, now)],
};

static ENDPOINT_SLICE: Printer = Printer {
    columns: &[
        NAME,
        col("AddressType", "string", "IPv4, IPv6 or FQDN."),
        col("Ports", "string", "Ports of the endpoints."),
        col("Endpoints", "string", "Addresses of the endpoints."),
        AGE,
    ],
    cells: |obj, now| {
        let ports: Vec<String> = items(obj, "/ports")
            .iter()
            .map(|p| match (p.get("port").and_then(Value::as_i64), p.get("name").and_then(Value::as_str)) {
                (Some(n), _) => n.to_string(),
                (None, Some(n)) => n.to_string(),
                (None, None) => "*".to_string(),
            })
            .collect();
        let addresses: Vec<String> = items(obj, "/endpoints")
            .iter()
            .flat_map(|e| items(e, "/addresses").iter().filter_map(Value::as_str).map(str::to_string))
            .collect();
        vec![
            json!(name(obj)),
            json!(text(obj, "/addressType")),
            json!(list_with_more(&ports, 3)),
            json!(list_with_more(&addresses, 3)),
            age(obj, now),
        ]
    },
};

// ---- events.k8s.io --------------------------------------------------------------------------

static EVENTS_EVENT: Printer = Printer { columns: super::core::EVENT_COLUMNS, cells: events_event_cells };

/// An `events.k8s.io/v1` event shown through the core event printer: the same event in its
/// `v1` field names (`regarding` → `involvedObject`, `note` → `message`, ...).
fn events_event_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    let renames = [
        ("metadata", "metadata"),
        ("type", "type"),
        ("reason", "reason"),
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("deprecatedSource", "source"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
    ];
    let mut core = Map::new();
    for (from, to) in renames {
        if let Some(v) = ev.get(from) {
            core.insert(to.to_string(), v.clone());
        }
    }
    super::core::event_cells(&Value::Object(core), now)
}

// ---- admissionregistration, flowcontrol, apiregistration ------------------------------------

static WEBHOOK_CONFIGURATION: Printer = Printer {
    columns: &[NAME, col("Webhooks", "integer", "Number of webhooks in the configuration."), AGE],
    cells: |obj, now| vec![json!(name(obj)), count(items(obj, "/webhooks").len()), age(obj, now)],
};

static VALIDATING_ADMISSION_POLICY: Printer = Printer {
    columns: &[
        NAME,
        col("Validations", "integer", "Number of validation rules."),
        col("ParamKind", "string", "The kind of the policy's parameters."),
        AGE,
    ],
    cells: |obj, now| {
        let param_kind = match obj.pointer("/spec/paramKind").filter(|p| p.is_object()) {
            Some(p) => format!("{}/{}", text(p, "/apiVersion"), text(p, "/kind")),
            None => "<unset>".to_string(),
        };
        vec![json!(name(obj)), count(items(obj, "/spec/validations").len()), json!(param_kind), age(obj, now)]
    },
};

static VALIDATING_ADMISSION_POLICY_BINDING: Printer = Printer {
    columns: &[
        NAME,
        col("PolicyName", "string", "The policy bound."),
        col("ParamRef", "string", "The parameter resource of the binding."),
        AGE,
    ],
    cells: |obj, now| {
        let param = match obj.pointer("/spec/paramRef").filter(|p| p.is_object()) {
            None => "<unset>".to_string(),
            Some(p) => match (text(p, "/name"), text(p, "/namespace")) {
                ("", _) => match p.get("selector").filter(|s| s.is_object()) {
                    Some(s) => selector_string(Some(s)),
                    None => "<unset>".to_string(),
                },
                (n, "") => format!("*/{n}"),
                (n, ns) => format!("{ns}/{n}"),
            },
        };
        vec![json!(name(obj)), json!(text(obj, "/spec/policyName")), json!(param), age(obj, now)]
    },
};

static FLOW_SCHEMA: Printer = Printer {
    columns: &[
        NAME,
        col("PriorityLevel", "string", "The priority level requests are assigned to."),
        col("MatchingPrecedence", "string", "Lower values match first."),
        col("DistinguisherMethod", "string", "How flows are told apart."),
        AGE,
        col("MissingPL", "string", "Whether the priority level referenced is missing."),
    ],
    cells: |obj, now| {
        let missing = items(obj, "/status/conditions").iter().find(|c| text(c, "/type") == "Dangling").map_or("?", |c| text(c, "/status"));
        vec![
            json!(name(obj)),
            json!(text(obj, "/spec/priorityLevelConfiguration/name")),
            json!(int(obj, "/spec/matchingPrecedence")),
            json!(text_or(obj, "/spec/distinguisherMethod/type", "<none>")),
            age(obj, now),
            json!(missing),
        ]
    },
};

static PRIORITY_LEVEL_CONFIGURATION: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "Limited or Exempt."),
        col("NominalConcurrencyShares", "string", "Share of the server's concurrency."),
        col("Queues", "string", "Number of queues."),
        col("HandSize", "string", "Queues considered per request (shuffle sharding)."),
        col("QueueLengthLimit", "string", "Requests allowed to wait in one queue."),
        AGE,
    ],
    cells: |obj, now| {
        let none = || json!("<none>");
        let limited = obj.pointer("/spec/limited").filter(|l| l.is_object());
        let queuing = limited.and_then(|l| l.pointer("/limitResponse/queuing")).filter(|q| q.is_object());
        let number = |v: Option<&Value>, field: &str| v.map_or_else(none, |v| json!(int(v, field)));
        vec![
            json!(name(obj)),
            json!(text(obj, "/spec/type")),
            number(limited, "/nominalConcurrencyShares"),
            number(queuing, "/queues"),
            number(queuing, "/handSize"),
            number(queuing, "/queueLengthLimit"),
            age(obj, now),
        ]
    },
};

static API_SERVICE: Printer = Printer {
    columns: &[
        NAME,
        col("Service", "string", "The service serving the API, or Local."),
        col("Available", "string", "Whether the API is available, with the reason when not."),
        AGE,
    ],
    cells: |obj, now| {
        let service = match obj.pointer("/spec/service").filter(|s| s.is_object()) {
            Some(s) => format!("{}/{}", text(s, "/namespace"), text(s, "/name")),
            None => "Local".to_string(),
        };
        let available = match items(obj, "/status/conditions").iter().find(|c| text(c, "/type") == "Available") {
            Some(c) if text(c, "/status") == "True" => "True".to_string(),
            Some(c) => format!("{} ({})", text(c, "/status"), text(c, "/reason")),
            None => "Unknown".to_string(),
        };
        vec![json!(name(obj)), json!(service), json!(available), age(obj, now)]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-06-01T12:00:00Z".parse().expect("timestamp")
    }

    #[test]
    fn role_binding_lists_subjects_by_kind() {
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}, {"kind": "User", "name": "bob"}]});
        let cells = (ROLE_BINDING.cells)(&rb, now());
        assert_eq!(cells[1], json!("ClusterRole/view"));
        assert_eq!(cells[3..], [json!("alice, bob"), json!("devs"), json!("ci/bot")]);
    }

    #[test]
    fn default_storage_class_is_marked() {
        let sc = json!({"metadata": {"name": "local", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path"});
        let cells = (STORAGE_CLASS.cells)(&sc, now());
        assert_eq!(cells[..5], [json!("local (default)"), json!("rancher.io/local-path"), json!("Delete"), json!("Immediate"), json!(false)]);
    }

    #[test]
    fn ingress_hosts_and_ports() {
        let ing = json!({"spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}});
        let cells = (INGRESS.cells)(&ing, now());
        assert_eq!(cells[1..5], [json!("<none>"), json!("a.example,b.example"), json!("10.0.0.9"), json!("80, 443")]);
        let catch_all = json!({"spec": {"rules": [{"http": {}}]}});
        assert_eq!((INGRESS.cells)(&catch_all, now())[2], json!("*"));
    }

    #[test]
    fn endpoint_slice_ports_and_addresses() {
        let slice = json!({"addressType": "IPv4", "ports": [{"port": 80, "name": "http"}, {"name": "named"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]});
        let cells = (ENDPOINT_SLICE.cells)(&slice, now());
        assert_eq!(cells[1..4], [json!("IPv4"), json!("80,named,*"), json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...")]);
        assert_eq!((ENDPOINT_SLICE.cells)(&json!({}), now())[2], json!("<unset>"));
    }

    #[test]
    fn csr_condition_summary() {
        let csr = json!({"spec": {"signerName": "kubernetes.io/kubelet-serving", "username": "system:node:n1", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved"}], "certificate": "LS0t"}});
        let cells = (CERTIFICATE_SIGNING_REQUEST.cells)(&csr, now());
        assert_eq!(cells[2..], [json!("kubernetes.io/kubelet-serving"), json!("system:node:n1"), json!("24h"), json!("Approved,Issued")]);
    }

    #[test]
    fn events_k8s_io_events_use_core_columns() {
        let ev = json!({"metadata": {"name": "e"}, "type": "Normal", "reason": "Scheduled", "note": "assigned",
            "regarding": {"kind": "Pod", "name": "web"}, "eventTime": "2024-06-01T11:59:00.000000Z",
            "reportingController": "default-scheduler"});
        let cells = events_event_cells(&ev, now());
        assert_eq!(cells.len(), super::super::core::EVENT_COLUMNS.len());
        assert_eq!(cells[..7], [json!("60s"), json!("Normal"), json!("Scheduled"), json!("pod/web"), json!(""),
            json!("default-scheduler"), json!("assigned")]);
        assert_eq!(cells[8], json!(1));
    }

    #[test]
    fn api_service_availability() {
        let local = json!({"metadata": {"name": "v1.apps"}, "status": {"conditions": [{"type": "Available", "status": "True"}]}});
        assert_eq!((API_SERVICE.cells)(&local, now())[1..3], [json!("Local"), json!("True")]);
        let remote = json!({"spec": {"service": {"namespace": "kube-system", "name": "metrics"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}});
        assert_eq!((API_SERVICE.cells)(&remote, now())[1..3], [json!("kube-system/metrics"), json!("False (MissingEndpoints)")]);
    }
}
