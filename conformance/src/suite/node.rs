//! `[sig-node]` tests that need only the API server: config maps, secrets, pod templates,
//! leases and runtime classes.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, NodeCondition, NodeSpec, NodeStatus, Pod, ResourceRequirements, PodSpec, PodTemplate, PodTemplateSpec, Secret};
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

use crate::context::{expect_api_error, is_not_found, random_suffix, TestContext};
use crate::runner::TestCase;
use crate::suite::common::{delete_by_selector, exercise_api_operations};
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-node] ConfigMap should run through a ConfigMap lifecycle [Conformance]", configmap_lifecycle),
        test_case!("[sig-node] ConfigMap should fail to create ConfigMap with empty key [Conformance]", configmap_empty_key),
        test_case!("[sig-node] Secrets should patch a secret [Conformance]", secret_patch),
        test_case!("[sig-node] Secrets should fail to create secret due to empty secret key [Conformance]", secret_empty_key),
        test_case!("[sig-node] PodTemplates should run the lifecycle of PodTemplates [Conformance]", podtemplate_lifecycle),
        test_case!("[sig-node] PodTemplates should delete a collection of pod templates [Conformance]", podtemplate_delete_collection),
        test_case!("[sig-node] PodTemplates should replace a pod template [Conformance]", podtemplate_replace),
        test_case!("[sig-node] Lease lease API should be available [Conformance]", lease_api),
        test_case!(
            "[sig-node] Pods Extended Pods Set QOS Class should be set on Pods with matching resource requests and limits for memory and cpu [Conformance]",
            pod_qos_class
        ),
        test_case!("[sig-node] Node Lifecycle should run through the lifecycle of a node [Conformance]", node_lifecycle),
        test_case!("[sig-node] RuntimeClass should support RuntimeClasses API operations [Conformance]", runtimeclass_api),
    ]
}

fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Create, get, patch (labels and data), find across all namespaces by label, delete by collection.
async fn configmap_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = ctx.api();
    let name = ctx.unique_name("e2e-configmap");
    let marker = random_suffix(8);
    let configmap = ConfigMap {
        metadata: ctx.meta(&name, &[("test-configmap-static", "true"), ("e2e-run", &marker)]),
        data: Some(string_map(&[("valueName", "value")])),
        ..ConfigMap::default()
    };
    api.create(&PostParams::default(), &configmap).await?;
    let fetched = api.get(&name).await?;
    check!(fetched.data == configmap.data, "created data {:?} differs from {:?}", fetched.data, configmap.data);

    let patch = json!({"metadata": {"labels": {"test-configmap": "patched"}}, "data": {"valueName": "value1"}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let patched = api.get(&name).await?;
    check!(patched.labels().get("test-configmap").map(String::as_str) == Some("patched"), "label not patched: {:?}", patched.labels());
    check!(patched.data == Some(string_map(&[("valueName", "value1")])), "data not patched: {:?}", patched.data);

    let everywhere: Api<ConfigMap> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker},test-configmap=patched"))).await?;
    check!(
        found.items.iter().any(|c| c.name_any() == name && c.namespace().as_deref() == Some(ctx.namespace.as_str())),
        "listing all namespaces did not find {name}: {:?}",
        found.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>()
    );

    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("test-configmap-static=true")).await?;
    let remaining = api.list(&ListParams::default().labels("test-configmap-static=true")).await?;
    check!(remaining.items.is_empty(), "delete collection left {:?}", remaining.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>());
    Ok(())
}

/// A config map whose data has an empty key is rejected as invalid (422).
async fn configmap_empty_key(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = ctx.api();
    let configmap = ConfigMap {
        metadata: ctx.meta(&ctx.unique_name("configmap-test-emptykey"), &[]),
        data: Some(string_map(&[("", "value-1")])),
        ..ConfigMap::default()
    };
    let status = expect_api_error(api.create(&PostParams::default(), &configmap).await, 422, "creating a config map with an empty key")?;
    check!(status.reason == "Invalid", "reason is {:?}, expected Invalid", status.reason);
    Ok(())
}

