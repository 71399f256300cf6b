//! Tests that need pods to really run: a schedulable node with a kubelet. Without one (a
//! control-plane-only cluster) they are skipped, not failed.
//!
//! Upstream's versions use the `agnhost`/`httpd` images; these use `busybox:1.36` (which Corten's
//! `scripts/build-test-images.sh` provides offline) running `sleep`, since what they check is
//! scheduling, kubelet and controller behaviour, not what the container serves.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

use crate::context::TestContext;
use crate::runner::{Skipped, TestCase};
use crate::suite::{check, test_case};

/// The image the workload tests run.
pub const IMAGE: &str = "busybox:1.36";

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-node] Pods should get a host IP [NodeConformance] [Conformance]", pod_host_ip),
        test_case!("[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]", pod_submitted_and_removed),
        test_case!(
            "[sig-apps] ReplicaSet should adopt matching pods on creation and release no longer matching pods [Conformance]",
            replicaset_adopt_release
        ),
        test_case!("[sig-apps] Deployment RollingUpdateDeployment should delete old pods and create new ones [Conformance]", deployment_rolling_update),
        test_case!("[sig-apps] Deployment deployment should delete old replica sets [Conformance]", deployment_deletes_old_replica_sets),
        test_case!("[sig-apps] ReplicaSet Replicaset should have a working scale subresource [Conformance]", replicaset_scale_subresource),
        test_case!("[sig-apps] Deployment Deployment should have a working scale subresource [Conformance]", deployment_scale_subresource),
        test_case!("[sig-apps] ReplicaSet should list and delete a collection of ReplicaSets [Conformance]", replicaset_delete_collection),
        test_case!("[sig-apps] ReplicaSet should validate Replicaset Status endpoints [Conformance]", replicaset_status_endpoints),
        test_case!("[sig-apps] Deployment should validate Deployment Status endpoints [Conformance]", deployment_status_endpoints),
    ]
}

/// Skips the test unless some node is Ready and schedulable.
async fn require_node(ctx: &TestContext) -> anyhow::Result<()> {
    let nodes: Api<Node> = ctx.cluster_api();
    let ready = nodes.list(&ListParams::default()).await?.items.into_iter().any(|n| {
        let schedulable = !n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
        let is_ready = n.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        schedulable && is_ready
    });
    if ready {
        Ok(())
    } else {
        Err(Skipped("needs a Ready, schedulable node (the cluster runs no kubelet)".into()).into())
    }
}

/// Polls `check` every 250 ms until it returns `Some`, or fails after `timeout`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn pod_spec() -> serde_json::Value {
    json!({ "containers": [{ "name": "main", "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"] }], "terminationGracePeriodSeconds": 1 })
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn is_running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// A pod reaches Running and reports the node's address as its hostIP.
async fn pod_host_ip(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let api: Api<Pod> = ctx.api();
    let name = ctx.unique_name("pod-hostip");
    let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": name }, "spec": pod_spec() }))?;
    api.create(&PostParams::default(), &pod).await?;
    let running = wait_for("the pod to run", Duration::from_secs(60), || async {
        Ok(api.get_opt(&name).await?.filter(is_running))
    })
    .await?;
    let host_ip = running.status.as_ref().and_then(|s| s.host_ip.clone()).unwrap_or_default();
    check!(!host_ip.is_empty(), "the running pod has no status.hostIP");
    check!(host_ip.parse::<std::net::IpAddr>().is_ok(), "status.hostIP {host_ip:?} is not an IP address");
    Ok(())
}

/// A labelled pod is listed by selector, runs, is deleted gracefully (the kubelet sees the
/// deletion) and disappears from the list.
async fn pod_submitted_and_removed(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let api: Api<Pod> = ctx.api();
    let name = ctx.unique_name("pod-submit-remove");
    let value = name.clone();
    let selector = format!("name=foo,time={value}");
    check!(api.list(&ListParams::default().labels(&selector)).await?.items.is_empty(), "pods matched before any was created");
    let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": name, "labels": { "name": "foo", "time": value } }, "spec": pod_spec() }))?;
    api.create(&PostParams::default(), &pod).await?;
    let listed = api.list(&ListParams::default().labels(&selector)).await?;
    check!(listed.items.len() == 1, "expected the new pod in a selector list, got {}", listed.items.len());
    wait_for("the pod to run", Duration::from_secs(60), || async { Ok(api.get_opt(&name).await?.filter(is_running)) }).await?;
    // The pod's own terminationGracePeriodSeconds (1 s) applies: `sleep` ignores SIGTERM.
    let deleted = api.delete(&name, &DeleteParams::default()).await?;
    if let Some(marked) = deleted.left() {
        check!(marked.metadata.deletion_timestamp.is_some(), "a graceful delete of a running pod must mark it with a deletionTimestamp first");
    }
    wait_for("the kubelet to finish the deletion", Duration::from_secs(60), || async {
        Ok(api.list(&ListParams::default().labels(&selector)).await?.items.is_empty().then_some(()))
    })
    .await?;
    Ok(())
}

