//! Runs one pod on the container runtime: sandbox, image, containers, restarts, status, termination.
//!
//! Each pod bound to the node gets a worker task fed with the newest Pod object through a
//! `tokio::sync::watch` channel (only the latest spec matters). The worker converges the runtime
//! towards the spec every time the pod changes and every [`SYNC_PERIOD`], reports the status when it
//! differs from the last report, and on deletion stops everything and removes the pod from the API.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, ContainerStateTerminated, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cri::{self, v1 as cri_v1, CriClient, CriError};
use crate::events;
use crate::probes;
use crate::resources;
use crate::volumes;
use crate::status::{self, ContainerObservation, ObservedState, PodObservation};

/// How often a pod is re-checked without a change to its object.
pub const SYNC_PERIOD: Duration = Duration::from_secs(2);
/// First back-off delay after a container exits for the second time; doubled per restart.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// Upper bound of the restart back-off, as upstream (5 minutes).
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";

/// Errors of one pod sync.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// The runtime refused a call.
    #[error(transparent)]
    Cri(#[from] CriError),
    /// The API server refused a call.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: &'static str,
        /// The client error.
        source: kube::Error,
    },
    /// The pod object lacks a field the kubelet needs.
    #[error("pod has no {0}")]
    Incomplete(&'static str),
}

/// Node-wide inputs shared by all pod workers.
pub struct NodeContext {
    /// Runtime client.
    pub cri: CriClient,
    /// API client.
    pub client: kube::Client,
    /// Node's InternalIP (hostIP of every pod).
    pub host_ip: String,
    /// Root of pod log directories.
    pub pod_log_dir: PathBuf,
    /// DNS settings handed to every sandbox (the host's resolv.conf for now).
    pub dns: cri_v1::DnsConfig,
    /// Node memory in bytes (scales the OOM score of Burstable containers).
    pub memory_capacity_bytes: u64,
    /// This node's name (the source of the events it records).
    pub node_name: String,
}

/// Parses resolv.conf text into the CRI DNS config (nameservers, search domains, options).
pub fn parse_resolv_conf(text: &str) -> cri_v1::DnsConfig {
    let mut dns = cri_v1::DnsConfig::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.servers.extend(words.next().map(str::to_owned)),
            Some("search") | Some("domain") => dns.searches = words.map(str::to_owned).collect(),
            Some("options") => dns.options.extend(words.map(str::to_owned)),
            _ => {}
        }
    }
    dns
}

/// One container as the worker tracks it.
#[derive(Debug, Clone, Default)]
struct ContainerRecord {
    /// Runtime ID of the current instance.
    id: String,
    /// Restarts so far (also the CRI attempt number).
    restart_count: i32,
    /// Image ID the runtime resolved.
    image_id: String,
    /// When a restart is allowed after an exit.
    restart_at: Option<Instant>,
    /// Termination of the previous instance.
    last_terminated: Option<ContainerStateTerminated>,
    /// When this kubelet started the current instance (probe delays count from here).
    started: Option<Instant>,
    /// Readiness and liveness probe tallies of the current instance.
    readiness: probes::ProbeState,
    liveness: probes::ProbeState,
}

/// A failed container start (image pull or config) and when to try again.
#[derive(Debug, Clone)]
struct StartFailure {
    /// `ErrImagePull` / `CreateContainerConfigError` right after a failure.
    reason: &'static str,
    /// Reported while waiting for the retry (`ImagePullBackOff` for pulls).
    backoff_reason: &'static str,
    /// What went wrong.
    message: String,
    /// Consecutive failures (drives the back-off).
    failures: i32,
    /// Earliest retry.
    retry_at: Instant,
}

/// Whether [`start_container`] started an instance or is waiting after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartOutcome {
    Started,
    BackOff,
}

/// Runtime-side state of the pod kept by its worker.
#[derive(Debug, Default)]
struct PodRuntime {
    sandbox_id: Option<String>,
    sandbox_ready: bool,
    pod_ip: Option<String>,
    start_time: Option<Time>,
    containers: HashMap<String, ContainerRecord>,
    /// Failed starts (image, config), keyed by container name.
    start_failures: HashMap<String, StartFailure>,
    /// Last status sent to the API, to skip identical reports.
    reported: Option<serde_json::Value>,
    /// The sandbox is stopped because the pod reached a terminal phase.
    finished: bool,
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

fn time_from_nanos(nanos: i64) -> Option<Time> {
    if nanos <= 0 {
        return None;
    }
    jiff::Timestamp::from_nanosecond(i128::from(nanos)).ok().map(Time)
}

fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

fn pod_namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

fn pod_uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

fn pod_containers(pod: &Pod) -> &[Container] {
    pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default()
}

/// Restart delay after `restart_count` restarts: none for the first, then 10 s doubling up to 5 min.
pub fn restart_backoff(restart_count: i32) -> Duration {
    if restart_count <= 0 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(restart_count - 1).unwrap_or(u32::MAX).min(16);
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_MAX)
}

/// The grace period to use when the pod is being deleted.
fn grace_period_seconds(pod: &Pod) -> i64 {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(DEFAULT_GRACE_SECONDS)
        .max(0)
}

fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> =
        pod.metadata.labels.clone().unwrap_or_default().into_iter().collect();
    labels.insert(LABEL_POD_NAME.to_owned(), pod_name(pod).to_owned());
    labels.insert(LABEL_POD_NAMESPACE.to_owned(), pod_namespace(pod).to_owned());
    labels.insert(LABEL_POD_UID.to_owned(), pod_uid(pod).to_owned());
    labels
}

fn protocol(name: Option<&str>) -> i32 {
    match name {
        Some("UDP") => cri_v1::Protocol::Udp as i32,
        Some("SCTP") => cri_v1::Protocol::Sctp as i32,
        _ => cri_v1::Protocol::Tcp as i32,
    }
}

/// The CRI sandbox config for a pod: identity, hostname, log directory, DNS, host ports, namespaces.
pub fn sandbox_config(pod: &Pod, dns: &cri_v1::DnsConfig, pod_log_dir: &std::path::Path) -> cri_v1::PodSandboxConfig {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let hostname = spec
        .and_then(|s| s.hostname.clone())
        .unwrap_or_else(|| pod_name(pod).chars().take(63).collect::<String>().trim_end_matches(['-', '.']).to_owned());
    let port_mappings = pod_containers(pod)
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|port| {
            let host_port = port.host_port.filter(|p| *p > 0)?;
            Some(cri_v1::PortMapping {
                protocol: protocol(port.protocol.as_deref()),
                container_port: port.container_port,
                host_port,
                host_ip: port.host_ip.clone().unwrap_or_default(),
            })
        })
        .collect();
    cri_v1::PodSandboxConfig {
        metadata: Some(cri_v1::PodSandboxMetadata {
            name: pod_name(pod).to_owned(),
            uid: pod_uid(pod).to_owned(),
            namespace: pod_namespace(pod).to_owned(),
            attempt: 0,
        }),
        hostname: if host_network { String::new() } else { hostname },
        log_directory: pod_log_dir
            .join(format!("{}_{}_{}", pod_namespace(pod), pod_name(pod), pod_uid(pod)))
            .to_string_lossy()
            .into_owned(),
        dns_config: Some(dns.clone()),
        port_mappings,
        labels: pod_labels(pod),
        annotations: pod.metadata.annotations.clone().unwrap_or_default().into_iter().collect(),
        linux: Some(cri_v1::LinuxPodSandboxConfig {
            security_context: Some(cri_v1::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(pod)),
                ..cri_v1::LinuxSandboxSecurityContext::default()
            }),
            ..cri_v1::LinuxPodSandboxConfig::default()
        }),
        ..cri_v1::PodSandboxConfig::default()
    }
}

