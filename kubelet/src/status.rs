//! Pure construction of a pod's `status` from what the kubelet observed in the runtime.
//!
//! Kept free of I/O so phase, conditions and container states can be tested directly.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What the kubelet knows about one container of the pod.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerObservation {
    /// Container name from the spec.
    pub name: String,
    /// Image as written in the spec.
    pub image: String,
    /// Image ID reported by the runtime (empty before the container exists).
    pub image_id: String,
    /// `containerd://<id>` once created.
    pub container_id: Option<String>,
    /// Current state.
    pub state: ObservedState,
    /// Previous termination, after a restart.
    pub last_terminated: Option<ContainerStateTerminated>,
    /// Restarts so far.
    pub restart_count: i32,
    /// Whether its readiness probe (if any) passes; only meaningful while running.
    pub probe_ready: bool,
}

/// Current state of a container, in Kubernetes terms.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservedState {
    /// Not running: being created, backing off, or failing to get its image.
    Waiting {
        /// `ContainerCreating`, `CrashLoopBackOff`, `ErrImagePull`, …
        reason: String,
        /// Human-readable detail.
        message: Option<String>,
    },
    /// Running since the given time.
    Running {
        /// Start time.
        started_at: Time,
    },
    /// Exited and not (yet) restarted.
    Terminated(ContainerStateTerminated),
}

impl ObservedState {
    fn to_api(&self) -> ContainerState {
        match self {
            Self::Waiting { reason, message } => ContainerState {
                waiting: Some(ContainerStateWaiting { reason: Some(reason.clone()), message: message.clone() }),
                ..ContainerState::default()
            },
            Self::Running { started_at } => ContainerState {
                running: Some(ContainerStateRunning { started_at: Some(started_at.clone()) }),
                ..ContainerState::default()
            },
            Self::Terminated(terminated) => {
                ContainerState { terminated: Some(terminated.clone()), ..ContainerState::default() }
            }
        }
    }
}

/// Whether a container that exited with `exit_code` is restarted under `restart_policy`.
pub fn should_restart(restart_policy: &str, exit_code: i32) -> bool {
    match restart_policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// The pod phase from its containers, following upstream's rules for regular containers.
pub fn phase(restart_policy: &str, containers: &[ContainerObservation]) -> &'static str {
    let mut running = 0;
    let mut waiting_fresh = 0;
    let mut failed = 0;
    for container in containers {
        match &container.state {
            ObservedState::Running { .. } => running += 1,
            // A container waiting to be restarted has run before: the pod is still Running.
            ObservedState::Waiting { .. } if container.restart_count > 0 || container.last_terminated.is_some() => {
                running += 1;
            }
            ObservedState::Waiting { .. } => waiting_fresh += 1,
            ObservedState::Terminated(t) if t.exit_code == 0 => {}
            ObservedState::Terminated(_) => failed += 1,
        }
    }
    if containers.is_empty() || waiting_fresh > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    // Every container has terminated.
    match restart_policy {
        "Never" if failed > 0 => "Failed",
        "Never" => "Succeeded",
        "OnFailure" if failed > 0 => "Running",
        "OnFailure" => "Succeeded",
        _ => "Running",
    }
}

/// Inputs of [`pod_status`] besides the pod and its containers.
#[derive(Debug, Clone)]
pub struct PodObservation {
    /// The sandbox is up (network ready).
    pub sandbox_ready: bool,
    /// Pod IP from the sandbox status.
    pub pod_ip: Option<String>,
    /// Node's InternalIP.
    pub host_ip: String,
    /// When the kubelet accepted the pod.
    pub start_time: Time,
}

/// Whether an init container finished successfully.
fn completed(container: &ContainerObservation) -> bool {
    matches!(&container.state, ObservedState::Terminated(t) if t.exit_code == 0)
}