/// An orphan pod matching a new ReplicaSet is adopted instead of a new pod being created; when
/// its labels stop matching, it is released and replaced.
async fn replicaset_adopt_release(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let pods: Api<Pod> = ctx.api();
    let sets: Api<ReplicaSet> = ctx.api();
    let name = "pod-adoption-release";
    let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": name, "labels": { "name": name } }, "spec": pod_spec() }))?;
    pods.create(&PostParams::default(), &pod).await?;
    wait_for("the orphan pod to run", Duration::from_secs(60), || async { Ok(pods.get_opt(name).await?.filter(is_running)) }).await?;
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "replicas": 1, "selector": { "matchLabels": { "name": name } },
                  "template": { "metadata": { "labels": { "name": name } }, "spec": pod_spec() } },
    }))?;
    let rs = sets.create(&PostParams::default(), &rs).await?;
    let rs_uid = rs.uid().unwrap_or_default();
    wait_for("the pod to be adopted", Duration::from_secs(60), || async {
        let p = pods.get(name).await?;
        Ok(p.owner_references().iter().any(|o| o.uid == rs_uid && o.controller == Some(true)).then_some(()))
    })
    .await?;
    let all = pods.list(&ListParams::default().labels(&format!("name={name}"))).await?;
    check!(all.items.len() == 1, "adoption must not create another pod; found {}", all.items.len());

    pods.patch(name, &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "labels": { "name": "not-matching" } } }))).await?;
    wait_for("the pod to be released", Duration::from_secs(60), || async {
        let p = pods.get(name).await?;
        Ok((!p.owner_references().iter().any(|o| o.uid == rs_uid)).then_some(()))
    })
    .await?;
    wait_for("a replacement pod", Duration::from_secs(60), || async {
        let owned = pods.list(&ListParams::default().labels(&format!("name={name}"))).await?;
        Ok((owned.items.len() == 1 && owned.items[0].name_any() != name).then_some(()))
    })
    .await?;
    Ok(())
}

/// A one-replica Deployment of [`pod_spec`] pods with these labels (and selector).
fn one_replica_deployment(name: &str, pod_labels: &BTreeMap<String, String>) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "replicas": 1, "selector": { "matchLabels": pod_labels },
                  "template": { "metadata": { "labels": pod_labels }, "spec": pod_spec() } },
    }))?)
}

async fn deployment_complete(api: &Api<Deployment>, name: &str) -> anyhow::Result<Deployment> {
    wait_for("the deployment to complete", Duration::from_secs(120), || async {
        let d = api.get(name).await?;
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let st = d.status.clone().unwrap_or_default();
        let done = st.observed_generation >= d.metadata.generation
            && st.updated_replicas == Some(want)
            && st.available_replicas == Some(want)
            && st.replicas == Some(want);
        Ok(done.then_some(d))
    })
    .await
}

