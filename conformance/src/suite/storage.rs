//! `[sig-storage]` tests that need only the API server: immutable config maps and secrets,
//! CSIDrivers, CSIStorageCapacities and VolumeAttachments.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::storage::v1::{
    CSIDriver, CSIDriverSpec, CSIStorageCapacity, VolumeAttachment, VolumeAttachmentSource, VolumeAttachmentSpec,
    VolumeAttachmentStatus,
};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::context::{expect_api_error, random_suffix, TestContext};
use crate::runner::TestCase;
use crate::suite::common::{delete_by_selector, exercise_api_operations};
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-storage] ConfigMap should be immutable if `immutable` field is set [Conformance]", configmap_immutable),
        test_case!("[sig-storage] Secrets should be immutable if `immutable` field is set [Conformance]", secret_immutable),
        test_case!("[sig-storage] CSIInlineVolumes should run through the lifecycle of a CSIDriver [Conformance]", csidriver_lifecycle),
        test_case!("[sig-storage] CSIStorageCapacity should support CSIStorageCapacities API operations [Conformance]", csistoragecapacity_api),
        test_case!("[sig-storage] VolumeAttachment Conformance should run through the lifecycle of a VolumeAttachment [Conformance]", volumeattachment_lifecycle),
        test_case!("[sig-storage] VolumeAttachment Conformance should apply changes to a volumeattachment status [Conformance]", volumeattachment_status),
    ]
}

/// Data may change while mutable; once `immutable: true` is set, data changes and unsetting
/// immutability are rejected (422) while deletion still works.
async fn configmap_immutable(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = ctx.api();
    let name = ctx.unique_name("immutable");
    let data = |value: &str| Some(BTreeMap::from([("data".to_string(), value.to_string())]));
    api.create(&PostParams::default(), &ConfigMap { metadata: ctx.meta(&name, &[]), data: data("1"), ..ConfigMap::default() }).await?;
    api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"data": {"data": "2"}}))).await?;
    let marked = api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"immutable": true}))).await?;
    check!(marked.immutable == Some(true), "immutable not set: {:?}", marked.immutable);
    check!(marked.data == data("2"), "data update before marking immutable was lost: {:?}", marked.data);
    expect_api_error(api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"data": {"data": "3"}}))).await, 422, "changing data of an immutable config map")?;
    expect_api_error(api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"immutable": false}))).await, 422, "unsetting immutable")?;
    let fetched = api.get(&name).await?;
    check!(fetched.data == data("2") && fetched.immutable == Some(true), "immutable config map changed: {fetched:?}");
    api.delete(&name, &DeleteParams::default()).await?;
    Ok(())
}

/// The same immutability rules for secrets.
async fn secret_immutable(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Secret> = ctx.api();
    let name = ctx.unique_name("immutable");
    let data = |value: &[u8]| Some(BTreeMap::from([("data".to_string(), ByteString(value.to_vec()))]));
    api.create(&PostParams::default(), &Secret { metadata: ctx.meta(&name, &[]), data: data(b"1"), ..Secret::default() }).await?;
    // "Mg==" and "Mw==" are base64 for "2" and "3".
    api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"data": {"data": "Mg=="}}))).await?;
    let marked = api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"immutable": true}))).await?;
    check!(marked.immutable == Some(true), "immutable not set: {:?}", marked.immutable);
    expect_api_error(api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"data": {"data": "Mw=="}}))).await, 422, "changing data of an immutable secret")?;
    expect_api_error(api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"immutable": false}))).await, 422, "unsetting immutable")?;
    let fetched = api.get(&name).await?;
    check!(fetched.data == data(b"2") && fetched.immutable == Some(true), "immutable secret changed: {:?}", fetched.data);
    api.delete(&name, &DeleteParams::default()).await?;
    Ok(())
}