/// Create a secret, find it across namespaces, patch its data and labels, delete it by collection.
async fn secret_patch(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Secret> = ctx.api();
    let name = ctx.unique_name("test-secret");
    let marker = random_suffix(8);
    let secret = Secret {
        metadata: ctx.meta(&name, &[("testsecret-constant", "true"), ("e2e-run", &marker)]),
        data: Some([("key".to_string(), ByteString(b"value".to_vec()))].into()),
        type_: Some("Opaque".to_string()),
        ..Secret::default()
    };
    api.create(&PostParams::default(), &secret).await?;

    let everywhere: Api<Secret> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(found.items.iter().any(|s| s.name_any() == name), "listing all namespaces did not find {name}");

    // "dmFsdWUx" is base64 for "value1".
    let patch = json!({"metadata": {"labels": {"testsecret": "true"}}, "data": {"key": "dmFsdWUx"}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let patched = api.get(&name).await?;
    check!(patched.labels().get("testsecret").map(String::as_str) == Some("true"), "label not patched: {:?}", patched.labels());
    let value = patched.data.as_ref().and_then(|d| d.get("key")).map(|b| b.0.clone());
    check!(value.as_deref() == Some(b"value1".as_slice()), "data not patched: {value:?}");

    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("testsecret-constant=true")).await?;
    let remaining = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(remaining.items.is_empty(), "secret still listed after delete collection");
    Ok(())
}

/// A secret whose data has an empty key is rejected as invalid (422).
async fn secret_empty_key(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Secret> = ctx.api();
    let secret = Secret {
        metadata: ctx.meta(&ctx.unique_name("secret-emptykey-test"), &[]),
        data: Some([(String::new(), ByteString(b"value-1\n".to_vec()))].into()),
        ..Secret::default()
    };
    let status = expect_api_error(api.create(&PostParams::default(), &secret).await, 422, "creating a secret with an empty key")?;
    check!(status.reason == "Invalid", "reason is {:?}, expected Invalid", status.reason);
    Ok(())
}

fn pod_template(ctx: &TestContext, name: &str, labels: &[(&str, &str)]) -> PodTemplate {
    PodTemplate {
        metadata: ctx.meta(name, labels),
        template: Some(PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "token-test".into(),
                    image: Some("registry.k8s.io/e2e-test-images/agnhost:2.53".into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        }),
    }
}

/// Create, list, patch a label, read it back, delete, and see it gone.
async fn podtemplate_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<PodTemplate> = ctx.api();
    let name = "nginx-pod-template";
    api.create(&PostParams::default(), &pod_template(&ctx, name, &[("podtemplate-static", "true")])).await?;
    let listed = api.list(&ListParams::default().labels("podtemplate-static=true")).await?;
    check!(listed.items.len() == 1, "expected one pod template, listed {}", listed.items.len());
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"podtemplate": "patched"}}}))).await?;
    let fetched = api.get(name).await?;
    check!(fetched.labels().get("podtemplate").map(String::as_str) == Some("patched"), "label not patched: {:?}", fetched.labels());
    api.delete(name, &DeleteParams::default()).await?;
    let remaining = api.list(&ListParams::default().labels("podtemplate-static=true")).await?;
    check!(remaining.items.is_empty(), "pod template still listed after delete");
    Ok(())
}

/// Three labeled pod templates are all removed by one delete-collection call.
async fn podtemplate_delete_collection(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<PodTemplate> = ctx.api();
    for index in 1..=3 {
        api.create(&PostParams::default(), &pod_template(&ctx, &format!("podtemplate-{index}"), &[("podtemplate-set", "true")])).await?;
    }
    let listed = api.list(&ListParams::default().labels("podtemplate-set=true")).await?;
    check!(listed.items.len() == 3, "expected 3 pod templates, listed {}", listed.items.len());
    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("podtemplate-set=true")).await?;
    let remaining = api.list(&ListParams::default().labels("podtemplate-set=true")).await?;
    check!(remaining.items.is_empty(), "delete collection left {}", remaining.items.len());
    Ok(())
}