/// A Deployment adopts an existing ReplicaSet with its selector, rolls its pods to the new
/// template, and leaves the adopted set scaled to zero (kept as history).
async fn deployment_rolling_update(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let sets: Api<ReplicaSet> = ctx.api();
    let deployments: Api<Deployment> = ctx.api();
    let pod_labels = labels(&[("name", "sample-pod")]);
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": { "name": "test-rolling-update-controller", "labels": pod_labels, "annotations": { "deployment.kubernetes.io/revision": "3546343826724305832" } },
        "spec": { "replicas": 1, "selector": { "matchLabels": pod_labels },
                  "template": { "metadata": { "labels": pod_labels }, "spec": pod_spec() } },
    }))?;
    sets.create(&PostParams::default(), &rs).await?;
    wait_for("the old replica set's pod to be available", Duration::from_secs(60), || async {
        let rs = sets.get("test-rolling-update-controller").await?;
        Ok((rs.status.and_then(|s| s.available_replicas) == Some(1)).then_some(()))
    })
    .await?;
    let mut new_spec = pod_spec();
    new_spec["containers"][0]["command"] = json!(["sleep", "3601"]);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "test-rolling-update-deployment" },
        "spec": { "replicas": 1, "selector": { "matchLabels": pod_labels },
                  "strategy": { "type": "RollingUpdate" },
                  "template": { "metadata": { "labels": pod_labels }, "spec": new_spec } },
    }))?;
    let created = deployments.create(&PostParams::default(), &deployment).await?;
    deployment_complete(&deployments, "test-rolling-update-deployment").await?;
    let old = sets.get("test-rolling-update-controller").await?;
    check!(
        old.owner_references().iter().any(|o| Some(o.uid.clone()) == created.uid()),
        "the pre-existing replica set was not adopted by the deployment"
    );
    check!(old.spec.as_ref().and_then(|s| s.replicas) == Some(0), "the adopted replica set was not scaled down to 0");
    let all = sets.list(&ListParams::default()).await?;
    check!(all.items.len() == 2, "expected the adopted and the new replica set, found {}", all.items.len());
    let new_revision = all
        .items
        .iter()
        .find(|rs| rs.name_any() != "test-rolling-update-controller")
        .and_then(|rs| rs.annotations().get("deployment.kubernetes.io/revision").cloned());
    check!(
        new_revision.as_deref() == Some("3546343826724305833"),
        "the new replica set's revision should follow the adopted one's: {new_revision:?}"
    );
    Ok(())
}

/// With `revisionHistoryLimit: 0`, a rollout leaves only the new ReplicaSet.
async fn deployment_deletes_old_replica_sets(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let sets: Api<ReplicaSet> = ctx.api();
    let deployments: Api<Deployment> = ctx.api();
    let pod_labels = labels(&[("name", "cleanup-pod")]);
    let name = "test-cleanup-deployment";
    let mut deployment = one_replica_deployment(name, &pod_labels)?;
    if let Some(spec) = deployment.spec.as_mut() {
        spec.revision_history_limit = Some(0);
    }
    deployments.create(&PostParams::default(), &deployment).await?;
    deployment_complete(&deployments, name).await?;
    let patch = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "main", "command": ["sleep", "3602"] }] } } } });
    deployments.patch(name, &PatchParams::default(), &Patch::Strategic(patch)).await?;
    deployment_complete(&deployments, name).await?;
    wait_for("the old replica set to be deleted", Duration::from_secs(60), || async {
        Ok((sets.list(&ListParams::default()).await?.items.len() == 1).then_some(()))
    })
    .await?;
    Ok(())
}

fn replica_set(name: &str, replicas: i32) -> anyhow::Result<ReplicaSet> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "name": name, "e2e": "rs" } },
        "spec": { "replicas": replicas, "selector": { "matchLabels": { "name": name } },
                  "template": { "metadata": { "labels": { "name": name } }, "spec": pod_spec() } },
    }))?)
}

async fn replicas_ready(sets: &Api<ReplicaSet>, name: &str, want: i32) -> anyhow::Result<()> {
    wait_for(&format!("{want} ready replicas of {name}"), Duration::from_secs(90), || async {
        let rs = sets.get(name).await?;
        Ok((rs.status.and_then(|s| s.ready_replicas).unwrap_or(0) == want).then_some(()))
    })
    .await
}

/// The scale subresource reads the ReplicaSet's replicas, and writing it scales the set.
async fn replicaset_scale_subresource(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let sets: Api<ReplicaSet> = ctx.api();
    let name = "test-rs";
    sets.create(&PostParams::default(), &replica_set(name, 1)?).await?;
    replicas_ready(&sets, name, 1).await?;
    let scale = sets.get_scale(name).await?;
    check!(scale.spec.as_ref().and_then(|s| s.replicas) == Some(1), "scale reports {:?} replicas, want 1", scale.spec);
    sets.patch_scale(name, &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 2 } }))).await?;
    let rs = sets.get(name).await?;
    check!(rs.spec.as_ref().and_then(|s| s.replicas) == Some(2), "updating the scale did not update spec.replicas");
    replicas_ready(&sets, name, 2).await
}

/// The scale subresource of a Deployment, read and written.
async fn deployment_scale_subresource(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let deployments: Api<Deployment> = ctx.api();
    let name = "test-new-deployment";
    let pod_labels = labels(&[("name", "httpd")]);
    let deployment = one_replica_deployment(name, &pod_labels)?;
    deployments.create(&PostParams::default(), &deployment).await?;
    deployment_complete(&deployments, name).await?;
    let scale = deployments.get_scale(name).await?;
    check!(scale.spec.as_ref().and_then(|s| s.replicas) == Some(1), "scale reports {:?} replicas, want 1", scale.spec);
    deployments.patch_scale(name, &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 2 } }))).await?;
    let d = deployments.get(name).await?;
    check!(d.spec.as_ref().and_then(|s| s.replicas) == Some(2), "updating the scale did not update spec.replicas");
    deployment_complete(&deployments, name).await?;
    Ok(())
}

