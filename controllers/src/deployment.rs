//! Deployment controller: rolls ReplicaSets toward the Deployment's template.
//!
//! Upstream semantics, in short. The *new* ReplicaSet is the one whose template equals the
//! Deployment's (ignoring the `pod-template-hash` label); it is created as `<name>-<hash>` with
//! that label added to its selector, template and labels, and carries the
//! `deployment.kubernetes.io/revision` annotation (one more than any other set; a rollback to an
//! old template re-uses that set and gives it the next revision, which is what `kubectl rollout
//! undo` relies on). `RollingUpdate` grows the new set while the total stays within
//! `replicas + maxSurge` and shrinks old sets while at least `replicas - maxUnavailable` pods stay
//! available; `Recreate` scales old sets to zero first. Old sets at zero beyond
//! `revisionHistoryLimit` are deleted. Status carries the replica counts and the `Available` and
//! `Progressing` conditions (with `ProgressDeadlineExceeded`) that `kubectl rollout status` reads.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use corten_apimachinery::time::now_rfc3339;
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::replicaset::{controller_of, selector_matches};

/// The label that tells a Deployment's ReplicaSets apart.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The revision annotation on Deployments and their ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const RESYNC: Duration = Duration::from_secs(15);

/// Runs the controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let (d_reader, d_writer) = reflector::store::<Deployment>();
    let (rs_reader, rs_writer) = reflector::store::<ReplicaSet>();
    let (tx, mut rx) = mpsc::unbounded_channel::<ObjectRef<Deployment>>();
    let d_tx = tx.clone();
    let deployments = watcher(Api::<Deployment>::all(client.clone()), watcher::Config::default()).default_backoff().reflect(d_writer);
    tokio::spawn(deployments.for_each(move |e| {
        if let Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) = e {
            let _ = d_tx.send(ObjectRef::from_obj(&d));
        }
        std::future::ready(())
    }));
    let (rs_tx, rs_d_reader) = (tx.clone(), d_reader.clone());
    let sets = watcher(Api::<ReplicaSet>::all(client.clone()), watcher::Config::default()).default_backoff().reflect(rs_writer);
    tokio::spawn(sets.for_each(move |e| {
        if let Ok(watcher::Event::Apply(rs) | watcher::Event::InitApply(rs) | watcher::Event::Delete(rs)) = e {
            for d in rs_d_reader.state() {
                if d.namespace() == rs.namespace() {
                    let _ = rs_tx.send(ObjectRef::from_obj(&*d));
                }
            }
        }
        std::future::ready(())
    }));
    let _ = tokio::join!(d_reader.wait_until_ready(), rs_reader.wait_until_ready());
    let ctl = Controller { client, deployments: d_reader, sets: rs_reader };
    let mut resync = tokio::time::interval(RESYNC);
    loop {
        let mut batch: HashSet<ObjectRef<Deployment>> = HashSet::new();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = rx.recv() => match r { Some(r) => { batch.insert(r); } None => return },
            _ = resync.tick() => batch.extend(ctl.deployments.state().iter().map(|d| ObjectRef::from_obj(&**d))),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok(r) = rx.try_recv() {
            batch.insert(r);
        }
        for r in batch {
            if let Some(d) = ctl.deployments.get(&r) {
                if let Err(e) = ctl.sync(&d).await {
                    tracing::debug!(deployment = %r, error = %e, "sync failed; will retry");
                }
            }
        }
    }
}

struct Controller {
    client: Client,
    deployments: Store<Deployment>,
    sets: Store<ReplicaSet>,
}

/// A template without the hash label, as JSON, for comparison and hashing.
fn template_without_hash(template: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>) -> Value {
    let mut v = serde_json::to_value(template).unwrap_or_default();
    if let Some(labels) = v.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(HASH_LABEL);
    }
    v
}