/// Namespaces of the sandbox and its containers: network and IPC per pod (or the node's with
/// hostNetwork/hostIPC), PID per container unless `shareProcessNamespace` (or the node's with hostPID).
fn namespace_options(pod: &Pod) -> cri_v1::NamespaceOption {
    let spec = pod.spec.as_ref();
    let flag = |value: Option<bool>| value.unwrap_or(false);
    let pod_or_node = |node: bool| if node { cri_v1::NamespaceMode::Node } else { cri_v1::NamespaceMode::Pod };
    let pid = if flag(spec.and_then(|s| s.host_pid)) {
        cri_v1::NamespaceMode::Node
    } else if flag(spec.and_then(|s| s.share_process_namespace)) {
        cri_v1::NamespaceMode::Pod
    } else {
        cri_v1::NamespaceMode::Container
    };
    cri_v1::NamespaceOption {
        network: pod_or_node(flag(spec.and_then(|s| s.host_network))) as i32,
        pid: pid as i32,
        ipc: pod_or_node(flag(spec.and_then(|s| s.host_ipc))) as i32,
        ..cri_v1::NamespaceOption::default()
    }
}

/// Value of a `fieldRef` the kubelet can resolve itself.
fn field_ref_value(pod: &Pod, field_path: &str, pod_ip: Option<&str>, host_ip: &str) -> Option<String> {
    let spec = pod.spec.as_ref();
    match field_path {
        "metadata.name" => Some(pod_name(pod).to_owned()),
        "metadata.namespace" => Some(pod_namespace(pod).to_owned()),
        "metadata.uid" => Some(pod_uid(pod).to_owned()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
        "status.podIP" => pod_ip.map(str::to_owned),
        "status.hostIP" => Some(host_ip.to_owned()),
        _ => None,
    }
}

/// Expands `$(NAME)` references to defined variables as upstream does: `$$` is an escaped `$`
/// (so `$$(NAME)` stays literal), and references to undefined names are kept unchanged.
pub fn expand_references(input: &str, defined: &HashMap<String, String>) -> String {
    let mut output = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(position) = rest.find('$') {
        output.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            output.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(') {
            match reference.find(')') {
                Some(end) => {
                    let name = &reference[..end];
                    match defined.get(name) {
                        Some(value) => output.push_str(value),
                        None => {
                            output.push_str("$(");
                            output.push_str(name);
                            output.push(')');
                        }
                    }
                    rest = &reference[end + 1..];
                }
                None => {
                    output.push('$');
                    rest = after;
                }
            }
        } else {
            output.push('$');
            rest = after;
        }
    }
    output.push_str(rest);
    output
}

/// Node facts the environment of a container depends on.
#[derive(Debug, Clone, Copy)]
pub struct ContainerEnvironment<'a> {
    /// The pod's IP, once the sandbox has one.
    pub pod_ip: Option<&'a str>,
    /// The node's InternalIP.
    pub host_ip: &'a str,
}

/// ConfigMaps and Secrets (name → data) a container's env refers to; absent names do not exist.
#[derive(Debug, Clone, Default)]
pub struct EnvSources {
    /// ConfigMap data (and binaryData is ignored).
    pub config_maps: HashMap<String, BTreeMap<String, String>>,
    /// Secret data, decoded as UTF-8 (lossily).
    pub secrets: HashMap<String, BTreeMap<String, String>>,
    /// Docker-link style variables of the Services the pod may see (see [`service_env`]).
    pub services: Vec<(String, String)>,
}

/// The Docker-link style variables upstream gives every container for each Service with a
/// ClusterIP: `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT[_<PORTNAME>]`, `<NAME>_PORT` and
/// `<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`.
pub fn service_env(services: &[Service]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for svc in services {
        let Some(spec) = svc.spec.as_ref() else { continue };
        let Some(ip) = spec.cluster_ip.as_deref().filter(|ip| !ip.is_empty() && *ip != "None") else { continue };
        let name = svc.metadata.name.clone().unwrap_or_default().to_uppercase().replace('-', "_");
        let ports = spec.ports.as_deref().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        env.push((format!("{name}_SERVICE_HOST"), ip.to_owned()));
        env.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
        for port in ports {
            if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
                env.push((format!("{name}_SERVICE_PORT_{}", port_name.to_uppercase().replace('-', "_")), port.port.to_string()));
            }
        }
        let proto = |p: &k8s_openapi::api::core::v1::ServicePort| p.protocol.clone().unwrap_or_else(|| "TCP".into());
        env.push((format!("{name}_PORT"), format!("{}://{ip}:{}", proto(first).to_lowercase(), first.port)));
        for port in ports {
            let protocol = proto(port);
            let prefix = format!("{name}_PORT_{}_{}", port.port, protocol.to_uppercase());
            env.push((prefix.clone(), format!("{}://{ip}:{}", protocol.to_lowercase(), port.port)));
            env.push((format!("{prefix}_PROTO"), protocol.to_lowercase()));
            env.push((format!("{prefix}_PORT"), port.port.to_string()));
            env.push((format!("{prefix}_ADDR"), ip.to_owned()));
        }
    }
    env
}

/// Reads the ConfigMaps and Secrets named by the container's `envFrom` and `valueFrom` references.
async fn fetch_env_sources(client: &kube::Client, pod: &Pod, container: &Container) -> Result<EnvSources, PodError> {
    let mut config_map_names = Vec::new();
    let mut secret_names = Vec::new();
    for source in container.env_from.iter().flatten() {
        config_map_names.extend(source.config_map_ref.as_ref().map(|r| r.name.clone()));
        secret_names.extend(source.secret_ref.as_ref().map(|r| r.name.clone()));
    }
    for source in container.env.iter().flatten().filter_map(|var| var.value_from.as_ref()) {
        config_map_names.extend(source.config_map_key_ref.as_ref().map(|r| r.name.clone()));
        secret_names.extend(source.secret_key_ref.as_ref().map(|r| r.name.clone()));
    }
    let mut sources = EnvSources::default();
    // Services of the pod's namespace (unless enableServiceLinks is false), plus the API server's
    // `kubernetes` Service, which every pod sees.
    let services: Api<Service> = Api::namespaced(client.clone(), pod_namespace(pod));
    let links = pod.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true);
    let mut visible: Vec<Service> = if links {
        services.list(&kube::api::ListParams::default()).await.map_err(|source| PodError::Api { action: "listing Services", source })?.items
    } else {
        Vec::new()
    };
    if pod_namespace(pod) != "default" || !links {
        let default: Api<Service> = Api::namespaced(client.clone(), "default");
        if let Some(kubernetes) = default.get_opt("kubernetes").await.map_err(|source| PodError::Api { action: "reading the kubernetes Service", source })? {
            visible.retain(|s| s.metadata.name.as_deref() != Some("kubernetes"));
            visible.push(kubernetes);
        }
    }
    sources.services = service_env(&visible);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), pod_namespace(pod));
    for name in config_map_names {
        let found = config_maps.get_opt(&name).await.map_err(|source| PodError::Api { action: "reading a ConfigMap", source })?;
        if let Some(config_map) = found {
            sources.config_maps.insert(name, config_map.data.unwrap_or_default());
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), pod_namespace(pod));
    for name in secret_names {
        let found = secrets.get_opt(&name).await.map_err(|source| PodError::Api { action: "reading a Secret", source })?;
        if let Some(secret) = found {
            let data = secret.data.unwrap_or_default().into_iter();
            let decoded = data.map(|(key, bytes)| (key, String::from_utf8_lossy(&bytes.0).into_owned())).collect();
            sources.secrets.insert(name, decoded);
        }
    }
    Ok(sources)
}