/// ReplicaSets are found by label across namespaces and removed with one DeleteCollection.
async fn replicaset_delete_collection(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let sets: Api<ReplicaSet> = ctx.api();
    let name = ctx.unique_name("test-rs");
    sets.create(&PostParams::default(), &replica_set(&name, 3)?).await?;
    replicas_ready(&sets, &name, 3).await?;
    let everywhere: Api<ReplicaSet> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&format!("name={name}"))).await?;
    check!(found.items.len() == 1, "expected the ReplicaSet in an all-namespaces list, got {}", found.items.len());
    sets.delete_collection(&DeleteParams::default(), &ListParams::default().labels(&format!("name={name}"))).await?;
    wait_for("the collection to be gone", Duration::from_secs(60), || async {
        Ok(sets.list(&ListParams::default().labels(&format!("name={name}"))).await?.items.is_empty().then_some(()))
    })
    .await
}

/// The status subresource of a ReplicaSet: read, replaced with an extra condition, patched.
async fn replicaset_status_endpoints(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let sets: Api<ReplicaSet> = ctx.api();
    let name = "test-rs";
    sets.create(&PostParams::default(), &replica_set(name, 1)?).await?;
    replicas_ready(&sets, name, 1).await?;
    let path = format!("/apis/apps/v1/namespaces/{}/replicasets/{name}/status", ctx.namespace);
    exercise_status_conditions(&ctx, &path, "ReplicaSet", "/status/replicas").await
}

/// Reads a status subresource, replaces it with an added `StatusUpdate` condition, then merge-
/// patches a `StatusPatched` condition, checking each took (and survives the controller).
async fn exercise_status_conditions(ctx: &TestContext, path: &str, kind: &str, populated: &str) -> anyhow::Result<()> {
    let json = [("Accept", "application/json"), ("Content-Type", "application/json")];
    let mut current: serde_json::Value = ctx.get_json(path).await?;
    check!(current["kind"] == kind && current.pointer(populated).is_some_and(|v| v == 1), "GET {path} returned {current}");
    let condition = json!({ "type": "StatusUpdate", "status": "True", "reason": "E2E", "message": "Set from e2e test" });
    match current["status"]["conditions"].as_array_mut() {
        Some(conditions) => conditions.push(condition),
        None => current["status"]["conditions"] = json!([condition]),
    }
    let put = ctx.raw(http::Method::PUT, path, &json, Some(serde_json::to_vec(&current)?)).await?;
    check!(put.status.is_success(), "PUT {path}: {} {}", put.status, put.body);
    let has = |obj: &serde_json::Value, t: &str| obj["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == t));
    check!(has(&ctx.get_json(path).await?, "StatusUpdate"), "the replaced status lost the StatusUpdate condition");
    let patch = json!({ "status": { "conditions": [{ "type": "StatusPatched", "status": "True" }] } });
    let merge = [("Accept", "application/json"), ("Content-Type", "application/merge-patch+json")];
    let patched = ctx.raw(http::Method::PATCH, path, &merge, Some(serde_json::to_vec(&patch)?)).await?;
    check!(patched.status.is_success(), "PATCH {path}: {} {}", patched.status, patched.body);
    check!(has(&ctx.get_json(path).await?, "StatusPatched"), "the patched status lacks the StatusPatched condition");
    Ok(())
}

/// The status subresource of a Deployment: read, replaced with an extra condition (which the
/// controller keeps), patched.
async fn deployment_status_endpoints(ctx: TestContext) -> anyhow::Result<()> {
    require_node(&ctx).await?;
    let deployments: Api<Deployment> = ctx.api();
    let name = "test-deployment-status";
    let pod_labels = labels(&[("e2e", "status")]);
    let deployment = one_replica_deployment(name, &pod_labels)?;
    deployments.create(&PostParams::default(), &deployment).await?;
    deployment_complete(&deployments, name).await?;
    let path = format!("/apis/apps/v1/namespaces/{}/deployments/{name}/status", ctx.namespace);
    exercise_status_conditions(&ctx, &path, "Deployment", "/status/availableReplicas").await
}