/// A PUT replacing the template's pod spec is persisted.
async fn podtemplate_replace(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<PodTemplate> = ctx.api();
    let name = ctx.unique_name("podtemplate");
    api.create(&PostParams::default(), &pod_template(&ctx, &name, &[])).await?;
    let mut current = api.get(&name).await?;
    if let Some(spec) = current.template.as_mut().and_then(|t| t.spec.as_mut()) {
        spec.termination_grace_period_seconds = Some(1);
    }
    let replaced = api.replace(&name, &PostParams::default(), &current).await?;
    let grace = |t: &PodTemplate| t.template.as_ref().and_then(|t| t.spec.as_ref()).and_then(|s| s.termination_grace_period_seconds);
    check!(grace(&replaced) == Some(1), "replace response has grace period {:?}", grace(&replaced));
    let fetched = api.get(&name).await?;
    check!(grace(&fetched) == Some(1), "replaced grace period not persisted: {:?}", grace(&fetched));
    Ok(())
}

/// A microsecond-precision timestamp (what `MicroTime` round-trips through the API).
fn micro_now() -> MicroTime {
    let now = k8s_openapi::jiff::Timestamp::now();
    let micros = now.as_microsecond();
    MicroTime(k8s_openapi::jiff::Timestamp::from_microsecond(micros).unwrap_or(now))
}

/// Leases: create, read back every spec field, update, patch, list, delete collection, delete.
async fn lease_api(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Lease> = ctx.api();
    let name = "lease";
    let spec = LeaseSpec {
        holder_identity: Some("holder".into()),
        lease_duration_seconds: Some(30),
        acquire_time: Some(micro_now()),
        renew_time: Some(micro_now()),
        lease_transitions: Some(0),
        ..LeaseSpec::default()
    };
    api.create(&PostParams::default(), &Lease { metadata: ctx.meta(name, &[]), spec: Some(spec.clone()) }).await?;
    let fetched = api.get(name).await?;
    check!(fetched.spec.as_ref() == Some(&spec), "lease spec {:?} differs from created {spec:?}", fetched.spec);

    let mut updated = fetched.clone();
    let new_spec = LeaseSpec { holder_identity: Some("holder2".into()), lease_transitions: Some(1), renew_time: Some(micro_now()), ..spec.clone() };
    updated.spec = Some(new_spec.clone());
    api.replace(name, &PostParams::default(), &updated).await?;
    let fetched = api.get(name).await?;
    check!(fetched.spec.as_ref() == Some(&new_spec), "updated lease spec {:?} differs from {new_spec:?}", fetched.spec);

    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"holderIdentity": "holder3", "leaseTransitions": 2}}))).await?;
    let fetched = api.get(name).await?;
    let patched = fetched.spec.clone().unwrap_or_default();
    check!(patched.holder_identity.as_deref() == Some("holder3") && patched.lease_transitions == Some(2), "lease not patched: {patched:?}");

    for index in 1..=2 {
        let labeled = Lease { metadata: ctx.meta(&format!("lease-{index}"), &[("deletecollection", "true")]), spec: Some(spec.clone()) };
        api.create(&PostParams::default(), &labeled).await?;
    }
    let all = api.list(&ListParams::default()).await?;
    check!(all.items.len() == 3, "expected 3 leases in the namespace, listed {}", all.items.len());
    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("deletecollection=true")).await?;
    let all = api.list(&ListParams::default()).await?;
    check!(all.items.len() == 1, "expected 1 lease after delete collection, listed {}", all.items.len());

    api.delete(name, &DeleteParams::default()).await?;
    match api.get(name).await {
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(error.into()),
        Ok(_) => anyhow::bail!("lease still exists after delete"),
    }
}