/// A short, label-safe hash of the template (and the collision count), like upstream's.
pub fn template_hash(template: &Value, collision_count: i32) -> String {
    // FNV-1a: stable across Rust versions and restarts, unlike the std hasher.
    let mut n: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.to_string().bytes().chain(collision_count.to_le_bytes()) {
        n ^= u64::from(b);
        n = n.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.annotations().get(REVISION).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// Resolves maxSurge / maxUnavailable against the replica count (surge rounds up, unavailable
/// down; both zero means one may be unavailable).
pub fn resolve_rolling(replicas: i32, surge: Option<&IntOrString>, unavailable: Option<&IntOrString>) -> (i32, i32) {
    let resolve = |v: Option<&IntOrString>, default_percent: i32, round_up: bool| -> i32 {
        match v {
            Some(IntOrString::Int(i)) => *i,
            Some(IntOrString::String(s)) => {
                let p: i64 = s.trim_end_matches('%').parse().unwrap_or(i64::from(default_percent));
                let scaled = i64::from(replicas) * p;
                (if round_up { (scaled + 99) / 100 } else { scaled / 100 }) as i32
            }
            None => {
                let scaled = i64::from(replicas) * i64::from(default_percent);
                (if round_up { (scaled + 99) / 100 } else { scaled / 100 }) as i32
            }
        }
    };
    let surge = resolve(surge, 25, true).max(0);
    let mut unavailable = resolve(unavailable, 25, false).max(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

impl Controller {
    async fn sync(&self, d: &Deployment) -> Result<(), kube::Error> {
        if d.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let ns = d.namespace().unwrap_or_default();
        let uid = d.uid().unwrap_or_default();
        let Some(spec) = d.spec.as_ref() else { return Ok(()) };
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);

        // Claim ReplicaSets: owned ones, and orphans matching the selector.
        let mut owned: Vec<ReplicaSet> = Vec::new();
        for rs in self.sets.state().iter().filter(|rs| rs.namespace().as_deref() == Some(ns.as_str())) {
            match controller_of(&**rs) {
                Some(o) if o.uid == uid => owned.push((**rs).clone()),
                None if selector_matches(&spec.selector, rs.labels()) && rs.metadata.deletion_timestamp.is_none() => {
                    let mut refs = rs.owner_references().to_vec();
                    refs.push(owner_ref(d));
                    let patch = json!({ "metadata": { "ownerReferences": refs, "uid": rs.uid() } });
                    owned.push(rs_api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?);
                }
                _ => {}
            }
        }
        let wanted_template = template_without_hash(Some(&spec.template));
        let max_revision = owned.iter().map(revision_of).max().unwrap_or(0);
        let (mut new_rs, mut old): (Vec<ReplicaSet>, Vec<ReplicaSet>) =
            owned.into_iter().partition(|rs| template_without_hash(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == wanted_template);
        let replicas = spec.replicas.unwrap_or(1);
        let paused = spec.paused.unwrap_or(false);
        let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
        let rolling = spec.strategy.as_ref().and_then(|s| s.rolling_update.as_ref());
        let (max_surge, max_unavailable) = if recreate { (0, replicas) } else { resolve_rolling(replicas, rolling.and_then(|r| r.max_surge.as_ref()), rolling.and_then(|r| r.max_unavailable.as_ref())) };
        let mut created_new = None;

        let mut new_rs = match new_rs.pop() {
            Some(rs) => {
                // A rollback to an old template makes that set the newest revision again.
                if revision_of(&rs) < max_revision || rs.annotations().get(REVISION).is_none() {
                    let patch = json!({ "metadata": { "annotations": { REVISION: (max_revision.max(revision_of(&rs)) + i64::from(revision_of(&rs) < max_revision)).to_string() } } });
                    Some(rs_api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?)
                } else {
                    Some(rs)
                }
            }
            None if paused => None,
            None => {
                let collision = d.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
                let hash = template_hash(&wanted_template, collision);
                let old_total: i32 = old.iter().map(spec_replicas).sum();
                let initial = if recreate {
                    if old_total > 0 { 0 } else { replicas }
                } else {
                    (replicas + max_surge - old_total).clamp(0, replicas)
                };
                let rs = new_replica_set(d, &hash, max_revision + 1, initial, max_surge);
                match rs_api.create(&PostParams::default(), &rs).await {
                    Ok(rs) => {
                        created_new = Some(rs.name_any());
                        Some(rs)
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => {
                        // Same name, different template: bump the collision count and retry later.
                        let d_api: Api<Deployment> = Api::namespaced(self.client.clone(), &ns);
                        let patch = json!({ "status": { "collisionCount": collision + 1 } });
                        d_api.patch_status(&d.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        old.sort_by_key(|rs| (revision_of(rs), rs.metadata.creation_timestamp.as_ref().map(|t| t.0)));

        if !paused {
            if let Some(new) = new_rs.as_mut() {
                let old_active: i32 = old.iter().map(spec_replicas).sum();
                if recreate {
                    for rs in old.iter_mut().filter(|rs| spec_replicas(rs) > 0) {
                        *rs = scale(&rs_api, rs, 0, replicas, max_surge).await?;
                    }
                    let old_pods: i32 = old.iter().map(|rs| rs.status.as_ref().map_or(0, |s| s.replicas)).sum();
                    if old_pods == 0 && spec_replicas(new) != replicas {
                        *new = scale(&rs_api, new, replicas, replicas, max_surge).await?;
                    }
                } else if old_active == 0 {
                    if spec_replicas(new) != replicas {
                        *new = scale(&rs_api, new, replicas, replicas, max_surge).await?;
                    }
                } else {
                    // Scale up the new set within the surge budget.
                    let total: i32 = spec_replicas(new) + old_active;
                    let max_total = replicas + max_surge;
                    if total < max_total && spec_replicas(new) < replicas {
                        let target = (spec_replicas(new) + max_total - total).min(replicas);
                        *new = scale(&rs_api, new, target, replicas, max_surge).await?;
                    } else if spec_replicas(new) > replicas {
                        *new = scale(&rs_api, new, replicas, replicas, max_surge).await?;
                    }
                    // Scale down old sets while enough pods stay available: first pods that are
                    // not available anyway, then available ones, oldest sets first.
                    let min_available = replicas - max_unavailable;
                    let all_pods: i32 = spec_replicas(new) + old.iter().map(spec_replicas).sum::<i32>();
                    let new_unavailable = (spec_replicas(new) - available(new)).max(0);
                    let mut cleanup = all_pods - min_available - new_unavailable;
                    for rs in old.iter_mut() {
                        if cleanup <= 0 {
                            break;
                        }
                        let unhealthy = (spec_replicas(rs) - available(rs)).max(0).min(cleanup);
                        if unhealthy > 0 {
                            *rs = scale(&rs_api, rs, spec_replicas(rs) - unhealthy, replicas, max_surge).await?;
                            cleanup -= unhealthy;
                        }
                    }
                    let all_available: i32 = available(new) + old.iter().map(available).sum::<i32>();
                    let mut budget = (all_available - min_available).max(0);
                    for rs in old.iter_mut() {
                        if budget == 0 {
                            break;
                        }
                        let cut = spec_replicas(rs).min(available(rs)).min(budget);
                        if cut > 0 {
                            *rs = scale(&rs_api, rs, spec_replicas(rs) - cut, replicas, max_surge).await?;
                            budget -= cut;
                        }
                    }
                }
            }
            // History: delete the oldest empty sets beyond revisionHistoryLimit.
            let limit = usize::try_from(spec.revision_history_limit.unwrap_or(10).max(0)).unwrap_or(10);
            let empty: Vec<&ReplicaSet> = old.iter().filter(|rs| spec_replicas(rs) == 0 && rs.status.as_ref().is_none_or(|s| s.replicas == 0)).collect();
            if empty.len() > limit {
                for rs in &empty[..empty.len() - limit] {
                    match rs_api.delete(&rs.name_any(), &DeleteParams::background()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        self.update_status(d, new_rs.as_ref(), &old, max_unavailable, created_new).await
    }

    async fn update_status(&self, d: &Deployment, new: Option<&ReplicaSet>, old: &[ReplicaSet], max_unavailable: i32, created_new: Option<String>) -> Result<(), kube::Error> {
        let Some(spec) = d.spec.as_ref() else { return Ok(()) };
        let replicas = spec.replicas.unwrap_or(1);
        let all: Vec<&ReplicaSet> = new.into_iter().chain(old.iter()).collect();
        let sum = |f: &dyn Fn(&ReplicaSet) -> i32| all.iter().map(|rs| f(rs)).sum::<i32>();
        let status_replicas = sum(&|rs| rs.status.as_ref().map_or(0, |s| s.replicas));
        let updated = new.map_or(0, |rs| rs.status.as_ref().map_or(0, |s| s.replicas));
        let ready = sum(&|rs| rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0));
        let avail = sum(&available);
        let now = now_rfc3339();
        let old_conditions: Vec<Value> = serde_json::to_value(d.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default()).unwrap_or_default().as_array().cloned().unwrap_or_default();
        let find = |t: &str| old_conditions.iter().find(|c| c["type"] == t).cloned();
        let condition = |t: &str, status: &str, reason: &str, message: String| {
            let previous = find(t);
            let transition = previous
                .as_ref()
                .filter(|p| p["status"] == status)
                .and_then(|p| p.get("lastTransitionTime").cloned())
                .unwrap_or(json!(now));
            let update_time = previous
                .as_ref()
                .filter(|p| p["status"] == status && p["reason"] == reason && p["message"] == message.as_str())
                .and_then(|p| p.get("lastUpdateTime").cloned())
                .unwrap_or(json!(now));
            json!({ "type": t, "status": status, "reason": reason, "message": message, "lastTransitionTime": transition, "lastUpdateTime": update_time })
        };
        let available_condition = if avail >= replicas - max_unavailable {
            condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into())
        } else {
            condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.".into())
        };
        let new_name = new.map(|rs| rs.name_any()).unwrap_or_default();
        let complete = updated == replicas && status_replicas == replicas && avail == replicas && new.is_some();
        let progressing = if spec.paused.unwrap_or(false) {
            condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused".into())
        } else if complete {
            condition("Progressing", "True", "NewReplicaSetAvailable", format!("ReplicaSet \"{new_name}\" has successfully progressed."))
        } else if let Some(created) = created_new {
            condition("Progressing", "True", "NewReplicaSetCreated", format!("Created new replica set \"{created}\""))
        } else {
            let previous = find("Progressing");
            let deadline = i64::from(spec.progress_deadline_seconds.unwrap_or(600));
            let last_update = previous.as_ref().and_then(|p| p["lastUpdateTime"].as_str()).and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
            let stalled = last_update.is_some_and(|t| k8s_openapi::jiff::Timestamp::now().duration_since(t).as_secs() > deadline);
            let progressed = previous.as_ref().is_some_and(|p| p["status"] == "True") && d.status.as_ref().is_some_and(|s| s.updated_replicas.unwrap_or(0) != updated || s.available_replicas.unwrap_or(0) != avail);
            if stalled && !progressed && previous.as_ref().is_some_and(|p| p["reason"] != "NewReplicaSetAvailable") {
                condition("Progressing", "False", "ProgressDeadlineExceeded", format!("ReplicaSet \"{new_name}\" has timed out progressing."))
            } else if previous.as_ref().is_some_and(|p| p["reason"] == "ProgressDeadlineExceeded") && !progressed {
                previous.unwrap_or_default()
            } else {
                condition("Progressing", "True", "ReplicaSetUpdated", format!("ReplicaSet \"{new_name}\" is progressing."))
            }
        };
        // Conditions of other types (set by users or other tools) are kept, as upstream does.
        let mut conditions = vec![available_condition, progressing];
        conditions.extend(old_conditions.iter().filter(|c| !matches!(c["type"].as_str(), Some("Available" | "Progressing"))).cloned());
        let mut status = json!({
            "observedGeneration": d.metadata.generation,
            "replicas": status_replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": avail,
            "unavailableReplicas": (replicas - avail).max(0),
            "conditions": conditions,
        });
        if let Some(c) = d.status.as_ref().and_then(|s| s.collision_count) {
            status["collisionCount"] = json!(c);
        }
        let current = serde_json::to_value(d.status.clone().unwrap_or_default()).unwrap_or_default();
        let mut comparable = current.clone();
        for (k, v) in status.as_object().into_iter().flatten() {
            if k != "conditions" && comparable.get(k).is_none() && v == &json!(0) {
                comparable[k] = json!(0);
            }
        }
        let differs = status.as_object().into_iter().flatten().any(|(k, v)| comparable.get(k).unwrap_or(&json!(0)) != v);
        let d_api: Api<Deployment> = Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        if let Some(rev) = new.map(revision_of).filter(|r| *r > 0) {
            if d.annotations().get(REVISION) != Some(&rev.to_string()) {
                let patch = json!({ "metadata": { "annotations": { REVISION: rev.to_string() } } });
                d_api.patch(&d.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
            }
        }
        if differs {
            d_api.patch_status(&d.name_any(), &PatchParams::default(), &Patch::Merge(&json!({ "status": status }))).await?;
        }
        Ok(())
    }
}

async fn scale(api: &Api<ReplicaSet>, rs: &ReplicaSet, to: i32, desired: i32, surge: i32) -> Result<ReplicaSet, kube::Error> {
    let patch = json!({
        "metadata": { "annotations": { "deployment.kubernetes.io/desired-replicas": desired.to_string(), "deployment.kubernetes.io/max-replicas": (desired + surge).to_string() } },
        "spec": { "replicas": to },
    });
    api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await
}

fn owner_ref(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: d.name_any(),
        uid: d.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn new_replica_set(d: &Deployment, hash: &str, revision: i64, replicas: i32, surge: i32) -> ReplicaSet {
    let spec = d.spec.clone().unwrap_or_default();
    let mut template = spec.template.clone();
    let mut template_meta = template.metadata.take().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = template_meta.labels.take().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.into());
    template_meta.labels = Some(labels.clone());
    template.metadata = Some(template_meta);
    let mut selector = spec.selector.clone();
    selector.match_labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash.into());
    let mut annotations: BTreeMap<String, String> = d.annotations().iter().filter(|(k, _)| k.as_str() != REVISION && k.as_str() != "kubectl.kubernetes.io/last-applied-configuration").map(|(k, v)| (k.clone(), v.clone())).collect();
    annotations.insert(REVISION.into(), revision.to_string());
    annotations.insert("deployment.kubernetes.io/desired-replicas".into(), spec.replicas.unwrap_or(1).to_string());
    annotations.insert("deployment.kubernetes.io/max-replicas".into(), (spec.replicas.unwrap_or(1) + surge).to_string());
    ReplicaSet {
        metadata: kube::api::ObjectMeta {
            name: Some(format!("{}-{hash}", d.name_any())),
            namespace: d.namespace(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![owner_ref(d)]),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_parameters_round_like_upstream() {
        assert_eq!(resolve_rolling(10, None, None), (3, 2), "25% surge rounds up, 25% unavailable down");
        assert_eq!(resolve_rolling(1, None, None), (1, 0));
        assert_eq!(resolve_rolling(3, Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0))), (0, 1), "both zero allows one unavailable");
        assert_eq!(resolve_rolling(4, Some(&IntOrString::String("50%".into())), Some(&IntOrString::Int(1))), (2, 1));
    }

    #[test]
    fn template_hash_ignores_the_hash_label_and_changes_with_the_template() {
        let t1: k8s_openapi::api::core::v1::PodTemplateSpec = serde_json::from_value(json!({ "metadata": { "labels": { "app": "a" } }, "spec": { "containers": [{ "name": "c", "image": "x:1" }] } })).expect("t1");
        let mut t1_hashed = t1.clone();
        t1_hashed.metadata.as_mut().and_then(|m| m.labels.as_mut()).map(|l| l.insert(HASH_LABEL.into(), "abc".into()));
        assert_eq!(template_without_hash(Some(&t1)), template_without_hash(Some(&t1_hashed)));
        let t2: k8s_openapi::api::core::v1::PodTemplateSpec = serde_json::from_value(json!({ "metadata": { "labels": { "app": "a" } }, "spec": { "containers": [{ "name": "c", "image": "x:2" }] } })).expect("t2");
        let (h1, h2) = (template_hash(&template_without_hash(Some(&t1)), 0), template_hash(&template_without_hash(Some(&t2)), 0));
        assert_ne!(h1, h2);
        assert_eq!(h1, template_hash(&template_without_hash(Some(&t1)), 0), "stable");
        assert_ne!(h1, template_hash(&template_without_hash(Some(&t1)), 1), "collision count changes it");
        assert!(h1.len() == 10 && h1.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
