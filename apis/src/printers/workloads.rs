//! Printers for the workload kinds: apps (deployments, replica sets, stateful sets, daemon
//! sets, controller revisions), batch (jobs, cron jobs), autoscaling and policy.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::{
    age, bool_text, col, containers_and_images, deleting, format_labels, format_selector, int, items, name, selector_string,
    since, text, text_or, timestamp, wide, Column, Printer, AGE, NAME,
};

pub(super) fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    Some(match (group, kind) {
        ("apps", "Deployment") => &DEPLOYMENT,
        ("apps", "ReplicaSet") => &REPLICA_SET,
        ("apps", "StatefulSet") => &STATEFUL_SET,
        ("apps", "DaemonSet") => &DAEMON_SET,
        ("apps", "ControllerRevision") => &CONTROLLER_REVISION,
        ("batch", "Job") => &JOB,
        ("batch", "CronJob") => &CRON_JOB,
        ("autoscaling", "HorizontalPodAutoscaler") => &HORIZONTAL_POD_AUTOSCALER,
        ("policy", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        _ => return None,
    })
}

const CONTAINERS: Column = wide("Containers", "string", "Names of the containers in the pod template.");
const IMAGES: Column = wide("Images", "string", "Images of the containers in the pod template.");
const SELECTOR: Column = wide("Selector", "string", "Label selector of the pods.");

/// `spec.replicas`, which the API server defaults to 1.
fn desired_replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

fn template_containers(obj: &Value) -> (String, String) {
    containers_and_images(items(obj, "/spec/template/spec/containers"))
}

static DEPLOYMENT: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready pods out of desired pods."),
        col("Up-to-date", "string", "Pods running the latest pod template."),
        col("Available", "string", "Pods available to serve."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let (names, images) = template_containers(obj);
        vec![
            json!(name(obj)),
            json!(format!("{}/{}", int(obj, "/status/readyReplicas"), desired_replicas(obj))),
            json!(int(obj, "/status/updatedReplicas")),
            json!(int(obj, "/status/availableReplicas")),
            age(obj, now),
            json!(names),
            json!(images),
            json!(selector_string(obj.pointer("/spec/selector"))),
        ]
    },
};

static REPLICA_SET: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "Desired number of pods."),
        col("Current", "integer", "Number of pods that exist."),
        col("Ready", "integer", "Number of ready pods."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let (names, images) = template_containers(obj);
        vec![
            json!(name(obj)),
            json!(desired_replicas(obj)),
            json!(int(obj, "/status/replicas")),
            json!(int(obj, "/status/readyReplicas")),
            age(obj, now),
            json!(names),
            json!(images),
            json!(format_selector(obj.pointer("/spec/selector"))),
        ]
    },
};

static STATEFUL_SET: Printer = Printer {
    columns: &[NAME, col("Ready", "string", "Ready pods out of desired pods."), AGE, CONTAINERS, IMAGES],
    cells: |obj, now| {
        let (names, images) = template_containers(obj);
        vec![
            json!(name(obj)),
            json!(format!("{}/{}", int(obj, "/status/readyReplicas"), desired_replicas(obj))),
            age(obj, now),
            json!(names),
            json!(images),
        ]
    },
};

static DAEMON_SET: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "Nodes that should run the daemon pod."),
        col("Current", "integer", "Nodes running at least one daemon pod."),
        col("Ready", "integer", "Nodes whose daemon pod is ready."),
        col("Up-to-date", "integer", "Nodes running the latest daemon pod template."),
        col("Available", "integer", "Nodes whose daemon pod is available."),
        col("Node Selector", "string", "Node selector of the pod template."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let (names, images) = template_containers(obj);
        vec![
            json!(name(obj)),
            json!(int(obj, "/status/desiredNumberScheduled")),
            json!(int(obj, "/status/currentNumberScheduled")),
            json!(int(obj, "/status/numberReady")),
            json!(int(obj, "/status/updatedNumberScheduled")),
            json!(int(obj, "/status/numberAvailable")),
            json!(format_labels(obj.pointer("/spec/template/spec/nodeSelector"))),
            age(obj, now),
            json!(names),
            json!(images),
            json!(format_selector(obj.pointer("/spec/selector"))),
        ]
    },
};

static CONTROLLER_REVISION: Printer = Printer {
    columns: &[
        NAME,
        col("Controller", "string", "The object that owns the revision."),
        col("Revision", "string", "Revision number."),
        AGE,
    ],
    cells: |obj, now| {
        let owner = items(obj, "/metadata/ownerReferences").iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true));
        let controller = owner.map_or_else(
            || "<none>".to_string(),
            |r| {
                let kind = text(r, "/kind");
                let group = text(r, "/apiVersion").rsplit_once('/').map_or("", |(g, _)| g);
                let group_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
                if group_kind.is_empty() {
                    text(r, "/name").to_string()
                } else {
                    format!("{}/{}", group_kind.to_lowercase(), text(r, "/name"))
                }
            },
        );
        vec![json!(name(obj)), json!(controller), json!(int(obj, "/revision")), age(obj, now)]
    },
};

