//! Container resource requests/limits turned into the Linux settings the runtime applies:
//! CPU shares and CFS quota, memory limit, and the OOM score that encodes the pod's QoS class.
//!
//! The formulas follow upstream's observable values (shares = mCPU·1024/1000 with a floor of 2,
//! quota over a 100 ms period with a floor of 1 ms, OOM score -997 / 1000 / proportional to the
//! memory request for Guaranteed / BestEffort / Burstable).

use corten_scheduler::quantity::{millicores, units};
use k8s_openapi::api::core::v1::Container;

use crate::cri::v1 as cri_v1;

/// CFS period used for CPU limits (microseconds).
const CPU_PERIOD_US: i64 = 100_000;
/// Smallest CFS quota the kernel accepts in practice (1 ms).
const MIN_CPU_QUOTA_US: i64 = 1_000;
/// Smallest CPU shares value.
const MIN_CPU_SHARES: i64 = 2;
/// OOM score of Guaranteed containers.
const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
/// OOM score of BestEffort containers.
const BEST_EFFORT_OOM_SCORE_ADJ: i64 = 1000;

fn quantity_of(map: Option<&std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>, name: &str) -> Option<String> {
    map.and_then(|m| m.get(name)).map(|q| q.0.clone())
}

/// Linux resources for `container` in a pod of `qos_class`, on a node with `memory_capacity` bytes.
pub fn linux_resources(container: &Container, qos_class: &str, memory_capacity: u64) -> cri_v1::LinuxContainerResources {
    let resources = container.resources.as_ref();
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    let cpu_limit = quantity_of(limits, "cpu").map_or(0, |q| millicores(&q));
    // A missing request defaults to the limit, as the API server's defaulting does.
    let cpu_request = quantity_of(requests, "cpu").map_or(cpu_limit, |q| millicores(&q));
    let memory_limit = quantity_of(limits, "memory").map_or(0, |q| units(&q));
    let memory_request = quantity_of(requests, "memory").map_or(memory_limit, |q| units(&q));

    let cpu_shares = i64::try_from(cpu_request.saturating_mul(1024) / 1000).unwrap_or(i64::MAX).max(MIN_CPU_SHARES);
    let cpu_quota = if cpu_limit == 0 {
        0
    } else {
        i64::try_from(cpu_limit.saturating_mul(100_000) / 1000).unwrap_or(i64::MAX).max(MIN_CPU_QUOTA_US)
    };
    cri_v1::LinuxContainerResources {
        cpu_period: if cpu_quota > 0 { CPU_PERIOD_US } else { 0 },
        cpu_quota,
        cpu_shares,
        memory_limit_in_bytes: i64::try_from(memory_limit).unwrap_or(i64::MAX),
        oom_score_adj: oom_score_adj(qos_class, memory_request, memory_capacity),
        ..cri_v1::LinuxContainerResources::default()
    }
}

/// OOM score adjustment: fixed for Guaranteed and BestEffort; for Burstable, the larger the memory
/// request relative to the node, the lower the score, kept strictly between the two fixed values.
pub fn oom_score_adj(qos_class: &str, memory_request: u64, memory_capacity: u64) -> i64 {
    match qos_class {
        "Guaranteed" => GUARANTEED_OOM_SCORE_ADJ,
        "BestEffort" => BEST_EFFORT_OOM_SCORE_ADJ,
        _ => {
            let share = if memory_capacity == 0 {
                0
            } else {
                i64::try_from(u128::from(memory_request) * 1000 / u128::from(memory_capacity)).unwrap_or(1000)
            };
            (1000 - share).clamp(1000 + GUARANTEED_OOM_SCORE_ADJ, BEST_EFFORT_OOM_SCORE_ADJ - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let map = |pairs: &[(&str, &str)]| {
            (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned()))).collect())
        };
        Container {
            name: "c".to_owned(),
            resources: Some(ResourceRequirements { requests: map(requests), limits: map(limits), ..ResourceRequirements::default() }),
            ..Container::default()
        }
    }

    #[test]
    fn limits_become_quota_and_memory_limit() {
        let resources = linux_resources(&container(&[], &[("cpu", "500m"), ("memory", "64Mi")]), "Guaranteed", 1 << 30);
        assert_eq!(resources.cpu_shares, 512, "request defaults to the limit");
        assert_eq!(resources.cpu_quota, 50_000);
        assert_eq!(resources.cpu_period, 100_000);
        assert_eq!(resources.memory_limit_in_bytes, 64 << 20);
        assert_eq!(resources.oom_score_adj, -997);
    }

    #[test]
    fn no_resources_is_best_effort_minimum_shares() {
        let resources = linux_resources(&container(&[], &[]), "BestEffort", 1 << 30);
        assert_eq!(resources.cpu_shares, 2);
        assert_eq!(resources.cpu_quota, 0);
        assert_eq!(resources.cpu_period, 0);
        assert_eq!(resources.memory_limit_in_bytes, 0);
        assert_eq!(resources.oom_score_adj, 1000);
    }

    #[test]
    fn burstable_score_scales_with_memory_request() {
        assert_eq!(oom_score_adj("Burstable", 256 << 20, 1 << 30), 750);
        assert_eq!(oom_score_adj("Burstable", 0, 1 << 30), 999);
        assert_eq!(oom_score_adj("Burstable", 1 << 30, 1 << 30), 3);
        let resources = linux_resources(&container(&[("cpu", "1m")], &[]), "Burstable", 1 << 30);
        assert_eq!(resources.cpu_shares, 2, "floor of 2 shares");
    }
}