/// The container's environment in order, as upstream builds it: `envFrom` sources first (with their
/// prefix), then `env` entries, later names replacing earlier ones; `env` values expand `$(VAR)`
/// references to variables defined before them. A missing non-optional source or key is an error
/// (reported as `CreateContainerConfigError`).
pub fn resolve_env(
    pod: &Pod,
    container: &Container,
    environment: ContainerEnvironment<'_>,
    sources: &EnvSources,
) -> Result<Vec<(String, String)>, String> {
    // Service variables first, so the container's own env and envFrom win over them.
    let mut env: Vec<(String, String)> = sources.services.clone();
    let set = |env: &mut Vec<(String, String)>, name: String, value: String| {
        match env.iter_mut().find(|(existing, _)| *existing == name) {
            Some(entry) => entry.1 = value,
            None => env.push((name, value)),
        }
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.as_deref().unwrap_or_default();
        let (kind, name, optional, data) = if let Some(reference) = &source.config_map_ref {
            ("configmap", &reference.name, reference.optional, sources.config_maps.get(&reference.name))
        } else if let Some(reference) = &source.secret_ref {
            ("secret", &reference.name, reference.optional, sources.secrets.get(&reference.name))
        } else {
            continue;
        };
        match data {
            Some(data) => {
                for (key, value) in data {
                    set(&mut env, format!("{prefix}{key}"), value.clone());
                }
            }
            None if optional.unwrap_or(false) => {}
            None => return Err(format!("{kind} \"{name}\" not found")),
        }
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(value), _) => {
                let defined: HashMap<String, String> = env.iter().cloned().collect();
                expand_references(value, &defined)
            }
            (None, Some(source)) => {
                if let Some(field) = &source.field_ref {
                    field_ref_value(pod, &field.field_path, environment.pod_ip, environment.host_ip).unwrap_or_default()
                } else if let Some(key_ref) = &source.config_map_key_ref {
                    let value = sources.config_maps.get(&key_ref.name).map(|data| data.get(&key_ref.key));
                    match value {
                        Some(Some(value)) => value.clone(),
                        _ if key_ref.optional.unwrap_or(false) => continue,
                        None => return Err(format!("configmap \"{}\" not found", key_ref.name)),
                        Some(None) => return Err(format!("couldn't find key {} in ConfigMap {}/{}", key_ref.key, pod_namespace(pod), key_ref.name)),
                    }
                } else if let Some(key_ref) = &source.secret_key_ref {
                    let value = sources.secrets.get(&key_ref.name).map(|data| data.get(&key_ref.key));
                    match value {
                        Some(Some(value)) => value.clone(),
                        _ if key_ref.optional.unwrap_or(false) => continue,
                        None => return Err(format!("secret \"{}\" not found", key_ref.name)),
                        Some(None) => return Err(format!("couldn't find key {} in Secret {}/{}", key_ref.key, pod_namespace(pod), key_ref.name)),
                    }
                } else {
                    // resourceFieldRef is not supported yet: leave the variable out.
                    continue;
                }
            }
            (None, None) => String::new(),
        };
        set(&mut env, var.name.clone(), value);
    }
    Ok(env)
}

/// The CRI container config: command and args (`$(VAR)` expanded against `env`), env, workingDir,
/// logs, and Linux resources from requests/limits.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    attempt: i32,
    image_ref: &str,
    env: &[(String, String)],
    memory_capacity_bytes: u64,
) -> cri_v1::ContainerConfig {
    let defined: HashMap<String, String> = env.iter().cloned().collect();
    let envs = env
        .iter()
        .map(|(key, value)| cri_v1::KeyValue { key: key.clone(), value: value.clone().into_bytes() })
        .collect();
    let expand_all = |words: &Option<Vec<String>>| -> Vec<String> {
        words.iter().flatten().map(|word| expand_references(word, &defined)).collect()
    };
    let mut labels = HashMap::from([
        (LABEL_POD_NAME.to_owned(), pod_name(pod).to_owned()),
        (LABEL_POD_NAMESPACE.to_owned(), pod_namespace(pod).to_owned()),
        (LABEL_POD_UID.to_owned(), pod_uid(pod).to_owned()),
    ]);
    labels.insert(LABEL_CONTAINER_NAME.to_owned(), container.name.clone());
    let attempt_u32 = u32::try_from(attempt).unwrap_or(0);
    cri_v1::ContainerConfig {
        metadata: Some(cri_v1::ContainerMetadata { name: container.name.clone(), attempt: attempt_u32 }),
        image: Some(cri_v1::ImageSpec { image: image_ref.to_owned(), ..cri_v1::ImageSpec::default() }),
        command: expand_all(&container.command),
        args: expand_all(&container.args),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs,
        labels,
        log_path: format!("{}/{attempt}.log", container.name),
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(cri_v1::LinuxContainerConfig {
            resources: Some(resources::linux_resources(container, status::qos_class(pod), memory_capacity_bytes)),
            security_context: Some(cri_v1::LinuxContainerSecurityContext {
                namespace_options: Some(namespace_options(pod)),
                ..cri_v1::LinuxContainerSecurityContext::default()
            }),
        }),
        ..cri_v1::ContainerConfig::default()
    }
}

/// Terminated state from a CRI status of an exited container.
fn terminated_state(status: &cri_v1::ContainerStatus) -> ContainerStateTerminated {
    let reason = if !status.reason.is_empty() {
        status.reason.clone()
    } else if status.exit_code == 0 {
        "Completed".to_owned()
    } else {
        "Error".to_owned()
    };
    ContainerStateTerminated {
        exit_code: status.exit_code,
        reason: Some(reason),
        message: (!status.message.is_empty()).then(|| status.message.clone()),
        started_at: time_from_nanos(status.started_at),
        finished_at: time_from_nanos(status.finished_at),
        container_id: Some(format!("containerd://{}", status.id)),
        signal: None,
    }
}