// ---- batch ----------------------------------------------------------------------------------

fn condition_true(obj: &Value, type_: &str) -> bool {
    items(obj, "/status/conditions").iter().find(|c| text(c, "/type") == type_).is_some_and(|c| text(c, "/status") == "True")
}

static JOB: Printer = Printer {
    columns: &[
        NAME,
        col("Status", "string", "Complete, Failed, Suspended, Running, ..."),
        col("Completions", "string", "Succeeded pods out of required completions."),
        col("Duration", "string", "How long the job ran (or has been running)."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: job_cells,
};

fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(job, "/status/succeeded");
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(job, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (timestamp(job, "/status/startTime"), timestamp(job, "/status/completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => since(Some(start), now),
        (Some(start), Some(end)) => since(Some(start), end),
    };
    let status = if condition_true(job, "Complete") {
        "Complete"
    } else if condition_true(job, "Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if condition_true(job, "Suspended") {
        "Suspended"
    } else if condition_true(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = template_containers(job);
    vec![
        json!(name(job)),
        json!(status),
        json!(completions),
        json!(duration),
        age(job, now),
        json!(names),
        json!(images),
        json!(format_selector(job.pointer("/spec/selector"))),
    ]
}

static CRON_JOB: Printer = Printer {
    columns: &[
        NAME,
        col("Schedule", "string", "Cron schedule of the job."),
        col("Timezone", "string", "Time zone of the schedule."),
        col("Suspend", "boolean", "Whether new runs are suspended."),
        col("Active", "integer", "Number of running jobs."),
        col("Last Schedule", "string", "Time since a job was last scheduled."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let last = match timestamp(obj, "/status/lastScheduleTime") {
            Some(t) => since(Some(t), now),
            None => "<none>".to_string(),
        };
        let (names, images) = containers_and_images(items(obj, "/spec/jobTemplate/spec/template/spec/containers"));
        vec![
            json!(name(obj)),
            json!(text(obj, "/spec/schedule")),
            json!(text_or(obj, "/spec/timeZone", "<none>")),
            json!(bool_text(obj.pointer("/spec/suspend"))),
            super::count(items(obj, "/status/active").len()),
            json!(last),
            age(obj, now),
            json!(names),
            json!(images),
            json!(format_selector(obj.pointer("/spec/jobTemplate/spec/selector"))),
        ]
    },
};

// ---- autoscaling, policy --------------------------------------------------------------------

static HORIZONTAL_POD_AUTOSCALER: Printer = Printer {
    columns: &[
        NAME,
        col("Reference", "string", "The scaled object."),
        col("Targets", "string", "Current and target values of the metrics."),
        col("MinPods", "string", "Lower bound on replicas."),
        col("MaxPods", "string", "Upper bound on replicas."),
        col("Replicas", "string", "Current number of replicas."),
        AGE,
    ],
    cells: |obj, now| {
        let reference = format!("{}/{}", text(obj, "/spec/scaleTargetRef/kind"), text(obj, "/spec/scaleTargetRef/name"));
        let min = obj.pointer("/spec/minReplicas").and_then(Value::as_i64).map_or_else(|| "<unset>".to_string(), |m| m.to_string());
        vec![
            json!(name(obj)),
            json!(reference),
            json!(hpa_targets(items(obj, "/spec/metrics"), items(obj, "/status/currentMetrics"))),
            json!(min),
            json!(int(obj, "/spec/maxReplicas")),
            json!(int(obj, "/status/currentReplicas")),
            age(obj, now),
        ]
    },
};

/// One `current/target` entry per metric (at most two, then `+ N more...`).
fn hpa_targets(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let quantity = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let percent = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_i64).map(|n| format!("{n}%"));
    let unknown = || "<unknown>".to_string();
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let status = statuses.get(i);
            let (source, status_field) = match text(spec, "/type") {
                "External" => ("external", "external"),
                "Pods" => ("pods", "pods"),
                "Object" => ("object", "object"),
                "Resource" => ("resource", "resource"),
                "ContainerResource" => ("containerResource", "containerResource"),
                _ => return "<unknown type>".to_string(),
            };
            let spec_source = spec.get(source).unwrap_or(&Value::Null);
            let current = status.and_then(|s| s.get(status_field)).filter(|c| c.is_object());
            let target_avg = quantity(spec_source, "/target/averageValue");
            match source {
                "pods" => {
                    let cur = current.and_then(|c| quantity(c, "/current/averageValue")).unwrap_or_else(unknown);
                    format!("{cur}/{}", target_avg.unwrap_or_default())
                }
                "external" | "object" => match target_avg {
                    Some(target) => {
                        let cur = current.and_then(|c| quantity(c, "/current/averageValue")).unwrap_or_else(unknown);
                        format!("{cur}/{target} (avg)")
                    }
                    None => {
                        let cur = current.and_then(|c| quantity(c, "/current/value")).unwrap_or_else(unknown);
                        format!("{cur}/{}", quantity(spec_source, "/target/value").unwrap_or_default())
                    }
                },
                _ => {
                    let resource = text(spec_source, "/name");
                    match target_avg {
                        Some(target) => {
                            let cur = current.and_then(|c| quantity(c, "/current/averageValue")).unwrap_or_else(unknown);
                            format!("{resource}: {cur}/{target}")
                        }
                        None => {
                            let cur = current.and_then(|c| percent(c, "/current/averageUtilization")).unwrap_or_else(unknown);
                            let target =
                                percent(spec_source, "/target/averageUtilization").unwrap_or_else(|| "<auto>".to_string());
                            format!("{resource}: {cur}/{target}")
                        }
                    }
                }
            }
        })
        .collect();
    let shown = list.iter().take(2).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > 2 {
        format!("{shown} + {} more...", list.len() - 2)
    } else {
        shown
    }
}

/// An int-or-string field as text, `N/A` when absent.
fn int_or_string(obj: &Value, pointer: &str) -> String {
    match obj.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "N/A".to_string(),
    }
}

static POD_DISRUPTION_BUDGET: Printer = Printer {
    columns: &[
        NAME,
        col("Min Available", "string", "Pods that must stay available."),
        col("Max Unavailable", "string", "Pods that may be unavailable."),
        col("Allowed Disruptions", "integer", "Pods that may be disrupted now."),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            json!(name(obj)),
            json!(int_or_string(obj, "/spec/minAvailable")),
            json!(int_or_string(obj, "/spec/maxUnavailable")),
            json!(int(obj, "/status/disruptionsAllowed")),
            age(obj, now),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-06-01T12:00:00Z".parse().expect("timestamp")
    }

    #[test]
    fn deployment_ready_and_wide_columns() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-05-30T12:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}, {"name": "side", "image": "busybox"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!((DEPLOYMENT.cells)(&d, now()), vec![
            json!("web"), json!("2/3"), json!(3), json!(2), json!("2d"),
            json!("nginx,side"), json!("nginx:1,busybox"), json!("app=web"),
        ]);
    }

    #[test]
    fn job_status_completions_and_duration() {
        let job = json!({
            "metadata": {"name": "pi", "creationTimestamp": "2024-06-01T11:00:00Z"},
            "spec": {"completions": 3, "template": {"spec": {"containers": []}}},
            "status": {"succeeded": 3, "startTime": "2024-06-01T11:00:00Z", "completionTime": "2024-06-01T11:01:05Z",
                "conditions": [{"type": "Complete", "status": "True"}]},
        });
        let cells = job_cells(&job, now());
        assert_eq!(cells[1..5], [json!("Complete"), json!("3/3"), json!("65s"), json!("60m")]);

        let running = json!({"spec": {"parallelism": 2}, "status": {"startTime": "2024-06-01T11:57:00Z"}});
        let cells = job_cells(&running, now());
        assert_eq!(cells[1..4], [json!("Running"), json!("0/1 of 2"), json!("3m")]);
    }

    #[test]
    fn cron_job_defaults() {
        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "*/5 * * * *", "suspend": false}});
        let cells = (CRON_JOB.cells)(&cj, now());
        assert_eq!(cells[1..6], [json!("*/5 * * * *"), json!("<none>"), json!("False"), json!(0), json!("<none>")]);
    }

    #[test]
    fn hpa_targets_render_per_metric_type() {
        let specs = json!([
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
            {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"averageValue": "100Mi"}}},
        ]);
        let statuses = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}]);
        let specs = specs.as_array().expect("array");
        let statuses = statuses.as_array().expect("array");
        assert_eq!(hpa_targets(specs, statuses), "cpu: 35%/80%, <unknown>/1k + 1 more...");
        assert_eq!(hpa_targets(&[], &[]), "<none>");
    }

    #[test]
    fn controller_revision_names_its_owner_by_group_kind() {
        let cr = json!({"metadata": {"name": "ds-1", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": true}]}, "revision": 2});
        assert_eq!((CONTROLLER_REVISION.cells)(&cr, now())[1..3], [json!("daemonset.apps/ds"), json!(2)]);
    }

    #[test]
    fn pdb_shows_int_or_string_bounds() {
        let pdb = json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!((POD_DISRUPTION_BUDGET.cells)(&pdb, now())[1..4], [json!("50%"), json!("N/A"), json!(1)]);
    }
}
