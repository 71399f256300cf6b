//! The Node object: host facts (capacity, addresses, system info), registration, status and the
//! heartbeat Lease in `kube-node-lease`.
//!
//! Parsing of `/proc` text is kept in pure functions so it can be tested without a host.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Namespace, Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::config::KubeletConfig;

/// Version reported in `nodeInfo.kubeletVersion`.
pub const KUBELET_VERSION: &str = "v1.33.0+corten";
/// Namespace holding the node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// Lease duration, as upstream (40 s: four missed 10 s renewals).
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// Pods a node accepts, upstream's default `maxPods`.
const MAX_PODS: &str = "110";

/// Errors registering or heartbeating the Node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// An API call failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The client error.
        source: kube::Error,
    },
}

fn api_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> NodeError {
    let action = action.into();
    move |source| NodeError::Api { action, source }
}

/// Number of logical CPUs listed in `/proc/cpuinfo` text (at least 1).
pub fn parse_cpu_count(cpuinfo: &str) -> usize {
    let count = cpuinfo
        .lines()
        .filter(|line| line.split(':').next().is_some_and(|key| key.trim() == "processor"))
        .count();
    count.max(1)
}

/// `MemTotal` in KiB from `/proc/meminfo` text.
pub fn parse_mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `PRETTY_NAME` from `/etc/os-release` text, unquoted.
pub fn parse_os_pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim().trim_matches('"').to_owned())
    })
}