/// Runs the worker of one pod until it is deleted (or the kubelet shuts down).
pub async fn run_pod_worker(ctx: Arc<NodeContext>, mut pods: watch::Receiver<Pod>, shutdown: CancellationToken) {
    let mut runtime = PodRuntime::default();
    loop {
        let pod = pods.borrow_and_update().clone();
        let key = format!("{}/{}", pod_namespace(&pod), pod_name(&pod));
        if pod.metadata.deletion_timestamp.is_some() {
            match terminate(&ctx, &pod, &mut runtime, grace_period_seconds(&pod)).await {
                Ok(()) => match delete_from_api(&ctx, &pod).await {
                    Ok(()) => {
                        tracing::info!(pod = %key, "pod terminated and removed");
                        return;
                    }
                    Err(error) => tracing::warn!(pod = %key, %error, "final delete failed"),
                },
                Err(error) => tracing::warn!(pod = %key, %error, "terminating pod failed"),
            }
        } else if let Err(error) = sync(&ctx, &pod, &mut runtime).await {
            tracing::warn!(pod = %key, %error, "pod sync failed");
        }
        tokio::select! {
            changed = pods.changed() => {
                if changed.is_err() {
                    // The pod left the API (or this node) without a graceful deletion: clean up at once.
                    match terminate(&ctx, &pod, &mut runtime, 0).await {
                        Ok(()) => tracing::info!(pod = %key, "pod removed from the API; its sandbox is gone"),
                        Err(error) => tracing::warn!(pod = %key, %error, "cleaning up a vanished pod failed"),
                    }
                    return;
                }
            }
            () = tokio::time::sleep(SYNC_PERIOD) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Finds a ready sandbox left by an earlier kubelet run for this pod, with its containers.
async fn adopt_existing(ctx: &NodeContext, pod: &Pod, runtime: &mut PodRuntime) -> Result<(), CriError> {
    let mut client = ctx.cri.runtime.clone();
    let filter = cri_v1::PodSandboxFilter {
        label_selector: HashMap::from([(LABEL_POD_UID.to_owned(), pod_uid(pod).to_owned())]),
        state: Some(cri_v1::PodSandboxStateValue { state: cri_v1::PodSandboxState::SandboxReady as i32 }),
        ..cri_v1::PodSandboxFilter::default()
    };
    let sandboxes = cri::call("ListPodSandbox", client.list_pod_sandbox(cri_v1::ListPodSandboxRequest { filter: Some(filter) }).await)?;
    let Some(sandbox) = sandboxes.items.into_iter().max_by_key(|s| s.created_at) else {
        return Ok(());
    };
    let filter = cri_v1::ContainerFilter { pod_sandbox_id: sandbox.id.clone(), ..cri_v1::ContainerFilter::default() };
    let containers = cri::call("ListContainers", client.list_containers(cri_v1::ListContainersRequest { filter: Some(filter) }).await)?;
    for container in containers.containers {
        let Some(metadata) = container.metadata else { continue };
        let attempt = i32::try_from(metadata.attempt).unwrap_or(0);
        let newer = runtime.containers.get(&metadata.name).is_none_or(|r| r.restart_count < attempt);
        if newer {
            runtime.containers.insert(
                metadata.name,
                ContainerRecord {
                    id: container.id,
                    restart_count: attempt,
                    image_id: container.image_ref,
                    started: Some(Instant::now()),
                    ..ContainerRecord::default()
                },
            );
        }
    }
    runtime.start_time = pod.status.as_ref().and_then(|s| s.start_time.clone());
    runtime.sandbox_id = Some(sandbox.id);
    Ok(())
}

/// Makes sure the pod's sandbox runs; fills the sandbox ID and pod IP. A sandbox that stopped on its
/// own (pause process gone) is replaced, and the containers are restarted in the new one.
async fn ensure_sandbox(ctx: &NodeContext, pod: &Pod, runtime: &mut PodRuntime) -> Result<String, CriError> {
    if runtime.sandbox_id.is_none() {
        adopt_existing(ctx, pod, runtime).await?;
    }
    let mut client = ctx.cri.runtime.clone();
    // At most one replacement per sync: a fresh sandbox that is not ready is an error.
    for _ in 0..2 {
        let sandbox_id = match &runtime.sandbox_id {
            Some(id) => id.clone(),
            None => {
                runtime.start_time.get_or_insert_with(now);
                let config = sandbox_config(pod, &ctx.dns, &ctx.pod_log_dir);
                if let Err(error) = std::fs::create_dir_all(&config.log_directory) {
                    tracing::warn!(dir = %config.log_directory, %error, "cannot create pod log directory");
                }
                let request = cri_v1::RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() };
                let response = cri::call("RunPodSandbox", client.run_pod_sandbox(request).await)?;
                runtime.sandbox_id = Some(response.pod_sandbox_id.clone());
                response.pod_sandbox_id
            }
        };
        let request = cri_v1::PodSandboxStatusRequest { pod_sandbox_id: sandbox_id.clone(), verbose: false };
        let status = cri::call("PodSandboxStatus", client.pod_sandbox_status(request).await)?;
        let sandbox = status.status.unwrap_or_default();
        runtime.sandbox_ready = sandbox.state == cri_v1::PodSandboxState::SandboxReady as i32;
        runtime.pod_ip = sandbox.network.map(|n| n.ip).filter(|ip| !ip.is_empty());
        if runtime.sandbox_ready {
            return Ok(sandbox_id);
        }
        tracing::warn!(pod = %pod_name(pod), sandbox = %sandbox_id, "pod sandbox stopped; replacing it");
        let stop = cri_v1::StopPodSandboxRequest { pod_sandbox_id: sandbox_id.clone() };
        cri::call("StopPodSandbox", client.stop_pod_sandbox(stop).await)?;
        let remove = cri_v1::RemovePodSandboxRequest { pod_sandbox_id: sandbox_id };
        cri::call("RemovePodSandbox", client.remove_pod_sandbox(remove).await)?;
        runtime.sandbox_id = None;
        // The containers went with the sandbox: an empty ID makes the next pass start them again.
        for record in runtime.containers.values_mut() {
            record.id.clear();
            record.restart_at = None;
        }
    }
    Err(CriError::Call { call: "RunPodSandbox", status: tonic::Status::unavailable("the new pod sandbox is not ready") })
}

/// Pulls the image unless the policy allows using a local copy and one exists; returns its ID.
/// The flag says whether it was pulled (`false`: already present).
async fn ensure_image(ctx: &NodeContext, container: &Container, sandbox: &cri_v1::PodSandboxConfig) -> Result<(String, bool), CriError> {
    let image = container.image.clone().unwrap_or_default();
    let policy = container.image_pull_policy.clone().unwrap_or_else(|| {
        // Upstream default: Always for `:latest` or untagged images, IfNotPresent otherwise.
        let tag = image.rsplit('/').next().unwrap_or_default();
        if image.contains('@') || (tag.contains(':') && !tag.ends_with(":latest")) { "IfNotPresent" } else { "Always" }.to_owned()
    });
    let spec = cri_v1::ImageSpec { image: image.clone(), ..cri_v1::ImageSpec::default() };
    let mut images = ctx.cri.images.clone();
    if policy != "Always" {
        let request = cri_v1::ImageStatusRequest { image: Some(spec.clone()), verbose: false };
        let status = cri::call("ImageStatus", images.image_status(request).await)?;
        if let Some(found) = status.image {
            return Ok((found.id, false));
        }
        if policy == "Never" {
            return Err(CriError::Call {
                call: "ImageStatus",
                status: tonic::Status::not_found(format!("image {image:?} is not present with pull policy of Never")),
            });
        }
    }
    let request = cri_v1::PullImageRequest { image: Some(spec), auth: None, sandbox_config: Some(sandbox.clone()) };
    Ok((cri::call("PullImage", images.pull_image(request).await)?.image_ref, true))
}

/// Creates and starts the next instance of `container`.
async fn start_container(
    ctx: &NodeContext,
    pod: &Pod,
    container: &Container,
    sandbox_id: &str,
    runtime: &mut PodRuntime,
) -> Result<StartOutcome, PodError> {
    if let Some(failure) = runtime.start_failures.get_mut(&container.name) {
        if Instant::now() < failure.retry_at {
            failure.reason = failure.backoff_reason;
            return Ok(StartOutcome::BackOff);
        }
    }
    let mut record_failure = |reason: &'static str, backoff_reason: &'static str, message: String| {
        let failures = runtime.start_failures.get(&container.name).map_or(1, |f| f.failures + 1);
        let retry_at = Instant::now() + restart_backoff(failures);
        let failure = StartFailure { reason, backoff_reason, message, failures, retry_at };
        runtime.start_failures.insert(container.name.clone(), failure);
    };
    let sandbox = sandbox_config(pod, &ctx.dns, &ctx.pod_log_dir);
    let image = container.image.clone().unwrap_or_default();
    let field_path = format!("spec.containers{{{}}}", container.name);
    let image_id = match ensure_image(ctx, container, &sandbox).await {
        Ok((id, pulled)) => {
            let message = if pulled { format!("Successfully pulled image \"{image}\"") } else { format!("Container image \"{image}\" already present on machine") };
            events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Normal", "Pulled", &message).await;
            id
        }
        Err(error) => {
            let message = format!("Failed to pull image \"{image}\": {}", error.runtime_message());
            record_failure("ErrImagePull", "ImagePullBackOff", error.runtime_message());
            events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Warning", "Failed", &message).await;
            return Err(error.into());
        }
    };
    let environment = ContainerEnvironment { pod_ip: runtime.pod_ip.as_deref(), host_ip: &ctx.host_ip };
    let sources = fetch_env_sources(&ctx.client, pod, container).await?;
    let env = match resolve_env(pod, container, environment, &sources) {
        Ok(env) => env,
        Err(message) => {
            record_failure("CreateContainerConfigError", "CreateContainerConfigError", message);
            return Ok(StartOutcome::BackOff);
        }
    };
    let mounts = match volumes::prepare(&ctx.client, pod).await.and_then(|paths| volumes::mounts(container, &paths)) {
        Ok(mounts) => mounts,
        Err(message) => {
            record_failure("CreateContainerConfigError", "CreateContainerConfigError", message);
            return Ok(StartOutcome::BackOff);
        }
    };
    runtime.start_failures.remove(&container.name);
    let previous = runtime.containers.get(&container.name).cloned();
    let restart_count = previous.as_ref().map_or(0, |p| p.restart_count + 1);
    let mut config = container_config(pod, container, restart_count, &image_id, &env, ctx.memory_capacity_bytes);
    config.mounts = mounts;
    let mut client = ctx.cri.runtime.clone();
    let request = cri_v1::CreateContainerRequest {
        pod_sandbox_id: sandbox_id.to_owned(),
        config: Some(config),
        sandbox_config: Some(sandbox),
    };
    let id = cri::call("CreateContainer", client.create_container(request).await)?.container_id;
    events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Normal", "Created", &format!("Created container: {}", container.name)).await;
    cri::call("StartContainer", client.start_container(cri_v1::StartContainerRequest { container_id: id.clone() }).await)?;
    events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Normal", "Started", &format!("Started container {}", container.name)).await;
    let last_terminated = previous.as_ref().and_then(|p| p.last_terminated.clone());
    runtime.containers.insert(
        container.name.clone(),
        ContainerRecord { id, restart_count, image_id, restart_at: None, last_terminated, started: Some(Instant::now()), ..ContainerRecord::default() },
    );
    // Only the newest exited instance is kept (for its logs); older ones go.
    if let Some(previous) = previous.filter(|p| !p.id.is_empty()) {
        let request = cri_v1::RemoveContainerRequest { container_id: previous.id };
        if let Err(status) = client.remove_container(request).await {
            tracing::debug!(%status, "removing a previous container instance failed");
        }
    }
    Ok(StartOutcome::Started)
}

/// One convergence pass for a live pod, ending with a status report if anything changed.
async fn sync(ctx: &NodeContext, pod: &Pod, runtime: &mut PodRuntime) -> Result<(), PodError> {
    if pod.metadata.uid.is_none() {
        return Err(PodError::Incomplete("metadata.uid"));
    }
    let restart_policy = pod.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_else(|| "Always".to_owned());
    let api_phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if runtime.sandbox_id.is_none() && matches!(api_phase, Some("Succeeded" | "Failed")) {
        // Finished before this worker started (kubelet restart): upstream never runs such a pod again.
        return Ok(());
    }
    let sandbox_id = if runtime.finished {
        runtime.sandbox_id.clone().unwrap_or_default()
    } else {
        ensure_sandbox(ctx, pod, runtime).await?
    };
    let init_restart_policy = if restart_policy == "Never" { "Never" } else { "OnFailure" };
    let mut initialized = true;
    let mut init_observations = Vec::new();
    for container in pod.spec.as_ref().and_then(|s| s.init_containers.as_deref()).unwrap_or_default() {
        if !initialized {
            init_observations.push(waiting_observation(container, "PodInitializing"));
            continue;
        }
        let observation = sync_container(ctx, pod, container, &sandbox_id, runtime, init_restart_policy).await?;
        // Init containers run one at a time: the next starts only after this one succeeded.
        initialized = matches!(&observation.state, ObservedState::Terminated(t) if t.exit_code == 0);
        init_observations.push(observation);
    }
    let mut observations = Vec::new();
    for container in pod_containers(pod) {
        if initialized {
            observations.push(sync_container(ctx, pod, container, &sandbox_id, runtime, &restart_policy).await?);
        } else {
            observations.push(waiting_observation(container, "PodInitializing"));
        }
    }
    let observation = PodObservation {
        sandbox_ready: runtime.sandbox_ready && !runtime.finished,
        pod_ip: runtime.pod_ip.clone(),
        host_ip: ctx.host_ip.clone(),
        start_time: runtime.start_time.clone().unwrap_or_else(now),
    };
    let pod_status = status::pod_status(pod, &observation, &init_observations, &observations, &now());
    let terminal = matches!(pod_status.phase.as_deref(), Some("Succeeded" | "Failed"));
    report_status(ctx, pod, runtime, &pod_status).await?;
    if terminal && !runtime.finished {
        let mut client = ctx.cri.runtime.clone();
        // Terminal pods keep their containers (for logs) but give back the sandbox's network.
        let request = cri_v1::StopPodSandboxRequest { pod_sandbox_id: sandbox_id };
        cri::call("StopPodSandbox", client.stop_pod_sandbox(request).await)?;
        runtime.finished = true;
    }
    Ok(())
}

/// A container that has no instance yet, waiting for `reason`.
fn waiting_observation(container: &Container, reason: &str) -> ContainerObservation {
    ContainerObservation {
        name: container.name.clone(),
        image: container.image.clone().unwrap_or_default(),
        image_id: String::new(),
        container_id: None,
        state: ObservedState::Waiting { reason: reason.to_owned(), message: None },
        last_terminated: None,
        restart_count: 0,
        probe_ready: false,
    }
}

/// Converges one container (start, watch, restart under `restart_policy` with back-off) and
/// returns what to report for it.
async fn sync_container(
    ctx: &NodeContext,
    pod: &Pod,
    container: &Container,
    sandbox_id: &str,
    runtime: &mut PodRuntime,
    restart_policy: &str,
) -> Result<ContainerObservation, PodError> {
    let mut client = ctx.cri.runtime.clone();
    // A record without an ID lost its container with a replaced sandbox: start it again.
    let record = runtime.containers.get(&container.name).filter(|r| !r.id.is_empty()).cloned();
    let mut observation = waiting_observation(container, "ContainerCreating");
    let Some(record) = record else {
        if !runtime.finished {
            if let Err(error) = start_container(ctx, pod, container, sandbox_id, runtime).await {
                tracing::warn!(container = %container.name, %error, "starting container failed");
            }
        }
        if let Some(failure) = runtime.start_failures.get(&container.name) {
            observation.state =
                ObservedState::Waiting { reason: failure.reason.to_owned(), message: Some(failure.message.clone()) };
        }
        return Ok(observation);
    };
    observation.image_id = record.image_id.clone();
    observation.container_id = Some(format!("containerd://{}", record.id));
    observation.restart_count = record.restart_count;
    observation.last_terminated = record.last_terminated.clone();
    let request = cri_v1::ContainerStatusRequest { container_id: record.id.clone(), verbose: false };
    let status = cri::call("ContainerStatus", client.container_status(request).await)?.status.unwrap_or_default();
    if !status.image_ref.is_empty() {
        observation.image_id = status.image_ref.clone();
    }
    observation.state = match cri_v1::ContainerState::try_from(status.state) {
        Ok(cri_v1::ContainerState::ContainerRunning) => ObservedState::Running {
            started_at: time_from_nanos(status.started_at).unwrap_or_else(now),
        },
        Ok(cri_v1::ContainerState::ContainerExited) => {
            let terminated = terminated_state(&status);
            if runtime.finished || !status::should_restart(restart_policy, status.exit_code) {
                ObservedState::Terminated(terminated)
            } else {
                let restart_at = *runtime
                    .containers
                    .entry(container.name.clone())
                    .or_default()
                    .restart_at
                    .get_or_insert_with(|| Instant::now() + restart_backoff(record.restart_count));
                if Instant::now() >= restart_at {
                    if let Some(entry) = runtime.containers.get_mut(&container.name) {
                        entry.last_terminated = Some(terminated.clone());
                    }
                    match start_container(ctx, pod, container, sandbox_id, runtime).await {
                        Ok(StartOutcome::Started) => {
                            observation.restart_count += 1;
                            observation.last_terminated = Some(terminated);
                            ObservedState::Waiting { reason: "ContainerCreating".to_owned(), message: None }
                        }
                        Ok(StartOutcome::BackOff) => {
                            observation.last_terminated = Some(terminated);
                            let failure = runtime.start_failures.get(&container.name);
                            let reason = failure.map_or("ImagePullBackOff", |f| f.reason).to_owned();
                            ObservedState::Waiting { reason, message: failure.map(|f| f.message.clone()) }
                        }
                        Err(error) => {
                            tracing::warn!(container = %container.name, %error, "restarting container failed");
                            ObservedState::Terminated(terminated)
                        }
                    }
                } else {
                    observation.last_terminated = Some(terminated);
                    ObservedState::Waiting {
                        reason: "CrashLoopBackOff".to_owned(),
                        message: Some(format!(
                            "back-off {}s restarting failed container={} pod={}",
                            restart_backoff(record.restart_count).as_secs(),
                            container.name,
                            pod_name(pod)
                        )),
                    }
                }
            }
        }
        _ => ObservedState::Waiting { reason: "ContainerCreating".to_owned(), message: None },
    };
    if matches!(observation.state, ObservedState::Running { .. }) {
        observation.probe_ready = check_probes(ctx, pod, container, runtime).await;
    }
    Ok(observation)
}

/// Runs the due readiness and liveness probes of a running container. Returns whether it is
/// ready; a liveness failure stops the container (the restart policy then restarts it).
async fn check_probes(ctx: &NodeContext, pod: &Pod, container: &Container, runtime: &mut PodRuntime) -> bool {
    let pod_ip = runtime.pod_ip.clone();
    let Some(record) = runtime.containers.get_mut(&container.name) else { return true };
    let now = Instant::now();
    let started = *record.started.get_or_insert(now);
    let field_path = format!("spec.containers{{{}}}", container.name);
    let mut ready = true;
    if let Some(probe) = &container.readiness_probe {
        if probes::due(probe, &record.readiness, started, now) {
            let result = probes::run(&ctx.cri, &record.id, container, pod_ip.as_deref(), probe).await;
            if let Err(message) = &result {
                events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Warning", "Unhealthy", &format!("Readiness probe failed: {message}")).await;
            }
            probes::record(probe, &mut record.readiness, result.is_ok(), now);
        }
        ready = record.readiness.passing;
    }
    if let Some(probe) = &container.liveness_probe {
        if probes::due(probe, &record.liveness, started, now) {
            let result = probes::run(&ctx.cri, &record.id, container, pod_ip.as_deref(), probe).await;
            if let Err(message) = &result {
                events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Warning", "Unhealthy", &format!("Liveness probe failed: {message}")).await;
            }
            // A container is alive until the failure threshold says otherwise.
            record.liveness.passing = record.liveness.passing || record.liveness.last_run.is_none();
            if probes::record(probe, &mut record.liveness, result.is_ok(), now) == probes::Verdict::Failed {
                let message = format!("Container {} failed liveness probe, will be restarted", container.name);
                events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Normal", "Killing", &message).await;
                let grace = pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30);
                let request = cri_v1::StopContainerRequest { container_id: record.id.clone(), timeout: grace };
                let mut client = ctx.cri.runtime.clone();
                if let Err(status) = client.stop_container(request).await {
                    tracing::warn!(container = %container.name, %status, "stopping a container that failed its liveness probe failed");
                }
                ready = false;
            }
        }
    }
    ready
}

/// Sends the status through `pods/status` unless it equals the last report.
async fn report_status(
    ctx: &NodeContext,
    pod: &Pod,
    runtime: &mut PodRuntime,
    pod_status: &k8s_openapi::api::core::v1::PodStatus,
) -> Result<(), PodError> {
    let value = serde_json::to_value(pod_status).unwrap_or_default();
    if runtime.reported.as_ref() == Some(&value) {
        return Ok(());
    }
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), pod_namespace(pod));
    // A JSON patch `add` replaces the whole status, so fields that disappear (an old `waiting`) go too.
    let operations = serde_json::json!([{ "op": "add", "path": "/status", "value": value }]);
    let patch: json_patch::Patch = serde_json::from_value(operations)
        .map_err(|_| PodError::Incomplete("serialisable status"))?;
    api.patch_status(pod_name(pod), &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .map_err(|source| PodError::Api { action: "updating pod status", source })?;
    runtime.reported = Some(value);
    Ok(())
}

