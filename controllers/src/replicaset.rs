//! ReplicaSet controller: keeps `spec.replicas` pods matching the selector, owned by the set.
//!
//! Upstream semantics: pods are created from the template with `generateName: <set>-` and a
//! controller ownerReference; orphans matching the selector are adopted, owned pods that stop
//! matching are released; surplus pods are deleted worst-first (unscheduled, pending, not ready,
//! youngest). *Expectations* stop the controller from acting twice on the same gap while its own
//! creates and deletes travel back through the watch. Status (`replicas`, `readyReplicas`,
//! `availableReplicas`, `fullyLabeledReplicas`, `observedGeneration`) is written through the
//! status subresource.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

/// How long unmet expectations hold back a sync (upstream: 5 minutes; ours recover sooner).
const EXPECTATIONS_TTL: Duration = Duration::from_secs(30);
const RESYNC: Duration = Duration::from_secs(30);

/// Runs the controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let (rs_reader, rs_writer) = reflector::store::<ReplicaSet>();
    let (pod_reader, pod_writer) = reflector::store::<Pod>();
    let (tx, mut rx) = mpsc::unbounded_channel::<ObjectRef<ReplicaSet>>();

    let rs_tx = tx.clone();
    let sets = watcher(Api::<ReplicaSet>::all(client.clone()), watcher::Config::default()).default_backoff().reflect(rs_writer);
    tokio::spawn(sets.for_each(move |e| {
        if let Ok(watcher::Event::Apply(rs) | watcher::Event::InitApply(rs)) = e {
            let _ = rs_tx.send(ObjectRef::from_obj(&rs));
        }
        std::future::ready(())
    }));
    let expectations: Arc<Mutex<HashMap<String, Expectation>>> = Arc::default();
    let (pod_tx, pod_rs_reader, pod_expectations) = (tx.clone(), rs_reader.clone(), expectations.clone());
    let pods = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()).default_backoff().reflect(pod_writer);
    tokio::spawn(pods.for_each(move |e| {
        let (pod, deleted) = match e {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => (p, false),
            Ok(watcher::Event::Delete(p)) => (p, true),
            _ => return futures::future::Either::Left(std::future::ready(())),
        };
        let (tx, sets, expectations) = (pod_tx.clone(), pod_rs_reader.clone(), pod_expectations.clone());
        futures::future::Either::Right(async move {
            if let Some(owner) = controller_of(&pod) {
                let mut exp = expectations.lock().await;
                if let Some(e) = exp.get_mut(&owner.uid) {
                    if deleted {
                        e.deletes.remove(&pod.uid().unwrap_or_default());
                    } else if pod.metadata.deletion_timestamp.is_none() && pod.metadata.resource_version.is_some() {
                        e.adds = e.adds.saturating_sub(usize::from(e.seen.insert(pod.uid().unwrap_or_default())));
                    }
                }
            }
            // Wake every set in the pod's namespace whose selector might care.
            let ns = pod.namespace();
            for rs in sets.state() {
                if rs.namespace() == ns {
                    let _ = tx.send(ObjectRef::from_obj(&*rs));
                }
            }
        })
    }));

    let _ = tokio::join!(rs_reader.wait_until_ready(), pod_reader.wait_until_ready());
    let ctl = Controller { client, sets: rs_reader, pods: pod_reader, expectations };
    let mut resync = tokio::time::interval(RESYNC);
    loop {
        let mut batch: HashSet<ObjectRef<ReplicaSet>> = HashSet::new();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = rx.recv() => match r { Some(r) => { batch.insert(r); } None => return },
            _ = resync.tick() => batch.extend(ctl.sets.state().iter().map(|rs| ObjectRef::from_obj(&**rs))),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok(r) = rx.try_recv() {
            batch.insert(r);
        }
        for r in batch {
            if let Some(rs) = ctl.sets.get(&r) {
                if let Err(e) = ctl.sync(&rs).await {
                    tracing::debug!(replicaset = %r, error = %e, "sync failed; will retry");
                }
            }
        }
    }
}