/// Builds the full pod status; transition times are carried over from `pod.status` when a condition
/// keeps its value, and `PodScheduled` is kept as the scheduler wrote it. Regular containers only
/// count once every init container has completed.
pub fn pod_status(
    pod: &Pod,
    observation: &PodObservation,
    init_containers: &[ContainerObservation],
    containers: &[ContainerObservation],
    now: &Time,
) -> PodStatus {
    let restart_policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    let initialized = init_containers.iter().all(completed);
    let init_failed = init_containers
        .iter()
        .any(|c| matches!(&c.state, ObservedState::Terminated(t) if t.exit_code != 0));
    let phase = if init_failed && restart_policy == "Never" {
        "Failed"
    } else if !initialized {
        "Pending"
    } else {
        phase(restart_policy, containers)
    };
    let previous = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    let terminal = phase == "Succeeded" || phase == "Failed";
    let condition = |type_: &str, ok: bool, reason: Option<&str>| {
        let status = if ok { "True" } else { "False" };
        let last_transition_time = previous
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == status))
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
            last_transition_time: Some(last_transition_time),
            ..PodCondition::default()
        }
    };
    let all_ready = initialized
        && !containers.is_empty()
        && containers.iter().all(|c| matches!(c.state, ObservedState::Running { .. }) && c.probe_ready);
    let not_ready_reason = if terminal { Some("PodCompleted") } else { Some("ContainersNotReady") };
    let scheduled = previous
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled").cloned())
        .unwrap_or_else(|| condition("PodScheduled", true, None));
    let conditions = vec![
        condition("PodReadyToStartContainers", observation.sandbox_ready, None),
        condition("Initialized", initialized, if initialized { None } else { Some("ContainersNotInitialized") }),
        condition("Ready", all_ready, if all_ready { None } else { not_ready_reason }),
        condition("ContainersReady", all_ready, if all_ready { None } else { not_ready_reason }),
        scheduled,
    ];
    let statuses = |observed: &[ContainerObservation], init: bool| -> Vec<ContainerStatus> {
        observed.iter().map(|c| container_status(c, init)).collect()
    };
    let qos_class = pod.status.as_ref().and_then(|s| s.qos_class.clone()).unwrap_or_else(|| qos_class(pod).to_owned());
    PodStatus {
        phase: Some(phase.to_owned()),
        conditions: Some(conditions),
        host_ip: Some(observation.host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: observation.host_ip.clone() }]),
        pod_ip: observation.pod_ip.clone(),
        pod_ips: observation.pod_ip.clone().map(|ip| vec![PodIP { ip }]),
        start_time: Some(observation.start_time.clone()),
        init_container_statuses: (!init_containers.is_empty()).then(|| statuses(init_containers, true)),
        container_statuses: Some(statuses(containers, false)),
        qos_class: Some(qos_class),
        ..PodStatus::default()
    }
}

/// One `containerStatuses` entry; an init container counts as ready once it completed.
fn container_status(c: &ContainerObservation, init: bool) -> ContainerStatus {
    let running = matches!(c.state, ObservedState::Running { .. });
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        container_id: c.container_id.clone(),
        ready: if init { completed(c) } else { running && c.probe_ready },
        started: Some(running),
        restart_count: c.restart_count,
        state: Some(c.state.to_api()),
        last_state: Some(ContainerState { terminated: c.last_terminated.clone(), ..ContainerState::default() }),
        ..ContainerStatus::default()
    }
}