/// Stops the containers (with `grace_seconds`) and the sandbox, then removes the sandbox.
async fn terminate(ctx: &NodeContext, pod: &Pod, runtime: &mut PodRuntime, grace_seconds: i64) -> Result<(), CriError> {
    let mut client = ctx.cri.runtime.clone();
    // Also catch sandboxes this worker did not create (an earlier kubelet run).
    let filter = cri_v1::PodSandboxFilter {
        label_selector: HashMap::from([(LABEL_POD_UID.to_owned(), pod_uid(pod).to_owned())]),
        ..cri_v1::PodSandboxFilter::default()
    };
    let listed = cri::call("ListPodSandbox", client.list_pod_sandbox(cri_v1::ListPodSandboxRequest { filter: Some(filter) }).await)?;
    let mut sandbox_ids: Vec<String> = listed.items.into_iter().map(|s| s.id).collect();
    if let Some(id) = runtime.sandbox_id.take() {
        if !sandbox_ids.contains(&id) {
            sandbox_ids.push(id);
        }
    }
    let mut container_ids = Vec::new();
    for sandbox_id in &sandbox_ids {
        let filter = cri_v1::ContainerFilter { pod_sandbox_id: sandbox_id.clone(), ..cri_v1::ContainerFilter::default() };
        let listed = cri::call("ListContainers", client.list_containers(cri_v1::ListContainersRequest { filter: Some(filter) }).await)?;
        for c in listed.containers.into_iter().filter(|c| c.state != cri_v1::ContainerState::ContainerExited as i32) {
            if let Some(name) = c.metadata.as_ref().map(|m| m.name.clone()) {
                let field_path = format!("spec.containers{{{name}}}");
                events::record(&ctx.client, &ctx.node_name, pod, Some(&field_path), "Normal", "Killing", &format!("Stopping container {name}")).await;
            }
            container_ids.push(c.id);
        }
    }
    let stops = container_ids.into_iter().map(|container_id| {
        let mut client = ctx.cri.runtime.clone();
        async move {
            let request = cri_v1::StopContainerRequest { container_id, timeout: grace_seconds };
            cri::call("StopContainer", client.stop_container(request).await)
        }
    });
    for result in futures::future::join_all(stops).await {
        result?;
    }
    for sandbox_id in sandbox_ids {
        cri::call("StopPodSandbox", client.stop_pod_sandbox(cri_v1::StopPodSandboxRequest { pod_sandbox_id: sandbox_id.clone() }).await)?;
        cri::call("RemovePodSandbox", client.remove_pod_sandbox(cri_v1::RemovePodSandboxRequest { pod_sandbox_id: sandbox_id }).await)?;
    }
    runtime.containers.clear();
    runtime.sandbox_ready = false;
    // The pod's volumes (emptyDir contents, projected files) go with it.
    let dir = volumes::pod_dir(pod_uid(pod));
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "removing the pod's volume directory failed");
        }
    }
    Ok(())
}