#[derive(Default)]
struct Expectation {
    adds: usize,
    seen: HashSet<String>,
    deletes: HashSet<String>,
    since: Option<Instant>,
}

impl Expectation {
    fn satisfied(&self) -> bool {
        (self.adds == 0 && self.deletes.is_empty()) || self.since.is_none_or(|t| t.elapsed() > EXPECTATIONS_TTL)
    }
}

struct Controller {
    client: Client,
    sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    expectations: Arc<Mutex<HashMap<String, Expectation>>>,
}

/// The controller ownerReference of an object, if any.
pub fn controller_of<K: Resource>(obj: &K) -> Option<OwnerReference> {
    obj.meta().owner_references.as_ref()?.iter().find(|o| o.controller == Some(true)).cloned()
}

/// Whether `labels` satisfy a LabelSelector (matchLabels and matchExpressions).
pub fn selector_matches(selector: &LabelSelector, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let labels_ok = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    let empty = selector.match_labels.as_ref().is_none_or(|m| m.is_empty()) && selector.match_expressions.as_ref().is_none_or(|m| m.is_empty());
    !empty && labels_ok && exprs_ok
}

/// A pod counts toward replicas while it is neither terminating nor finished.
pub fn is_active(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none() && !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// Whether a pod has `Ready=True`.
pub fn is_ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether a pod has been ready for at least `min_ready_seconds`.
pub fn is_available(p: &Pod, min_ready_seconds: i32, now: k8s_openapi::jiff::Timestamp) -> bool {
    if !is_ready(p) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    let since = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0);
    since.is_some_and(|t| now.duration_since(t).as_secs() >= i64::from(min_ready_seconds))
}

fn owner_ref(rs: &ReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: rs.name_any(),
        uid: rs.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Deletion preference, worst first: unscheduled, pending, not ready, then the youngest.
fn deletion_rank(p: &Pod) -> (u8, u8, u8, std::cmp::Reverse<Option<k8s_openapi::jiff::Timestamp>>) {
    let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
    let pending = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
    (u8::from(scheduled), u8::from(!pending), u8::from(is_ready(p)), std::cmp::Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0)))
}

