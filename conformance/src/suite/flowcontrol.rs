//! `[sig-api-machinery] API priority and fairness` API-operations tests (flowcontrol.apiserver.k8s.io/v1)
//! and the `[sig-apps] CronJob` API-operations test: both only exercise the API server.

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::api::flowcontrol::v1::{
    FlowSchema, FlowSchemaSpec, LimitResponse, LimitedPriorityLevelConfiguration, PriorityLevelConfiguration,
    PriorityLevelConfigurationReference, PriorityLevelConfigurationSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIResourceList, Time};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::context::{random_suffix, TestContext};
use crate::runner::TestCase;
use crate::suite::common::{delete_by_selector, exercise_api_operations, Kind};
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-api-machinery] API priority and fairness should support FlowSchema API operations [Conformance]", flowschema_api),
        test_case!(
            "[sig-api-machinery] API priority and fairness should support PriorityLevelConfiguration API operations [Conformance]",
            prioritylevel_api
        ),
        test_case!("[sig-apps] CronJob should support CronJob API operations [Conformance]", cronjob_api),
    ]
}

async fn expect_discovered(ctx: &TestContext, path: &str, resources: &[&str]) -> anyhow::Result<()> {
    let list: APIResourceList = ctx.get_json(path).await?;
    for resource in resources {
        check!(list.resources.iter().any(|r| r.name == *resource), "{path} does not list {resource}");
    }
    Ok(())
}

/// Patches a `status` condition onto `name` through the status subresource and reads it back.
async fn patch_status_condition<K: Kind>(api: &Api<K>, name: &str) -> anyhow::Result<()> {
    let patch = json!({"status": {"conditions": [{"type": "StatusPatched", "status": "True", "reason": "E2E", "message": "Set from an e2e test", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let fetched = serde_json::to_value(api.get_status(name).await?)?;
    let patched = fetched["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "StatusPatched"));
    check!(patched, "status condition not persisted: {}", fetched["status"]);
    Ok(())
}

/// FlowSchemas: discovery, the API-operations sequence, and the status subresource.
async fn flowschema_api(ctx: TestContext) -> anyhow::Result<()> {
    expect_discovered(&ctx, "/apis/flowcontrol.apiserver.k8s.io/v1", &["flowschemas", "flowschemas/status"]).await?;
    let api: Api<FlowSchema> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let flow_schema = |name: String| FlowSchema {
        metadata: ctx.meta(&name, &[("e2e-run", &marker)]),
        spec: Some(FlowSchemaSpec {
            matching_precedence: Some(10000),
            priority_level_configuration: PriorityLevelConfigurationReference { name: format!("e2e-plc-{marker}") },
            ..FlowSchemaSpec::default()
        }),
        status: None,
    };
    let result = async {
        let status_name = format!("e2e-fs-{marker}-status");
        api.create(&PostParams::default(), &flow_schema(status_name.clone())).await?;
        patch_status_condition(&api, &status_name).await?;
        api.delete(&status_name, &DeleteParams::default()).await?;
        exercise_api_operations(&api, (1..=3).map(|i| flow_schema(format!("e2e-fs-{marker}-{i}"))).collect(), &selector).await
    }
    .await;
    delete_by_selector(&api, &selector).await;
    result
}

/// PriorityLevelConfigurations: discovery, the API-operations sequence, and the status subresource.
async fn prioritylevel_api(ctx: TestContext) -> anyhow::Result<()> {
    expect_discovered(&ctx, "/apis/flowcontrol.apiserver.k8s.io/v1", &["prioritylevelconfigurations", "prioritylevelconfigurations/status"]).await?;
    let api: Api<PriorityLevelConfiguration> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let level = |name: String| PriorityLevelConfiguration {
        metadata: ctx.meta(&name, &[("e2e-run", &marker)]),
        spec: Some(PriorityLevelConfigurationSpec {
            type_: "Limited".into(),
            limited: Some(LimitedPriorityLevelConfiguration {
                nominal_concurrency_shares: Some(2),
                lendable_percent: Some(0),
                limit_response: Some(LimitResponse { type_: "Reject".into(), queuing: None }),
                ..LimitedPriorityLevelConfiguration::default()
            }),
            exempt: None,
        }),
        status: None,
    };
    let result = async {
        let status_name = format!("e2e-plc-{marker}-status");
        api.create(&PostParams::default(), &level(status_name.clone())).await?;
        patch_status_condition(&api, &status_name).await?;
        api.delete(&status_name, &DeleteParams::default()).await?;
        exercise_api_operations(&api, (1..=3).map(|i| level(format!("e2e-plc-{marker}-{i}"))).collect(), &selector).await
    }
    .await;
    delete_by_selector(&api, &selector).await;
    result
}

/// CronJobs (suspended, so no controller acts on them): discovery, the API-operations sequence,
/// and a status patch and update.
async fn cronjob_api(ctx: TestContext) -> anyhow::Result<()> {
    expect_discovered(&ctx, "/apis/batch/v1", &["cronjobs", "cronjobs/status"]).await?;
    let api: Api<CronJob> = ctx.api();
    let selector = format!("special-label={}", ctx.namespace);
    let cronjob = |name: String| CronJob {
        metadata: ctx.meta(&name, &[("special-label", &ctx.namespace)]),
        spec: Some(CronJobSpec {
            schedule: "@hourly".into(),
            suspend: Some(true),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    template: PodTemplateSpec {
                        metadata: None,
                        spec: Some(PodSpec {
                            restart_policy: Some("OnFailure".into()),
                            containers: vec![Container { name: "c".into(), image: Some("busybox".into()), ..Container::default() }],
                            ..PodSpec::default()
                        }),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        status: None,
    };
    let name = "e2e-cronjob-status";
    api.create(&PostParams::default(), &cronjob(name.to_string())).await?;
    let schedule_time = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000)?);
    let patched = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": {"lastScheduleTime": schedule_time}})))
        .await?;
    check!(patched.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()) == Some(&schedule_time), "status patch: {:?}", patched.status);
    let mut current = api.get_status(name).await?;
    let later = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_003_600)?);
    current.status.get_or_insert_with(Default::default).last_successful_time = Some(later.clone());
    api.replace_status(name, &PostParams::default(), &current).await?;
    let fetched = api.get(name).await?;
    check!(fetched.status.as_ref().and_then(|s| s.last_successful_time.as_ref()) == Some(&later), "status update: {:?}", fetched.status);
    api.delete(name, &DeleteParams::default()).await?;
    exercise_api_operations(&api, (1..=3).map(|i| cronjob(format!("e2e-cronjob-{i}"))).collect(), &selector).await
}