/// Stops and removes the sandboxes of pods that are no longer bound to this node (deleted while the
/// kubelet was not running). Only sandboxes carrying the kubelet's pod UID label and created before
/// `listed_at` (when `known_uids` was complete) are considered, so a pod that just arrived is safe.
pub async fn remove_orphan_sandboxes(
    cri: &CriClient,
    known_uids: &std::collections::HashSet<String>,
    listed_at: jiff::Timestamp,
) -> Result<usize, CriError> {
    let listed_at_nanos = listed_at.as_nanosecond();
    let mut client = cri.runtime.clone();
    let listed = cri::call("ListPodSandbox", client.list_pod_sandbox(cri_v1::ListPodSandboxRequest { filter: None }).await)?;
    let mut removed = 0;
    for sandbox in listed.items {
        let Some(uid) = sandbox.labels.get(LABEL_POD_UID) else { continue };
        if known_uids.contains(uid) || i128::from(sandbox.created_at) >= listed_at_nanos {
            continue;
        }
        let id = sandbox.id;
        cri::call("StopPodSandbox", client.stop_pod_sandbox(cri_v1::StopPodSandboxRequest { pod_sandbox_id: id.clone() }).await)?;
        cri::call("RemovePodSandbox", client.remove_pod_sandbox(cri_v1::RemovePodSandboxRequest { pod_sandbox_id: id }).await)?;
        removed += 1;
    }
    Ok(removed)
}