impl Controller {
    async fn sync(&self, rs: &ReplicaSet) -> Result<(), kube::Error> {
        let ns = rs.namespace().unwrap_or_default();
        let uid = rs.uid().unwrap_or_default();
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let Some(spec) = rs.spec.as_ref() else { return Ok(()) };
        let deleting = rs.metadata.deletion_timestamp.is_some();

        // Claim: adopt matching orphans, release owned pods that no longer match.
        let mut owned: Vec<Pod> = Vec::new();
        for pod in self.pods.state().iter().filter(|p| p.namespace().as_deref() == Some(ns.as_str())) {
            let labels = pod.labels();
            let matches = selector_matches(&spec.selector, labels);
            match controller_of(&**pod) {
                Some(o) if o.uid == uid => {
                    if matches {
                        owned.push((**pod).clone());
                    } else if !deleting {
                        let kept: Vec<OwnerReference> = pod.owner_references().iter().filter(|o| o.uid != uid).cloned().collect();
                        let patch = json!({ "metadata": { "ownerReferences": kept, "uid": pod.uid() } });
                        pods_api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
                    }
                }
                None if matches && !deleting && is_active(pod) => {
                    let mut refs = pod.owner_references().to_vec();
                    refs.push(owner_ref(rs));
                    let patch = json!({ "metadata": { "ownerReferences": refs, "uid": pod.uid() } });
                    pods_api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
                    owned.push((**pod).clone());
                }
                _ => {}
            }
        }
        let active: Vec<&Pod> = owned.iter().filter(|p| is_active(p)).collect();

        let ready_to_act = self.expectations.lock().await.get(&uid).is_none_or(Expectation::satisfied);
        if ready_to_act && !deleting {
            let want = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
            if active.len() < want {
                let n = want - active.len();
                self.expectations.lock().await.insert(uid.clone(), Expectation { adds: n, since: Some(Instant::now()), ..Default::default() });
                let template = spec.template.clone().unwrap_or_default();
                for _ in 0..n {
                    let pod = Pod {
                        metadata: kube::api::ObjectMeta {
                            generate_name: Some(format!("{}-", rs.name_any())),
                            namespace: Some(ns.clone()),
                            labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                            annotations: template.metadata.as_ref().and_then(|m| m.annotations.clone()),
                            owner_references: Some(vec![owner_ref(rs)]),
                            ..Default::default()
                        },
                        spec: template.spec.clone(),
                        status: None,
                    };
                    if let Err(e) = pods_api.create(&PostParams::default(), &pod).await {
                        if let Some(exp) = self.expectations.lock().await.get_mut(&uid) {
                            exp.adds = exp.adds.saturating_sub(1);
                        }
                        return Err(e);
                    }
                }
            } else if active.len() > want {
                let mut victims: Vec<&Pod> = active.clone();
                victims.sort_by_key(|p| deletion_rank(p));
                victims.truncate(active.len() - want);
                let deletes: HashSet<String> = victims.iter().filter_map(|p| p.uid()).collect();
                self.expectations.lock().await.insert(uid.clone(), Expectation { deletes, since: Some(Instant::now()), ..Default::default() });
                for p in victims {
                    match pods_api.delete(&p.name_any(), &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }

        // Status.
        let now = k8s_openapi::jiff::Timestamp::now();
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let template_labels = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
        let status = json!({
            "replicas": active.len(),
            "fullyLabeledReplicas": active.iter().filter(|p| template_labels.iter().all(|(k, v)| p.labels().get(k) == Some(v))).count(),
            "readyReplicas": active.iter().filter(|p| is_ready(p)).count(),
            "availableReplicas": active.iter().filter(|p| is_available(p, min_ready, now)).count(),
            "observedGeneration": rs.metadata.generation,
        });
        let current = serde_json::to_value(rs.status.clone().unwrap_or_default()).unwrap_or_default();
        let changed = ["replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"]
            .iter()
            .any(|k| current.get(k).cloned().unwrap_or(json!(0)) != status.get(k).cloned().unwrap_or(json!(0)));
        if changed && !deleting {
            let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
            api.patch_status(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&json!({ "status": status }))).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn selector(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector { match_labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()), match_expressions: None }
    }

    #[test]
    fn selectors_match_labels_and_never_match_when_empty() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string()), ("tier".to_string(), "fe".to_string())].into();
        assert!(selector_matches(&selector(&[("app", "web")]), &labels));
        assert!(!selector_matches(&selector(&[("app", "db")]), &labels));
        assert!(!selector_matches(&LabelSelector::default(), &labels), "an empty selector selects nothing for controllers");
    }

    #[test]
    fn deletion_prefers_unscheduled_then_not_ready_then_young() {
        let pod = |name: &str, node: Option<&str>, ready: bool, created: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": { "name": name, "creationTimestamp": created },
                "spec": { "containers": [], "nodeName": node },
                "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] }
            }))
            .expect("pod")
        };
        let mut pods = [
            pod("old-ready", Some("n"), true, "2026-01-01T00:00:00Z"),
            pod("young-ready", Some("n"), true, "2026-01-02T00:00:00Z"),
            pod("not-ready", Some("n"), false, "2026-01-01T00:00:00Z"),
            pod("unscheduled", None, false, "2026-01-01T00:00:00Z"),
        ];
        pods.sort_by_key(deletion_rank);
        let order: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
        assert_eq!(order, ["unscheduled", "not-ready", "young-ready", "old-ready"]);
    }
}