/// Kubernetes architecture name (`amd64`, `arm64`, …) for a Rust target arch.
pub fn kube_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Host resources, the inputs of `capacity`/`allocatable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostResources {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory in KiB.
    pub memory_kib: u64,
    /// Size of the root filesystem in bytes.
    pub ephemeral_storage_bytes: u64,
}

impl HostResources {
    /// Reads `/proc` and the size of the filesystem holding `root_dir`.
    pub fn read(root_dir: &Path) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ephemeral_storage_bytes = rustix::fs::statvfs(root_dir)
            .map(|stat| stat.f_blocks.saturating_mul(stat.f_frsize))
            .unwrap_or(0);
        Self {
            cpus: parse_cpu_count(&cpuinfo),
            memory_kib: parse_mem_total_kib(&meminfo).unwrap_or(0),
            ephemeral_storage_bytes,
        }
    }

    /// `status.capacity`.
    pub fn capacity(&self) -> BTreeMap<String, Quantity> {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(self.cpus.to_string())),
            ("memory".to_owned(), Quantity(format!("{}Ki", self.memory_kib))),
            ("pods".to_owned(), Quantity(MAX_PODS.to_owned())),
            ("ephemeral-storage".to_owned(), Quantity(format!("{}Ki", self.ephemeral_storage_bytes / 1024))),
        ])
    }

    /// `status.allocatable`: capacity minus upstream's default hard eviction thresholds
    /// (`memory.available<100Mi`, `nodefs.available<10%`); no system/kube reservations.
    pub fn allocatable(&self) -> BTreeMap<String, Quantity> {
        let memory_kib = self.memory_kib.saturating_sub(100 * 1024);
        let storage_bytes = self.ephemeral_storage_bytes / 10 * 9;
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(self.cpus.to_string())),
            ("memory".to_owned(), Quantity(format!("{memory_kib}Ki"))),
            ("pods".to_owned(), Quantity(MAX_PODS.to_owned())),
            ("ephemeral-storage".to_owned(), Quantity(storage_bytes.to_string())),
        ])
    }
}

/// The address of the interface carrying the default route (no packet is sent), else loopback.
pub fn detect_node_ip() -> IpAddr {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|socket| {
            socket.connect((Ipv4Addr::new(10, 255, 255, 255), 9))?;
            socket.local_addr()
        })
        .map(|addr| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|text| text.trim().to_owned()).unwrap_or_default()
}

/// Everything reported about this node, gathered once at start.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    /// Node name.
    pub name: String,
    /// InternalIP.
    pub ip: IpAddr,
    /// Pod CIDR to claim when the control plane has assigned none.
    pub pod_cidr: String,
    /// Host resources.
    pub resources: HostResources,
    /// `status.nodeInfo`.
    pub info: NodeSystemInfo,
}

impl NodeFacts {
    /// Reads the host; `runtime` is the CRI (name, version) pair, e.g. (`containerd`, `1.6.20`).
    pub fn gather(config: &KubeletConfig, runtime: (&str, &str)) -> Self {
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let info = NodeSystemInfo {
            architecture: kube_arch(std::env::consts::ARCH).to_owned(),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            container_runtime_version: format!("{}://{}", runtime.0, runtime.1),
            kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.to_owned(),
            machine_id: read_trimmed("/etc/machine-id"),
            operating_system: "linux".to_owned(),
            os_image: parse_os_pretty_name(&os_release).unwrap_or_else(|| "Linux".to_owned()),
            system_uuid: read_trimmed("/sys/class/dmi/id/product_uuid"),
            ..NodeSystemInfo::default()
        };
        Self {
            name: config.node_name.clone(),
            ip: config.node_ip.unwrap_or_else(detect_node_ip),
            pod_cidr: config.pod_cidr.clone(),
            resources: HostResources::read(&config.root_dir),
            info,
        }
    }

    /// Labels every node carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("kubernetes.io/hostname".to_owned(), self.name.clone()),
            ("kubernetes.io/os".to_owned(), "linux".to_owned()),
            ("kubernetes.io/arch".to_owned(), self.info.architecture.clone()),
            ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
            ("beta.kubernetes.io/arch".to_owned(), self.info.architecture.clone()),
        ])
    }

    /// The status the kubelet reports, with `now` as heartbeat and (first) transition time.
    pub fn status(&self, now: &Time, previous: Option<&NodeStatus>) -> NodeStatus {
        let condition = |type_: &str, status: &str, reason: &str, message: &str| {
            let last_transition = previous
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == status))
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            NodeCondition {
                type_: type_.to_owned(),
                status: status.to_owned(),
                reason: Some(reason.to_owned()),
                message: Some(message.to_owned()),
                last_heartbeat_time: Some(now.clone()),
                last_transition_time: Some(last_transition),
            }
        };
        NodeStatus {
            capacity: Some(self.resources.capacity()),
            allocatable: Some(self.resources.allocatable()),
            addresses: Some(vec![
                NodeAddress { type_: "InternalIP".to_owned(), address: self.ip.to_string() },
                NodeAddress { type_: "Hostname".to_owned(), address: self.name.clone() },
            ]),
            conditions: Some(vec![
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ]),
            node_info: Some(self.info.clone()),
            daemon_endpoints: None,
            ..NodeStatus::default()
        }
    }
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// Creates the Node if missing (labels, podCIDR) and reports its status; returns the stored Node,
/// whose `spec.podCIDR` is the one to use.
pub async fn register(nodes: &Api<Node>, facts: &NodeFacts) -> Result<Node, NodeError> {
    let existing = nodes.get_opt(&facts.name).await.map_err(api_error("reading the Node"))?;
    let node = match existing {
        Some(node) => {
            // Keep labels set by others; make sure ours are present, and claim a CIDR if none is set.
            let mut patch = serde_json::json!({ "metadata": { "labels": facts.labels() } });
            if node.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_none() {
                patch["spec"] = serde_json::json!({ "podCIDR": facts.pod_cidr, "podCIDRs": [facts.pod_cidr] });
            }
            nodes
                .patch(&facts.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(api_error("updating the Node"))?
        }
        None => {
            let node = Node {
                metadata: ObjectMeta { name: Some(facts.name.clone()), labels: Some(facts.labels()), ..ObjectMeta::default() },
                spec: Some(NodeSpec {
                    pod_cidr: Some(facts.pod_cidr.clone()),
                    pod_cidrs: Some(vec![facts.pod_cidr.clone()]),
                    ..NodeSpec::default()
                }),
                status: None,
            };
            nodes.create(&PostParams::default(), &node).await.map_err(api_error("creating the Node"))?
        }
    };
    update_status(nodes, facts, &node).await
}

/// Reports the node status (conditions with a fresh heartbeat) through `nodes/status`.
pub async fn update_status(nodes: &Api<Node>, facts: &NodeFacts, node: &Node) -> Result<Node, NodeError> {
    let status = facts.status(&now(), node.status.as_ref());
    let patch = serde_json::json!({ "status": status });
    nodes
        .patch_status(&facts.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(api_error("updating the Node status"))
}

/// Creates or renews the node's Lease (holder = node, owned by the Node so it goes with it).
pub async fn renew_lease(client: &kube::Client, node: &Node) -> Result<(), NodeError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let renew_time = Some(MicroTime(jiff::Timestamp::now()));
    if let Some(mut lease) = leases.get_opt(&name).await.map_err(api_error("reading the node Lease"))? {
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = Some(name.clone());
        spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
        spec.renew_time = renew_time;
        leases.replace(&name, &PostParams::default(), &lease).await.map_err(api_error("renewing the node Lease"))?;
        return Ok(());
    }
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(LEASE_NAMESPACE.to_owned()),
            owner_references: node.metadata.uid.clone().map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".to_owned(),
                    kind: "Node".to_owned(),
                    name: name.clone(),
                    uid,
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.clone()),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time,
            ..LeaseSpec::default()
        }),
    };
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            // The namespace is missing (a fresh server that has not created it): create it and retry once.
            let namespaces: Api<Namespace> = Api::all(client.clone());
            let namespace = Namespace {
                metadata: ObjectMeta { name: Some(LEASE_NAMESPACE.to_owned()), ..ObjectMeta::default() },
                ..Namespace::default()
            };
            match namespaces.create(&PostParams::default(), &namespace).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(source) => return Err(NodeError::Api { action: "creating kube-node-lease".to_owned(), source }),
            }
            leases.create(&PostParams::default(), &lease).await.map_err(api_error("creating the node Lease"))?;
            Ok(())
        }
        Err(source) => Err(NodeError::Api { action: "creating the node Lease".to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_count_counts_processor_entries() {
        let cpuinfo = "processor\t: 0\nmodel name\t: X\n\nprocessor\t: 1\nmodel name\t: X\n";
        assert_eq!(parse_cpu_count(cpuinfo), 2);
        assert_eq!(parse_cpu_count(""), 1);
    }

    #[test]
    fn mem_total_is_read_in_kib() {
        let meminfo = "MemTotal:        8141104 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_mem_total_kib(meminfo), Some(8_141_104));
        assert_eq!(parse_mem_total_kib("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn os_pretty_name_is_unquoted() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(parse_os_pretty_name(text).as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    }

    #[test]
    fn allocatable_subtracts_eviction_thresholds() {
        let resources = HostResources { cpus: 2, memory_kib: 2_000_000, ephemeral_storage_bytes: 1_000_000 };
        let capacity = resources.capacity();
        let allocatable = resources.allocatable();
        assert_eq!(capacity["cpu"].0, "2");
        assert_eq!(capacity["memory"].0, "2000000Ki");
        assert_eq!(capacity["pods"].0, "110");
        assert_eq!(allocatable["memory"].0, format!("{}Ki", 2_000_000 - 102_400));
        assert_eq!(allocatable["ephemeral-storage"].0, "900000");
    }

    #[test]
    fn ready_condition_keeps_its_transition_time() {
        let facts = NodeFacts {
            name: "n1".to_owned(),
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            pod_cidr: "10.42.0.0/24".to_owned(),
            resources: HostResources { cpus: 1, memory_kib: 1024 * 1024, ephemeral_storage_bytes: 0 },
            info: NodeSystemInfo::default(),
        };
        let first = Time("2026-01-01T00:00:00Z".parse().unwrap());
        let later = Time("2026-01-01T00:01:00Z".parse().unwrap());
        let status = facts.status(&first, None);
        let next = facts.status(&later, Some(&status));
        let ready = next.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(ready.last_transition_time, Some(first));
        assert_eq!(ready.last_heartbeat_time, Some(later));
        let addresses = status.addresses.unwrap();
        assert_eq!(addresses[0].type_, "InternalIP");
        assert_eq!(addresses[0].address, "192.0.2.1");
    }
}