/// RuntimeClasses: discovery lists them, and the full API-operations sequence works.
async fn runtimeclass_api(ctx: TestContext) -> anyhow::Result<()> {
    let resources: k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList = ctx.get_json("/apis/node.k8s.io/v1").await?;
    check!(resources.resources.iter().any(|r| r.name == "runtimeclasses"), "node.k8s.io/v1 does not list runtimeclasses");
    let api: Api<RuntimeClass> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let objects = (1..=3)
        .map(|index| RuntimeClass {
            metadata: ctx.meta(&format!("e2e-rc-{marker}-{index}"), &[("e2e-run", &marker)]),
            handler: format!("runtimeclass-handler-{index}"),
            ..RuntimeClass::default()
        })
        .collect();
    let result = exercise_api_operations(&api, objects, &selector).await;
    delete_by_selector(&api, &selector).await;
    result
}

/// A pod whose every container has requests equal to limits for cpu and memory is Guaranteed.
async fn pod_qos_class(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Pod> = ctx.api();
    let name = ctx.unique_name("pod-qos-class");
    let resources: BTreeMap<String, Quantity> =
        [("cpu".to_string(), Quantity("100m".into())), ("memory".to_string(), Quantity("100Mi".into()))].into();
    let pod = Pod {
        metadata: ctx.meta(&name, &[("name", &name)]),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "agnhost".into(),
                image: Some("registry.k8s.io/e2e-test-images/agnhost:2.53".into()),
                args: Some(vec!["pause".into()]),
                resources: Some(ResourceRequirements { limits: Some(resources.clone()), requests: Some(resources), ..ResourceRequirements::default() }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    };
    api.create(&PostParams::default(), &pod).await?;
    let fetched = api.get(&name).await?;
    let qos = fetched.status.as_ref().and_then(|s| s.qos_class.clone());
    check!(qos.as_deref() == Some("Guaranteed"), "qosClass is {qos:?}, expected Guaranteed");
    api.delete(&name, &DeleteParams::default()).await?;
    Ok(())
}

/// A fake (unschedulable) Node object: create, get, patch a label, list by it, update, delete.
async fn node_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Node> = ctx.cluster_api();
    let name = format!("e2e-fake-node-{}", random_suffix(5));
    let node = Node {
        metadata: ctx.meta(&name, &[]),
        spec: Some(NodeSpec { unschedulable: Some(true), ..NodeSpec::default() }),
        status: Some(NodeStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("E2E".into()),
                message: Some("Set from e2e test".into()),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        }),
    };
    let result = async {
        let created = api.create(&PostParams::default(), &node).await?;
        check!(created.name_any() == name, "created node is named {}", created.name_any());
        let fetched = api.get(&name).await?;
        check!(fetched.name_any() == name, "get returned {}", fetched.name_any());
        api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {name.as_str(): "patched"}}}))).await?;
        let listed = api.list(&ListParams::default().labels(&format!("{name}=patched"))).await?;
        check!(listed.items.len() == 1, "expected exactly one node labeled {name}=patched, listed {}", listed.items.len());
        let mut current = listed.items[0].clone();
        current.labels_mut().insert(name.clone(), "updated".into());
        api.replace(&name, &PostParams::default(), &current).await?;
        let fetched = api.get(&name).await?;
        check!(fetched.labels().get(&name).map(String::as_str) == Some("updated"), "update not persisted: {:?}", fetched.labels());
        api.delete(&name, &DeleteParams::default()).await?;
        let remaining = api.list(&ListParams::default().labels(&format!("{name}=updated"))).await?;
        check!(remaining.items.is_empty(), "node still listed after delete");
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        if let Err(error) = api.delete(&name, &DeleteParams::default()).await {
            tracing::debug!(%error, "fake node cleanup");
        }
    }
    result
}