/// The kubelet's final delete: grace period 0, guarded by the pod's UID.
async fn delete_from_api(ctx: &NodeContext, pod: &Pod) -> Result<(), PodError> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), pod_namespace(pod));
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(pod_name(pod), &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(PodError::Api { action: "deleting the pod", source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web".to_owned()),
                namespace: Some("ns1".to_owned()),
                uid: Some("u-1".to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".to_owned(),
                    image: Some("busybox:1.36".to_owned()),
                    command: Some(vec!["sleep".to_owned()]),
                    args: Some(vec!["3600".to_owned()]),
                    working_dir: Some("/tmp".to_owned()),
                    env: Some(vec![
                        EnvVar { name: "A".to_owned(), value: Some("1".to_owned()), value_from: None },
                        EnvVar {
                            name: "POD_IP".to_owned(),
                            value: None,
                            value_from: Some(EnvVarSource {
                                field_ref: Some(ObjectFieldSelector { field_path: "status.podIP".to_owned(), api_version: None }),
                                ..EnvVarSource::default()
                            }),
                        },
                    ]),
                    ports: Some(vec![ContainerPort {
                        container_port: 80,
                        host_port: Some(8080),
                        protocol: Some("UDP".to_owned()),
                        ..ContainerPort::default()
                    }]),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn resolv_conf_is_parsed() {
        let dns = parse_resolv_conf("# c\nnameserver 1.1.1.1\nnameserver 8.8.8.8\nsearch a.example b.example\noptions ndots:2\n");
        assert_eq!(dns.servers, ["1.1.1.1", "8.8.8.8"]);
        assert_eq!(dns.searches, ["a.example", "b.example"]);
        assert_eq!(dns.options, ["ndots:2"]);
    }

    #[test]
    fn sandbox_config_carries_identity_ports_and_log_dir() {
        let config = sandbox_config(&pod(), &cri_v1::DnsConfig::default(), std::path::Path::new("/var/log/pods"));
        let metadata = config.metadata.unwrap();
        assert_eq!((metadata.name.as_str(), metadata.namespace.as_str(), metadata.uid.as_str()), ("web", "ns1", "u-1"));
        assert_eq!(config.hostname, "web");
        assert_eq!(config.log_directory, "/var/log/pods/ns1_web_u-1");
        assert_eq!(config.port_mappings.len(), 1);
        assert_eq!(config.port_mappings[0].host_port, 8080);
        assert_eq!(config.port_mappings[0].protocol, cri_v1::Protocol::Udp as i32);
        assert_eq!(config.labels[LABEL_POD_UID], "u-1");
        let namespaces = config.linux.unwrap().security_context.unwrap().namespace_options.unwrap();
        assert_eq!(namespaces.pid, cri_v1::NamespaceMode::Container as i32);
        assert_eq!(namespaces.network, cri_v1::NamespaceMode::Pod as i32);
    }

    #[test]
    fn container_config_has_command_env_and_log_path() {
        let pod = pod();
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let environment = ContainerEnvironment { pod_ip: Some("10.42.0.5"), host_ip: "192.0.2.1" };
        let env = resolve_env(&pod, container, environment, &EnvSources::default()).unwrap();
        let config = container_config(&pod, container, 2, "sha256:abc", &env, 1 << 30);
        assert_eq!(config.command, ["sleep"]);
        assert_eq!(config.args, ["3600"]);
        assert_eq!(config.working_dir, "/tmp");
        assert_eq!(config.log_path, "c/2.log");
        assert_eq!(config.metadata.unwrap().attempt, 2);
        let env: Vec<(&str, &[u8])> = config.envs.iter().map(|kv| (kv.key.as_str(), kv.value.as_slice())).collect();
        assert_eq!(env, [("A", &b"1"[..]), ("POD_IP", &b"10.42.0.5"[..])]);
        assert_eq!(config.labels[LABEL_CONTAINER_NAME], "c");
    }

    #[test]
    fn host_network_and_shared_pid_namespaces() {
        let mut pod = pod();
        let spec = pod.spec.as_mut().unwrap();
        spec.host_network = Some(true);
        spec.share_process_namespace = Some(true);
        let namespaces = namespace_options(&pod);
        assert_eq!(namespaces.network, cri_v1::NamespaceMode::Node as i32);
        assert_eq!(namespaces.pid, cri_v1::NamespaceMode::Pod as i32);
        assert_eq!(namespaces.ipc, cri_v1::NamespaceMode::Pod as i32);
        assert_eq!(sandbox_config(&pod, &cri_v1::DnsConfig::default(), std::path::Path::new("/l")).hostname, "");
    }

    #[test]
    fn references_expand_like_upstream() {
        let defined = HashMap::from([("A".to_owned(), "1".to_owned()), ("B".to_owned(), "x y".to_owned())]);
        assert_eq!(expand_references("$(A)-$(B)", &defined), "1-x y");
        assert_eq!(expand_references("$$(A) $(MISSING)", &defined), "$(A) $(MISSING)");
        assert_eq!(expand_references("cost $5 $(A", &defined), "cost $5 $(A");
        assert_eq!(expand_references("$$$(A)", &defined), "$1");
    }

    #[test]
    fn env_values_see_earlier_variables_and_args_see_all() {
        let mut pod = pod();
        let container = &mut pod.spec.as_mut().unwrap().containers[0];
        container.args = Some(vec!["echo $(A) $(LATER)".to_owned()]);
        container.env.as_mut().unwrap().push(EnvVar { name: "LATER".to_owned(), value: Some("a=$(A)".to_owned()), value_from: None });
        let container = container.clone();
        let environment = ContainerEnvironment { pod_ip: None, host_ip: "192.0.2.1" };
        let env = resolve_env(&pod, &container, environment, &EnvSources::default()).unwrap();
        let config = container_config(&pod, &container, 0, "img", &env, 1 << 30);
        assert_eq!(config.args, ["echo 1 a=1"]);
        let keys: Vec<&str> = config.envs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["A", "POD_IP", "LATER"]);
    }

    #[test]
    fn env_from_sources_then_env_overrides_and_missing_keys_fail() {
        use k8s_openapi::api::core::v1::{ConfigMapEnvSource, EnvFromSource, SecretKeySelector};
        let mut pod = pod();
        let container = &mut pod.spec.as_mut().unwrap().containers[0];
        container.env_from = Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: "cm".to_owned(), optional: None }),
            prefix: Some("CM_".to_owned()),
            secret_ref: None,
        }]);
        container.env = Some(vec![
            EnvVar { name: "CM_A".to_owned(), value: Some("override".to_owned()), value_from: None },
            EnvVar {
                name: "PASSWORD".to_owned(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector { name: "s".to_owned(), key: "pw".to_owned(), optional: None }),
                    ..EnvVarSource::default()
                }),
            },
        ]);
        let container = container.clone();
        let environment = ContainerEnvironment { pod_ip: None, host_ip: "192.0.2.1" };
        let mut sources = EnvSources::default();
        sources.config_maps.insert("cm".to_owned(), BTreeMap::from([("A".to_owned(), "1".to_owned()), ("B".to_owned(), "2".to_owned())]));
        let missing_secret = resolve_env(&pod, &container, environment, &sources).unwrap_err();
        assert_eq!(missing_secret, "secret \"s\" not found");
        sources.secrets.insert("s".to_owned(), BTreeMap::new());
        let missing_key = resolve_env(&pod, &container, environment, &sources).unwrap_err();
        assert_eq!(missing_key, "couldn't find key pw in Secret ns1/s");
        sources.secrets.insert("s".to_owned(), BTreeMap::from([("pw".to_owned(), "hunter2".to_owned())]));
        let env = resolve_env(&pod, &container, environment, &sources).unwrap();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("CM_A", "override"), ("CM_B", "2"), ("PASSWORD", "hunter2")]);
    }

    #[test]
    fn service_links_follow_the_docker_convention() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "redis-primary" },
            "spec": { "clusterIP": "10.43.0.11", "ports": [{ "name": "db", "port": 6379, "protocol": "TCP" }] }
        }))
        .expect("service");
        let headless: Service = serde_json::from_value(serde_json::json!({ "metadata": { "name": "h" }, "spec": { "clusterIP": "None", "ports": [{ "port": 1 }] } })).expect("headless");
        let env: HashMap<String, String> = service_env(&[svc, headless]).into_iter().collect();
        assert_eq!(env["REDIS_PRIMARY_SERVICE_HOST"], "10.43.0.11");
        assert_eq!(env["REDIS_PRIMARY_SERVICE_PORT"], "6379");
        assert_eq!(env["REDIS_PRIMARY_SERVICE_PORT_DB"], "6379");
        assert_eq!(env["REDIS_PRIMARY_PORT"], "tcp://10.43.0.11:6379");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP"], "tcp://10.43.0.11:6379");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP_PROTO"], "tcp");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP_PORT"], "6379");
        assert_eq!(env["REDIS_PRIMARY_PORT_6379_TCP_ADDR"], "10.43.0.11");
        assert!(!env.keys().any(|k| k.starts_with("H_")), "headless services get no variables");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(restart_backoff(0), Duration::ZERO);
        assert_eq!(restart_backoff(1), Duration::from_secs(10));
        assert_eq!(restart_backoff(2), Duration::from_secs(20));
        assert_eq!(restart_backoff(4), Duration::from_secs(80));
        assert_eq!(restart_backoff(40), BACKOFF_MAX);
    }

    #[test]
    fn grace_period_prefers_the_deletion_value() {
        let mut pod = pod();
        assert_eq!(grace_period_seconds(&pod), 30);
        pod.spec.as_mut().unwrap().termination_grace_period_seconds = Some(5);
        assert_eq!(grace_period_seconds(&pod), 5);
        pod.metadata.deletion_grace_period_seconds = Some(1);
        assert_eq!(grace_period_seconds(&pod), 1);
    }
}
