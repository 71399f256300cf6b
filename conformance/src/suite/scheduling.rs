//! `[sig-scheduling]` tests that need only the API server: LimitRange collections and
//! PriorityClass endpoints.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem, LimitRangeSpec};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

use crate::context::{random_suffix, TestContext};
use crate::runner::TestCase;
use crate::suite::common::{delete_by_selector, exercise_api_operations};
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-scheduling] LimitRange should list, patch and delete a LimitRange by collection [Conformance]", limitrange_collection),
        test_case!(
            "[sig-scheduling] SchedulerPreemption [Serial] PriorityClass endpoints verify PriorityClass endpoints can be operated with different HTTP methods [Conformance]",
            priorityclass_endpoints
        ),
    ]
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs.iter().map(|(k, v)| (k.to_string(), Quantity(v.to_string()))).collect()
}

/// A LimitRange is found across namespaces by label, patched, and removed by collection.
async fn limitrange_collection(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<LimitRange> = ctx.api();
    let name = ctx.unique_name("e2e-limitrange");
    let marker = random_suffix(8);
    let limit_range = LimitRange {
        metadata: ctx.meta(&name, &[("e2e-test", &marker)]),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default: Some(quantities(&[("cpu", "500m"), ("memory", "500Mi")])),
                default_request: Some(quantities(&[("cpu", "100m"), ("memory", "200Mi")])),
                ..LimitRangeItem::default()
            }],
        }),
    };
    api.create(&PostParams::default(), &limit_range).await?;
    let everywhere: Api<LimitRange> = ctx.all_namespaces_api();
    let selector = ListParams::default().labels(&format!("e2e-test={marker}"));
    let found = everywhere.list(&selector).await?;
    check!(found.items.iter().any(|l| l.name_any() == name), "limit range not found across namespaces");

    let patch = json!({
        "metadata": {"labels": {name.as_str(): "patched"}},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "300m", "memory": "300Mi"}, "defaultRequest": {"cpu": "100m", "memory": "200Mi"}}]}
    });
    api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let fetched = api.get(&name).await?;
    check!(fetched.labels().get(&name).map(String::as_str) == Some("patched"), "label not patched: {:?}", fetched.labels());
    let default_cpu = fetched.spec.as_ref().and_then(|s| s.limits.first()).and_then(|l| l.default.as_ref()).and_then(|d| d.get("cpu")).map(|q| q.0.clone());
    check!(default_cpu.as_deref() == Some("300m"), "default cpu not patched: {default_cpu:?}");

    api.delete_collection(&DeleteParams::default(), &selector).await?;
    let remaining = everywhere.list(&selector).await?;
    check!(remaining.items.is_empty(), "delete collection left {}", remaining.items.len());
    Ok(())
}

/// PriorityClasses: the full API-operations sequence (cluster-scoped, hence `[Serial]` upstream).
async fn priorityclass_endpoints(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<PriorityClass> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let objects = (1..=3)
        .map(|index| PriorityClass {
            metadata: ctx.meta(&format!("p{index}-{marker}"), &[("e2e-run", &marker)]),
            value: index * 1000,
            ..PriorityClass::default()
        })
        .collect();
    let result = exercise_api_operations(&api, objects, &selector).await;
    delete_by_selector(&api, &selector).await;
    result
}
