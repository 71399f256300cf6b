//! The scheduler: places pods with `schedulerName: default-scheduler` on nodes.
//!
//! Like kube-scheduler it is only an API client. Two reflectors keep pods and nodes in memory;
//! every pending pod goes through the filters and scores of [`plugins`], and the best node is
//! bound through the `pods/binding` subresource (the API server then sets `spec.nodeName` and the
//! `PodScheduled` condition). A bound pod is *assumed* on its node until the watch shows it
//! there, so back-to-back pods see each other's requests. Pods that fit nowhere get
//! `PodScheduled=False` with upstream's `0/N nodes are available: ...` message and a
//! `FailedScheduling` event, and are retried whenever a node or pod changes (and once a minute).

pub mod plugins;
pub mod quantity;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use corten_apimachinery::events;
use corten_apimachinery::time::now_rfc3339;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The scheduler name this scheduler serves.
pub const SCHEDULER_NAME: &str = "default-scheduler";
const RETRY_UNSCHEDULABLE: Duration = Duration::from_secs(60);

/// What changed in the cluster, as seen by the scheduling loop.
enum Signal {
    /// A pod may need scheduling (namespace, name).
    Pod(String, String),
    /// Something freed or added capacity: retry the unschedulable pods.
    ClusterChanged,
}

/// Runs the scheduler until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let (pod_reader, pod_writer) = reflector::store::<Pod>();
    let (node_reader, node_writer) = reflector::store::<Node>();
    let (tx, mut rx) = mpsc::unbounded_channel();

    let pods = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()).default_backoff().reflect(pod_writer);
    let nodes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default()).default_backoff().reflect(node_writer);
    let pod_tx = tx.clone();
    tokio::spawn(pods.for_each(move |event| {
        match event {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => {
                if is_pending(&p) {
                    let _ = pod_tx.send(Signal::Pod(p.namespace().unwrap_or_default(), p.name_any()));
                } else if p.metadata.deletion_timestamp.is_some() || is_finished(&p) {
                    let _ = pod_tx.send(Signal::ClusterChanged);
                }
            }
            Ok(watcher::Event::Delete(_)) => {
                let _ = pod_tx.send(Signal::ClusterChanged);
            }
            _ => {}
        }
        std::future::ready(())
    }));
    let node_tx = tx.clone();
    tokio::spawn(nodes.for_each(move |event| {
        if matches!(event, Ok(watcher::Event::Apply(_) | watcher::Event::InitDone)) {
            let _ = node_tx.send(Signal::ClusterChanged);
        }
        std::future::ready(())
    }));

    let _ = tokio::join!(pod_reader.wait_until_ready(), node_reader.wait_until_ready());
    let mut scheduler = Scheduler { client, pods: pod_reader, nodes: node_reader, assumed: HashMap::new(), unschedulable: HashSet::new() };
    let mut retry = tokio::time::interval(RETRY_UNSCHEDULABLE);
    loop {
        let signal = tokio::select! {
            _ = shutdown.cancelled() => return,
            s = rx.recv() => match s { Some(s) => s, None => return },
            _ = retry.tick() => Signal::ClusterChanged,
        };
        let mut queue: Vec<(String, String)> = Vec::new();
        let mut retry_all = false;
        let mut push = |s: Signal, queue: &mut Vec<(String, String)>| match s {
            Signal::Pod(ns, name) => queue.push((ns, name)),
            Signal::ClusterChanged => retry_all = true,
        };
        push(signal, &mut queue);
        while let Ok(s) = rx.try_recv() {
            push(s, &mut queue);
        }
        if retry_all {
            queue.extend(scheduler.unschedulable.drain());
        }
        let mut seen = HashSet::new();
        queue.retain(|k| seen.insert(k.clone()));
        for (ns, name) in queue {
            scheduler.schedule_one(&ns, &name).await;
        }
    }
}

fn is_pending(p: &Pod) -> bool {
    let spec = p.spec.as_ref();
    spec.is_some_and(|s| s.node_name.as_deref().unwrap_or("").is_empty())
        && spec.and_then(|s| s.scheduler_name.as_deref()).unwrap_or(SCHEDULER_NAME) == SCHEDULER_NAME
        && p.metadata.deletion_timestamp.is_none()
        && spec.and_then(|s| s.scheduling_gates.as_ref()).is_none_or(Vec::is_empty)
}