/// CSIDrivers: the full API-operations sequence.
async fn csidriver_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<CSIDriver> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let objects = (1..=2)
        .map(|index| CSIDriver {
            metadata: ctx.meta(&format!("e2e-csi-{marker}-{index}.example.com"), &[("e2e-run", &marker)]),
            spec: CSIDriverSpec { attach_required: Some(true), volume_lifecycle_modes: Some(vec!["Ephemeral".into()]), ..CSIDriverSpec::default() },
        })
        .collect();
    let result = exercise_api_operations(&api, objects, &selector).await;
    delete_by_selector(&api, &selector).await;
    result
}

/// CSIStorageCapacities: the full API-operations sequence in the test namespace.
async fn csistoragecapacity_api(ctx: TestContext) -> anyhow::Result<()> {
    let list: k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList = ctx.get_json("/apis/storage.k8s.io/v1").await?;
    check!(list.resources.iter().any(|r| r.name == "csistoragecapacities"), "storage.k8s.io/v1 does not list csistoragecapacities");
    let api: Api<CSIStorageCapacity> = ctx.api();
    let selector = format!("test={}", ctx.namespace);
    let objects = (1..=3)
        .map(|index| CSIStorageCapacity {
            metadata: ctx.meta(&format!("csisc-{index}"), &[("test", &ctx.namespace)]),
            storage_class_name: "someStorageClass".into(),
            ..CSIStorageCapacity::default()
        })
        .collect();
    exercise_api_operations(&api, objects, &selector).await
}

fn volume_attachment(ctx: &TestContext, name: &str, marker: &str) -> VolumeAttachment {
    VolumeAttachment {
        metadata: ctx.meta(name, &[("e2e-run", marker)]),
        spec: VolumeAttachmentSpec {
            attacher: "e2e-test.storage.k8s.io".into(),
            node_name: "e2e-node".into(),
            source: VolumeAttachmentSource { persistent_volume_name: Some(format!("pv-{name}")), ..VolumeAttachmentSource::default() },
        },
        status: None,
    }
}

/// VolumeAttachments: the full API-operations sequence.
async fn volumeattachment_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<VolumeAttachment> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let objects = (1..=3).map(|index| volume_attachment(&ctx, &format!("va-e2e-{marker}-{index}"), &marker)).collect();
    let result = exercise_api_operations(&api, objects, &selector).await;
    delete_by_selector(&api, &selector).await;
    result
}

/// VolumeAttachment status can be patched and replaced through the status subresource.
async fn volumeattachment_status(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<VolumeAttachment> = ctx.cluster_api();
    let marker = random_suffix(8);
    let name = format!("va-e2e-{marker}");
    let result = async {
        api.create(&PostParams::default(), &volume_attachment(&ctx, &name, &marker)).await?;
        let patched = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": {"attached": true}}))).await?;
        check!(patched.status.as_ref().is_some_and(|s| s.attached), "status patch not applied: {:?}", patched.status);
        let mut current = api.get_status(&name).await?;
        current.status = Some(VolumeAttachmentStatus {
            attached: false,
            attachment_metadata: Some(BTreeMap::from([("e2e".to_string(), "updated".to_string())])),
            ..VolumeAttachmentStatus::default()
        });
        let updated = api.replace_status(&name, &PostParams::default(), &current).await?;
        let metadata = |va: &VolumeAttachment| va.status.as_ref().and_then(|s| s.attachment_metadata.clone()).unwrap_or_default();
        check!(metadata(&updated).get("e2e").map(String::as_str) == Some("updated"), "status update not applied: {:?}", updated.status);
        let fetched = api.get(&name).await?;
        check!(
            fetched.status.as_ref().is_some_and(|s| !s.attached) && metadata(&fetched).contains_key("e2e"),
            "status not persisted: {:?}",
            fetched.status
        );
        api.delete(&name, &DeleteParams::default()).await?;
        anyhow::Ok(())
    }
    .await;
    delete_by_selector(&api, &format!("e2e-run={marker}")).await;
    result
}