/// QoS class: BestEffort without any request/limit, Guaranteed when every container's limits equal
/// its requests for both cpu and memory, Burstable otherwise.
pub fn qos_class(pod: &Pod) -> &'static str {
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for container in containers {
        let resources = container.resources.as_ref();
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = resources.and_then(|r| r.limits.as_ref());
        any |= requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty());
        for resource in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(resource));
            // A request defaults to the limit when only the limit is set.
            let request = requests.and_then(|r| r.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn time(text: &str) -> Time {
        Time(text.parse().unwrap())
    }

    fn observed(name: &str, state: ObservedState, restart_count: i32) -> ContainerObservation {
        ContainerObservation {
            probe_ready: true,
            name: name.to_owned(),
            image: "busybox:1.36".to_owned(),
            image_id: "sha256:abc".to_owned(),
            container_id: Some("containerd://123".to_owned()),
            state,
            last_terminated: None,
            restart_count,
        }
    }

    fn terminated(exit_code: i32) -> ObservedState {
        ObservedState::Terminated(ContainerStateTerminated { exit_code, ..ContainerStateTerminated::default() })
    }

    fn pod(restart_policy: &str) -> Pod {
        Pod {
            spec: Some(PodSpec {
                restart_policy: Some(restart_policy.to_owned()),
                containers: vec![Container { name: "c".to_owned(), ..Container::default() }],
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn phase_follows_restart_policy() {
        let running = ObservedState::Running { started_at: time("2026-01-01T00:00:00Z") };
        let creating = ObservedState::Waiting { reason: "ContainerCreating".to_owned(), message: None };
        assert_eq!(phase("Always", &[observed("a", creating.clone(), 0)]), "Pending");
        assert_eq!(phase("Always", &[observed("a", running.clone(), 0), observed("b", creating, 0)]), "Pending");
        assert_eq!(phase("Always", &[observed("a", running, 0)]), "Running");
        assert_eq!(phase("Never", &[observed("a", terminated(0), 0)]), "Succeeded");
        assert_eq!(phase("Never", &[observed("a", terminated(0), 0), observed("b", terminated(2), 0)]), "Failed");
        assert_eq!(phase("OnFailure", &[observed("a", terminated(1), 0)]), "Running");
        assert_eq!(phase("OnFailure", &[observed("a", terminated(0), 0)]), "Succeeded");
        assert_eq!(phase("Always", &[observed("a", terminated(0), 0)]), "Running");
        let backing_off = ObservedState::Waiting { reason: "CrashLoopBackOff".to_owned(), message: None };
        assert_eq!(phase("Always", &[observed("a", backing_off, 3)]), "Running");
    }

    #[test]
    fn restart_decision() {
        assert!(should_restart("Always", 0));
        assert!(!should_restart("OnFailure", 0));
        assert!(should_restart("OnFailure", 137));
        assert!(!should_restart("Never", 1));
    }

    #[test]
    fn running_pod_status_is_ready_with_ips() {
        let now = time("2026-01-01T00:00:05Z");
        let started = time("2026-01-01T00:00:01Z");
        let observation = PodObservation {
            sandbox_ready: true,
            pod_ip: Some("10.42.0.7".to_owned()),
            host_ip: "192.0.2.1".to_owned(),
            start_time: time("2026-01-01T00:00:00Z"),
        };
        let containers = [observed("c", ObservedState::Running { started_at: started.clone() }, 0)];
        let status = pod_status(&pod("Always"), &observation, &[], &containers, &now);
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("10.42.0.7"));
        assert_eq!(status.pod_ips.unwrap()[0].ip, "10.42.0.7");
        assert_eq!(status.host_ip.as_deref(), Some("192.0.2.1"));
        let conditions = status.conditions.unwrap();
        for type_ in ["Initialized", "Ready", "ContainersReady", "PodScheduled", "PodReadyToStartContainers"] {
            let condition = conditions.iter().find(|c| c.type_ == type_).unwrap();
            assert_eq!(condition.status, "True", "{type_}");
        }
        let container = &status.container_statuses.unwrap()[0];
        assert!(container.ready);
        assert_eq!(container.started, Some(true));
        assert_eq!(container.container_id.as_deref(), Some("containerd://123"));
        assert_eq!(container.state.as_ref().unwrap().running.as_ref().unwrap().started_at, Some(started));
        assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    }

    #[test]
    fn unchanged_conditions_keep_transition_time_and_completed_pods_are_not_ready() {
        let observation = PodObservation {
            sandbox_ready: true,
            pod_ip: None,
            host_ip: "192.0.2.1".to_owned(),
            start_time: time("2026-01-01T00:00:00Z"),
        };
        let mut pod = pod("Never");
        let first = time("2026-01-01T00:00:01Z");
        pod.status = Some(pod_status(&pod, &observation, &[], &[observed("c", terminated(0), 0)], &first));
        let later = pod_status(&pod, &observation, &[], &[observed("c", terminated(0), 0)], &time("2026-01-01T00:09:00Z"));
        assert_eq!(later.phase.as_deref(), Some("Succeeded"));
        let ready = later.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason.as_deref(), Some("PodCompleted"));
        assert_eq!(ready.last_transition_time, Some(first));
    }

    #[test]
    fn init_containers_gate_initialized_and_phase() {
        let observation = PodObservation {
            sandbox_ready: true,
            pod_ip: Some("10.42.0.9".to_owned()),
            host_ip: "192.0.2.1".to_owned(),
            start_time: time("2026-01-01T00:00:00Z"),
        };
        let now = time("2026-01-01T00:00:05Z");
        let waiting = ObservedState::Waiting { reason: "PodInitializing".to_owned(), message: None };
        let running = ObservedState::Running { started_at: now.clone() };
        let initializing = pod_status(
            &pod("Always"),
            &observation,
            &[observed("init", running.clone(), 0)],
            &[observed("c", waiting.clone(), 0)],
            &now,
        );
        assert_eq!(initializing.phase.as_deref(), Some("Pending"));
        let conditions = initializing.conditions.unwrap();
        let initialized = conditions.iter().find(|c| c.type_ == "Initialized").unwrap();
        assert_eq!((initialized.status.as_str(), initialized.reason.as_deref()), ("False", Some("ContainersNotInitialized")));
        assert!(!initializing.init_container_statuses.unwrap()[0].ready);

        let done = pod_status(&pod("Always"), &observation, &[observed("init", terminated(0), 0)], &[observed("c", running, 0)], &now);
        assert_eq!(done.phase.as_deref(), Some("Running"));
        assert!(done.init_container_statuses.unwrap()[0].ready, "a completed init container is ready");

        let failed = pod_status(&pod("Never"), &observation, &[observed("init", terminated(1), 0)], &[observed("c", waiting, 0)], &now);
        assert_eq!(failed.phase.as_deref(), Some("Failed"));
    }

    #[test]
    fn qos_class_from_requests_and_limits() {
        let mut pod = pod("Always");
        assert_eq!(qos_class(&pod), "BestEffort");
        let quantities = |cpu: &str, memory: &str| {
            [("cpu".to_owned(), Quantity(cpu.to_owned())), ("memory".to_owned(), Quantity(memory.to_owned()))].into()
        };
        pod.spec.as_mut().unwrap().containers[0].resources =
            Some(ResourceRequirements { limits: Some(quantities("1", "64Mi")), ..ResourceRequirements::default() });
        assert_eq!(qos_class(&pod), "Guaranteed");
        pod.spec.as_mut().unwrap().containers[0].resources =
            Some(ResourceRequirements { requests: Some(quantities("100m", "64Mi")), ..ResourceRequirements::default() });
        assert_eq!(qos_class(&pod), "Burstable");
    }
}