fn is_finished(p: &Pod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

struct Scheduler {
    client: Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    /// Pods bound by us that the watch has not shown on their node yet: uid → node.
    assumed: HashMap<String, (String, Pod)>,
    unschedulable: HashSet<(String, String)>,
}

impl Scheduler {
    async fn schedule_one(&mut self, ns: &str, name: &str) {
        let Some(pod) = self.pods.find(|p| p.namespace().as_deref() == Some(ns) && p.name_any() == name).map(|p| (*p).clone()) else { return };
        if !is_pending(&pod) {
            return;
        }
        let uid = pod.uid().unwrap_or_default();
        if self.assumed.contains_key(&uid) {
            return;
        }
        // Forget assumptions the watch has caught up with.
        let all_pods = self.pods.state();
        let bound: HashSet<String> = all_pods.iter().filter(|p| !is_pending(p)).filter_map(|p| p.uid()).collect();
        self.assumed.retain(|uid, _| !bound.contains(uid));

        let mut by_node: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
        for p in all_pods.iter().filter(|p| !is_finished(p)) {
            if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) {
                by_node.entry(node).or_default().push((**p).clone());
            }
        }
        for (node, p) in self.assumed.values() {
            by_node.entry(node.clone()).or_default().push(p.clone());
        }

        let nodes = self.nodes.state();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut best: Vec<(u64, String)> = Vec::new();
        for node in nodes.iter() {
            let node_name = node.name_any();
            let on_node: Vec<&Pod> = by_node.get(&node_name).map(|v| v.iter().collect()).unwrap_or_default();
            let used = plugins::requested(&on_node);
            match plugins::filter(&pod, node, &on_node, used) {
                Ok(()) => best.push((plugins::score(&pod, node, used), node_name)),
                Err(unfit) => *reasons.entry(unfit.to_string()).or_default() += 1,
            }
        }
        let top = best.iter().map(|(s, _)| *s).max();
        let candidates: Vec<&String> = best.iter().filter(|(s, _)| Some(*s) == top).map(|(_, n)| n).collect();
        let chosen = if candidates.is_empty() { None } else { Some(candidates[rand::random_range(0..candidates.len())].clone()) };
        match chosen {
            Some(node) => match self.bind(&pod, &node).await {
                Ok(()) => {
                    self.assumed.insert(uid, (node.clone(), pod.clone()));
                    self.event(&pod, "Normal", "Scheduled", &format!("Successfully assigned {ns}/{name} to {node}")).await;
                }
                Err(e) => {
                    tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "binding failed");
                    self.unschedulable.insert((ns.to_string(), name.to_string()));
                }
            },
            None => {
                let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                parts.sort();
                let message = if nodes.is_empty() {
                    "no nodes available to schedule pods".to_string()
                } else {
                    format!("0/{} nodes are available: {}.", nodes.len(), parts.join(", "))
                };
                self.mark_unschedulable(&pod, &message).await;
                self.unschedulable.insert((ns.to_string(), name.to_string()));
            }
        }
    }

    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": { "name": pod.name_any(), "uid": pod.uid() },
            "target": { "apiVersion": "v1", "kind": "Node", "name": node },
        });
        let _: serde_json::Value = api.create_subresource("binding", &pod.name_any(), &PostParams::default(), &binding).await?;
        Ok(())
    }

    async fn mark_unschedulable(&self, pod: &Pod, message: &str) {
        let already = pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
            c.iter().any(|c| c.type_ == "PodScheduled" && c.status == "False" && c.message.as_deref() == Some(message))
        });
        if already {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let patch = json!({ "status": { "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastTransitionTime": now_rfc3339(), "lastProbeTime": null,
        }] } });
        if let Err(e) = api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch)).await {
            tracing::debug!(error = %e, "recording PodScheduled=False failed");
        }
        self.event(pod, "Warning", "FailedScheduling", message).await;
    }

    /// Records a core/v1 Event about the pod, as kubectl describe shows them.
    async fn event(&self, pod: &Pod, type_: &str, reason: &str, message: &str) {
        let reporter = events::Reporter { component: SCHEDULER_NAME, instance: SCHEDULER_NAME, host: None };
        let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        match events::pod_event(pod, None, reporter, type_, reason, message) {
            Ok(e) => {
                if let Err(err) = api.create(&PostParams::default(), &e).await {
                    tracing::debug!(error = %err, "recording event failed");
                }
            }
            Err(err) => tracing::debug!(error = %err, "building event failed"),
        }
    }
}

