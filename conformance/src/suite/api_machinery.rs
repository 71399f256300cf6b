//! `[sig-api-machinery]` tests that need only the API server: version, discovery, table
//! negotiation, watches, namespaces and field validation.

use std::collections::{BTreeMap, BTreeSet};

use futures::{Stream, StreamExt};
use http::{Method, StatusCode};
use k8s_openapi::api::core::v1::{ConfigMap, PodTemplate, Namespace, NamespaceCondition, NamespaceStatus, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroup, APIGroupList, APIResourceList};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::discovery::v2::APIGroupDiscoveryList;
use kube::ResourceExt;
use serde_json::json;

use crate::context::{is_not_found, TestContext};
use crate::runner::TestCase;
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-api-machinery] server version should find the server version [Conformance]", server_version),
        test_case!("[sig-api-machinery] Discovery should validate PreferredVersion for each APIGroup [Conformance]", discovery_preferred_version),
        test_case!(
            "[sig-api-machinery] Discovery should locate the groupVersion and a resource within each APIGroup [Conformance]",
            discovery_group_resources
        ),
        test_case!(
            "[sig-api-machinery] AggregatedDiscovery should support raw aggregated discovery endpoint Accept headers [Conformance]",
            aggregated_discovery_raw
        ),
        test_case!("[sig-api-machinery] AggregatedDiscovery should support aggregated discovery interface [Conformance]", aggregated_discovery_client),
        test_case!(
            "[sig-api-machinery] Servers with support for Table transformation should return a 406 for a backend which does not implement metadata [Conformance]",
            table_not_acceptable
        ),
        test_case!(
            "[sig-api-machinery] Watchers should observe add, update, and delete watch notifications on configmaps [Conformance]",
            watch_add_update_delete
        ),
        test_case!(
            "[sig-api-machinery] Watchers should be able to start watching from a specific resource version [Conformance]",
            watch_from_resource_version
        ),
        test_case!(
            "[sig-api-machinery] Watchers should be able to restart watching from the last resource version observed by the previous watch [Conformance]",
            watch_restart_from_last_seen
        ),
        test_case!(
            "[sig-api-machinery] Watchers should observe an object deletion if it stops meeting the requirements of the selector [Conformance]",
            watch_selector_deletion
        ),
        test_case!(
            "[sig-api-machinery] Watchers should receive events on concurrent watches in same order [Conformance]",
            watch_concurrent_order
        ),
        test_case!("[sig-api-machinery] Namespaces [Serial] should patch a Namespace [Conformance]", namespace_patch),
        test_case!("[sig-api-machinery] Namespaces [Serial] should apply an update to a Namespace [Conformance]", namespace_update),
        test_case!(
            "[sig-api-machinery] Namespaces [Serial] should apply changes to a namespace status [Conformance]",
            namespace_status
        ),
        test_case!(
            "[sig-api-machinery] Namespaces [Serial] should apply a finalizer to a Namespace [Conformance]",
            namespace_finalizer
        ),
        test_case!(
            "[sig-api-machinery] FieldValidation should detect unknown and duplicate fields of a typed object [Conformance]",
            field_validation_unknown_and_duplicate
        ),
        test_case!(
            "[sig-api-machinery] FieldValidation should detect unknown metadata fields of a typed object [Conformance]",
            field_validation_unknown_metadata
        ),
        test_case!(
            "[sig-api-machinery] Servers with support for API chunking should return chunks of results for list calls [Conformance]",
            list_chunking
        ),
        test_case!("[sig-api-machinery] ResourceQuota should manage the lifecycle of a ResourceQuota [Conformance]", resourcequota_lifecycle),
        test_case!("[sig-api-machinery] ResourceQuota should be able to update and delete ResourceQuota. [Conformance]", resourcequota_update_delete),
    ]
}

/// `/version` answers with a major and minor version that match the `gitVersion` string.
async fn server_version(ctx: TestContext) -> anyhow::Result<()> {
    let info = ctx.client.apiserver_version().await?;
    check!(!info.major.is_empty(), "major version is empty: {info:?}");
    check!(!info.minor.is_empty(), "minor version is empty: {info:?}");
    let minor_digits = info.minor.trim_end_matches('+');
    let prefix = format!("v{}.{}", info.major, minor_digits);
    check!(info.git_version.starts_with(&prefix), "gitVersion {:?} does not start with {prefix}", info.git_version);
    let regex = regex::Regex::new(r"^v\d+\.\d+\.\d+")?;
    check!(regex.is_match(&info.git_version), "gitVersion {:?} is not a semantic version", info.git_version);
    Ok(())
}

/// Every group listed in `/apis` serves `/apis/<group>` whose preferred version is one of its versions.
async fn discovery_preferred_version(ctx: TestContext) -> anyhow::Result<()> {
    let list: APIGroupList = ctx.get_json("/apis/").await?;
    check!(!list.groups.is_empty(), "/apis lists no groups");
    for listed in &list.groups {
        if listed.name.ends_with(".example.com") {
            continue;
        }
        let group: APIGroup = ctx.get_json(&format!("/apis/{}/", listed.name)).await?;
        check!(!group.versions.is_empty(), "group {} has no versions", listed.name);
        let preferred = group.preferred_version.as_ref().map(|v| v.group_version.as_str()).unwrap_or_default();
        check!(
            group.versions.iter().any(|v| v.group_version == preferred),
            "group {}: preferredVersion {preferred:?} is not among {:?}",
            listed.name,
            group.versions.iter().map(|v| &v.group_version).collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// The group versions every conformant server serves, each with one resource it must list.
const EXPECTED_GROUP_RESOURCES: &[(&str, &str)] = &[
    ("v1", "namespaces"),
    ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations"),
    ("apiextensions.k8s.io/v1", "customresourcedefinitions"),
    ("apiregistration.k8s.io/v1", "apiservices"),
    ("apps/v1", "deployments"),
    ("authentication.k8s.io/v1", "tokenreviews"),
    ("authorization.k8s.io/v1", "selfsubjectaccessreviews"),
    ("autoscaling/v1", "horizontalpodautoscalers"),
    ("autoscaling/v2", "horizontalpodautoscalers"),
    ("batch/v1", "jobs"),
    ("certificates.k8s.io/v1", "certificatesigningrequests"),
    ("coordination.k8s.io/v1", "leases"),
    ("discovery.k8s.io/v1", "endpointslices"),
    ("events.k8s.io/v1", "events"),
    ("networking.k8s.io/v1", "ingresses"),
    ("node.k8s.io/v1", "runtimeclasses"),
    ("policy/v1", "poddisruptionbudgets"),
    ("scheduling.k8s.io/v1", "priorityclasses"),
    ("storage.k8s.io/v1", "csinodes"),
];

/// Each expected group version serves a resource list naming itself and the expected resource.
async fn discovery_group_resources(ctx: TestContext) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for (group_version, resource) in EXPECTED_GROUP_RESOURCES {
        let path = if group_version.contains('/') { format!("/apis/{group_version}") } else { format!("/api/{group_version}") };
        match ctx.get_json::<APIResourceList>(&path).await {
            Err(error) => problems.push(format!("{path}: {error:#}")),
            Ok(list) if list.group_version != *group_version => {
                problems.push(format!("{path}: groupVersion is {:?}", list.group_version))
            }
            Ok(list) if !list.resources.iter().any(|r| r.name == *resource) => {
                problems.push(format!("{path}: resource {resource} not listed"))
            }
            Ok(_) => {}
        }
    }
    check!(problems.is_empty(), "discovery problems:\n{}", problems.join("\n"));
    Ok(())
}

/// Core (`/api`) resources every conformant server serves.
const EXPECTED_CORE_RESOURCES: &[&str] = &["namespaces", "configmaps", "secrets", "pods", "services", "endpoints", "events", "nodes", "serviceaccounts"];

/// The Accept header selecting the aggregated (v2) discovery document.
const AGGREGATED_DISCOVERY_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The `group/version` + resource pairs an aggregated discovery document lists ("v1" for the core group).
fn aggregated_resources(list: &APIGroupDiscoveryList) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for group in &list.items {
        let group_name = group.metadata.as_ref().and_then(|m| m.name.clone()).unwrap_or_default();
        for version in &group.versions {
            let version_name = version.version.clone().unwrap_or_default();
            let group_version = if group_name.is_empty() { version_name } else { format!("{group_name}/{version_name}") };
            for resource in &version.resources {
                found.insert((group_version.clone(), resource.resource.clone().unwrap_or_default()));
            }
        }
    }
    found
}

/// Lists expected (group version, resource) pairs missing from `found`.
fn missing_resources(found: &BTreeSet<(String, String)>) -> Vec<String> {
    EXPECTED_GROUP_RESOURCES
        .iter()
        .map(|(gv, r)| (gv.to_string(), r.to_string()))
        .chain(EXPECTED_CORE_RESOURCES.iter().map(|r| ("v1".to_string(), r.to_string())))
        .filter(|pair| !found.contains(pair))
        .map(|(gv, r)| format!("{gv} {r}"))
        .collect()
}

/// `/apis` and `/api` answer the aggregated-discovery Accept header with a v2 document listing
/// every built-in resource.
async fn aggregated_discovery_raw(ctx: TestContext) -> anyhow::Result<()> {
    let mut found = BTreeSet::new();
    for path in ["/apis", "/api"] {
        let response = ctx.raw(Method::GET, path, &[("Accept", AGGREGATED_DISCOVERY_ACCEPT)], None).await?;
        check!(response.status == StatusCode::OK, "GET {path}: status {}: {}", response.status, response.body);
        check!(
            response.content_type.contains("g=apidiscovery.k8s.io") && response.content_type.contains("v=v2"),
            "GET {path}: content type {:?} is not the aggregated discovery document",
            response.content_type
        );
        let list: APIGroupDiscoveryList = response.json()?;
        found.extend(aggregated_resources(&list));
    }
    let missing = missing_resources(&found);
    check!(missing.is_empty(), "aggregated discovery lacks: {missing:?}");
    Ok(())
}

/// The client's aggregated discovery calls list every built-in group version and resource.
async fn aggregated_discovery_client(ctx: TestContext) -> anyhow::Result<()> {
    let groups = ctx.client.list_api_groups_aggregated().await?;
    let core = ctx.client.list_core_api_versions_aggregated().await?;
    let mut found = aggregated_resources(&groups);
    found.extend(aggregated_resources(&core));
    let missing = missing_resources(&found);
    check!(missing.is_empty(), "aggregated discovery lacks: {missing:?}");
    let versions: BTreeSet<&String> = found.iter().map(|(gv, _)| gv).collect();
    let missing_versions: Vec<&str> =
        EXPECTED_GROUP_RESOURCES.iter().map(|(gv, _)| *gv).filter(|gv| !versions.contains(&gv.to_string())).collect();
    check!(missing_versions.is_empty(), "aggregated discovery lacks group versions {missing_versions:?}");
    Ok(())
}

/// Asking for a Table from a SelfSubjectAccessReview (which has no object metadata) is a 406.
async fn table_not_acceptable(ctx: TestContext) -> anyhow::Result<()> {
    let review = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"nonResourceAttributes": {"path": "/", "verb": "get"}}
    });
    let response = ctx
        .raw(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &[("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"), ("Content-Type", "application/json")],
            Some(serde_json::to_vec(&review)?),
        )
        .await?;
    check!(
        response.status == StatusCode::NOT_ACCEPTABLE,
        "expected 406 Not Acceptable, got {}: {}",
        response.status,
        response.body
    );
    let status: kube::core::Status = response.json()?;
    check!(status.code == 406, "Status body has code {} instead of 406: {}", status.code, response.body);
    Ok(())
}

/// A watch event reduced to what the tests compare: type, object name, resourceVersion, data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeenEvent {
    kind: &'static str,
    name: String,
    resource_version: String,
    data: BTreeMap<String, String>,
}

/// Takes the next `count` non-bookmark events from a watch, failing on error events or stream end.
async fn next_events(
    stream: &mut (impl Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin),
    count: usize,
) -> anyhow::Result<Vec<SeenEvent>> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        let Some(event) = stream.next().await else {
            anyhow::bail!("watch ended after {} of {count} expected events: {events:?}", events.len());
        };
        let (kind, object) = match event? {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => anyhow::bail!("watch error event: {e:?}"),
        };
        events.push(SeenEvent {
            kind,
            name: object.name_any(),
            resource_version: object.resource_version().unwrap_or_default(),
            data: object.data.clone().unwrap_or_default(),
        });
    }
    Ok(events)
}

fn config_map(ctx: &TestContext, name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap { metadata: ctx.meta(name, labels), ..ConfigMap::default() }
}

/// Sets `data.mutation` of a config map to `value` with a merge patch; returns the new object.
async fn set_mutation(api: &Api<ConfigMap>, name: &str, value: u32) -> anyhow::Result<ConfigMap> {
    Ok(api
        .patch(name, &PatchParams::default(), &Patch::Merge(json!({"data": {"mutation": value.to_string()}})))
        .await?)
}

fn kinds_and_names(events: &[SeenEvent]) -> Vec<(String, String)> {
    events.iter().map(|e| (e.kind.to_string(), e.name.clone())).collect()
}

fn expected(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, n)| (k.to_string(), n.to_string())).collect()
}

/// Three label-selected watches each see exactly the add/update/delete events of the objects
/// they select, in order.
async fn watch_add_update_delete(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = ctx.api();
    let label = "watch-this-configmap";
    let start = api.list(&Default::default()).await?.metadata.resource_version.unwrap_or_default();
    let mut watch_a = api.watch(&WatchParams::default().labels(&format!("{label}=multiple-watchers-A")), &start).await?.boxed();
    let mut watch_b = api.watch(&WatchParams::default().labels(&format!("{label}=multiple-watchers-B")), &start).await?.boxed();
    let mut watch_ab = api
        .watch(&WatchParams::default().labels(&format!("{label} in (multiple-watchers-A,multiple-watchers-B)")), &start)
        .await?
        .boxed();

    api.create(&PostParams::default(), &config_map(&ctx, "e2e-watch-test-configmap-a", &[(label, "multiple-watchers-A")])).await?;
    set_mutation(&api, "e2e-watch-test-configmap-a", 1).await?;
    set_mutation(&api, "e2e-watch-test-configmap-a", 2).await?;
    api.delete("e2e-watch-test-configmap-a", &DeleteParams::default()).await?;
    api.create(&PostParams::default(), &config_map(&ctx, "e2e-watch-test-configmap-b", &[(label, "multiple-watchers-B")])).await?;
    api.delete("e2e-watch-test-configmap-b", &DeleteParams::default()).await?;
    // A last object for watcher A, so "A saw nothing of B" is checked by order, not by waiting.
    api.create(&PostParams::default(), &config_map(&ctx, "e2e-watch-test-configmap-a2", &[(label, "multiple-watchers-A")])).await?;

    let a_events = next_events(&mut watch_a, 5).await?;
    let a_expected = expected(&[
        ("ADDED", "e2e-watch-test-configmap-a"),
        ("MODIFIED", "e2e-watch-test-configmap-a"),
        ("MODIFIED", "e2e-watch-test-configmap-a"),
        ("DELETED", "e2e-watch-test-configmap-a"),
        ("ADDED", "e2e-watch-test-configmap-a2"),
    ]);
    check!(kinds_and_names(&a_events) == a_expected, "watcher A saw {a_events:?}");
    check!(a_events[1].data.get("mutation").map(String::as_str) == Some("1"), "first MODIFIED lacks mutation 1: {:?}", a_events[1]);
    check!(a_events[2].data.get("mutation").map(String::as_str) == Some("2"), "second MODIFIED lacks mutation 2: {:?}", a_events[2]);

    let b_events = next_events(&mut watch_b, 2).await?;
    let b_expected = expected(&[("ADDED", "e2e-watch-test-configmap-b"), ("DELETED", "e2e-watch-test-configmap-b")]);
    check!(kinds_and_names(&b_events) == b_expected, "watcher B saw {b_events:?}");

    let ab_events = next_events(&mut watch_ab, 7).await?;
    let mut ab_expected = a_expected[..4].to_vec();
    ab_expected.extend(b_expected);
    ab_expected.push(a_expected[4].clone());
    check!(kinds_and_names(&ab_events) == ab_expected, "watcher A-or-B saw {ab_events:?}");
    Ok(())
}

/// A watch started at the resourceVersion of the first update replays only what came after it.
async fn watch_from_resource_version(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = ctx.api();
    let name = "e2e-watch-test-resource-version";
    api.create(&PostParams::default(), &config_map(&ctx, name, &[("watch-this-configmap", "from-resource-version")])).await?;
    let first_update = set_mutation(&api, name, 1).await?;
    set_mutation(&api, name, 2).await?;
    api.delete(name, &DeleteParams::default()).await?;

    let from = first_update.resource_version().unwrap_or_default();
    let mut watch = api.watch(&WatchParams::default().labels("watch-this-configmap=from-resource-version"), &from).await?.boxed();
    let events = next_events(&mut watch, 2).await?;
    check!(
        kinds_and_names(&events) == expected(&[("MODIFIED", name), ("DELETED", name)]),
        "watch from resourceVersion {from} saw {events:?}"
    );
    check!(events[0].data.get("mutation").map(String::as_str) == Some("2"), "replayed MODIFIED is not the second update: {:?}", events[0]);
    Ok(())
}

/// Closing a watch and opening a new one at the last seen resourceVersion loses no event.
async fn watch_restart_from_last_seen(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = ctx.api();
    let name = "e2e-watch-test-watch-closed";
    let selector = WatchParams::default().labels("watch-this-configmap=watch-closed-and-restarted");
    let start = api.list(&Default::default()).await?.metadata.resource_version.unwrap_or_default();
    let mut first_watch = api.watch(&selector, &start).await?.boxed();
    api.create(&PostParams::default(), &config_map(&ctx, name, &[("watch-this-configmap", "watch-closed-and-restarted")])).await?;
    set_mutation(&api, name, 1).await?;
    let seen = next_events(&mut first_watch, 2).await?;
    check!(kinds_and_names(&seen) == expected(&[("ADDED", name), ("MODIFIED", name)]), "first watch saw {seen:?}");
    drop(first_watch);

    set_mutation(&api, name, 2).await?;
    api.delete(name, &DeleteParams::default()).await?;
    let last_seen = seen[1].resource_version.clone();
    let mut second_watch = api.watch(&selector, &last_seen).await?.boxed();
    let events = next_events(&mut second_watch, 2).await?;
    check!(
        kinds_and_names(&events) == expected(&[("MODIFIED", name), ("DELETED", name)]),
        "restarted watch from {last_seen} saw {events:?}"
    );
    check!(events[0].data.get("mutation").map(String::as_str) == Some("2"), "restarted watch MODIFIED is not the second update: {:?}", events[0]);
    Ok(())
}

/// Relabeling an object out of a watch's selector shows up as DELETED, and back in as ADDED.
async fn watch_selector_deletion(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = ctx.api();
    let name = "e2e-watch-test-label-changed";
    let label = "watch-this-configmap";
    let start = api.list(&Default::default()).await?.metadata.resource_version.unwrap_or_default();
    let mut watch = api.watch(&WatchParams::default().labels(&format!("{label}=label-changed-and-restored")), &start).await?.boxed();
    api.create(&PostParams::default(), &config_map(&ctx, name, &[(label, "label-changed-and-restored")])).await?;
    set_mutation(&api, name, 1).await?;
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {label: "wrong-value"}}}))).await?;
    set_mutation(&api, name, 2).await?;
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {label: "label-changed-and-restored"}}}))).await?;
    set_mutation(&api, name, 3).await?;
    api.delete(name, &DeleteParams::default()).await?;

    let events = next_events(&mut watch, 6).await?;
    check!(
        kinds_and_names(&events)
            == expected(&[
                ("ADDED", name),
                ("MODIFIED", name),
                ("DELETED", name),
                ("ADDED", name),
                ("MODIFIED", name),
                ("DELETED", name),
            ]),
        "watch saw {events:?}"
    );
    check!(events[3].data.get("mutation").map(String::as_str) == Some("2"), "re-ADDED object should carry mutation 2: {:?}", events[3]);
    Ok(())
}

/// Several watches started at the same resourceVersion see the same events in the same order.
async fn watch_concurrent_order(ctx: TestContext) -> anyhow::Result<()> {
    const WATCHES: usize = 3;
    const CHANGES: usize = 30;
    let api: Api<ConfigMap> = ctx.api();
    let start = api.list(&Default::default()).await?.metadata.resource_version.unwrap_or_default();
    let mut watches = Vec::with_capacity(WATCHES);
    for _ in 0..WATCHES {
        watches.push(api.watch(&WatchParams::default(), &start).await?.boxed());
    }
    let producer_api = api.clone();
    let producer = tokio::spawn(async move {
        for i in 0..CHANGES {
            let name = format!("e2e-watch-test-order-{}", i % 5);
            let exists = producer_api.get_opt(&name).await?.is_some();
            if !exists {
                producer_api.create(&PostParams::default(), &ConfigMap { metadata: kube::api::ObjectMeta { name: Some(name), ..Default::default() }, ..Default::default() }).await?;
            } else if i % 3 == 0 {
                producer_api.delete(&name, &DeleteParams::default()).await?;
            } else {
                set_mutation(&producer_api, &name, u32::try_from(i)?).await?;
            }
        }
        anyhow::Ok(())
    });
    let mut sequences = Vec::with_capacity(WATCHES);
    for watch in &mut watches {
        sequences.push(next_events(watch, CHANGES).await?);
    }
    producer.await??;
    for (index, sequence) in sequences.iter().enumerate().skip(1) {
        check!(*sequence == sequences[0], "watch {index} saw a different order than watch 0:\n{sequence:?}\nvs\n{:?}", sequences[0]);
    }
    let versions: Vec<&str> = sequences[0].iter().map(|e| e.resource_version.as_str()).collect();
    let mut unique = versions.clone();
    unique.dedup();
    check!(unique.len() == versions.len(), "events repeat a resourceVersion: {versions:?}");
    Ok(())
}

/// Creates a namespace for a `[Serial]` namespace test.
async fn create_namespace(ctx: &TestContext, prefix: &str) -> anyhow::Result<(Api<Namespace>, String)> {
    let api: Api<Namespace> = ctx.cluster_api();
    let name = ctx.unique_name(prefix);
    api.create(&PostParams::default(), &Namespace { metadata: ctx.meta(&name, &[]), ..Namespace::default() }).await?;
    Ok((api, name))
}

/// Deletes a namespace made by a `[Serial]` namespace test, whatever the test's outcome.
async fn delete_namespace(api: &Api<Namespace>, name: &str) {
    if let Err(error) = api.delete(name, &DeleteParams::default()).await {
        tracing::warn!(%name, %error, "could not delete namespace");
    }
}

/// A merge patch adds a label that a later GET returns.
async fn namespace_patch(ctx: TestContext) -> anyhow::Result<()> {
    let (api, name) = create_namespace(&ctx, "nspatchtest").await?;
    let result = async {
        api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"testLabel": "testValue"}}}))).await?;
        let fetched = api.get(&name).await?;
        check!(fetched.labels().get("testLabel").map(String::as_str) == Some("testValue"), "label not patched: {:?}", fetched.labels());
        anyhow::Ok(())
    }
    .await;
    delete_namespace(&api, &name).await;
    result
}

/// A PUT of a namespace with a new label persists it.
async fn namespace_update(ctx: TestContext) -> anyhow::Result<()> {
    let (api, name) = create_namespace(&ctx, "e2e-ns").await?;
    let result = async {
        let mut namespace = api.get(&name).await?;
        namespace.labels_mut().insert("e2e-ns-update".into(), "updated".into());
        let updated = api.replace(&name, &PostParams::default(), &namespace).await?;
        check!(updated.labels().get("e2e-ns-update").map(String::as_str) == Some("updated"), "update response lacks label: {:?}", updated.labels());
        let fetched = api.get(&name).await?;
        check!(fetched.labels().get("e2e-ns-update").map(String::as_str) == Some("updated"), "label not persisted: {:?}", fetched.labels());
        anyhow::Ok(())
    }
    .await;
    delete_namespace(&api, &name).await;
    result
}

fn condition(kind: &str, message: &str) -> NamespaceCondition {
    NamespaceCondition {
        type_: kind.to_string(),
        status: "True".to_string(),
        reason: Some("E2E".to_string()),
        message: Some(message.to_string()),
        last_transition_time: None,
    }
}

/// The status subresource can be read, patched and replaced, each change visible afterwards.
async fn namespace_status(ctx: TestContext) -> anyhow::Result<()> {
    let (api, name) = create_namespace(&ctx, "e2e-ns-status").await?;
    let result = async {
        let status = api.get_status(&name).await?;
        check!(status.name_any() == name, "status read returned {}", status.name_any());

        let patch = json!({"status": {"conditions": [condition("StatusPatch", "Patched by an e2e test")]}});
        let patched = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
        let has = |ns: &Namespace, kind: &str| {
            ns.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.reason.as_deref() == Some("E2E")))
        };
        check!(has(&patched, "StatusPatch"), "patched status lacks the condition: {:?}", patched.status);

        let mut current = api.get_status(&name).await?;
        let conditions = current.status.get_or_insert_with(NamespaceStatus::default).conditions.get_or_insert_with(Vec::new);
        conditions.push(condition("StatusUpdate", "Updated by an e2e test"));
        let updated = api.replace_status(&name, &PostParams::default(), &current).await?;
        check!(has(&updated, "StatusUpdate"), "updated status lacks the condition: {:?}", updated.status);
        let fetched = api.get(&name).await?;
        check!(has(&fetched, "StatusPatch") && has(&fetched, "StatusUpdate"), "conditions not persisted: {:?}", fetched.status);
        anyhow::Ok(())
    }
    .await;
    delete_namespace(&api, &name).await;
    result
}

/// A Deployment body with an unknown spec field and a duplicated `replicas` field.
fn deployment_with_unknown_and_duplicate(name: &str) -> String {
    format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"{name}","labels":{{"app":"nginx"}}}},
"spec":{{"unknownField":"foo","replicas":1,"replicas":2,"selector":{{"matchLabels":{{"app":"nginx"}}}},
"template":{{"metadata":{{"labels":{{"app":"nginx"}}}},"spec":{{"containers":[{{"name":"nginx","image":"nginx:latest"}}]}}}}}}}}"#
    )
}

/// Strict validation rejects unknown and duplicate fields, Warn accepts with warnings, Ignore accepts silently.
async fn field_validation_unknown_and_duplicate(ctx: TestContext) -> anyhow::Result<()> {
    let path = |mode: &str| format!("/apis/apps/v1/namespaces/{}/deployments?fieldValidation={mode}", ctx.namespace);
    let headers = [("Content-Type", "application/json"), ("Accept", "application/json")];

    let strict = ctx.raw(Method::POST, &path("Strict"), &headers, Some(deployment_with_unknown_and_duplicate("deployment-strict").into_bytes())).await?;
    check!(strict.status == StatusCode::BAD_REQUEST, "Strict: expected 400, got {}: {}", strict.status, strict.body);
    check!(
        strict.body.contains(r#"strict decoding error: unknown field \"spec.unknownField\", duplicate field \"spec.replicas\""#),
        "Strict: error does not name both fields: {}",
        strict.body
    );

    let warn = ctx.raw(Method::POST, &path("Warn"), &headers, Some(deployment_with_unknown_and_duplicate("deployment-warn").into_bytes())).await?;
    check!(warn.status == StatusCode::CREATED, "Warn: expected 201, got {}: {}", warn.status, warn.body);
    let warnings = warn.warnings.join("\n");
    check!(
        warnings.contains("unknown field") && warnings.contains("spec.unknownField"),
        "Warn: no unknown-field warning: {:?}",
        warn.warnings
    );
    check!(
        warnings.contains("duplicate field") && warnings.contains("spec.replicas"),
        "Warn: no duplicate-field warning: {:?}",
        warn.warnings
    );

    let ignore = ctx.raw(Method::POST, &path("Ignore"), &headers, Some(deployment_with_unknown_and_duplicate("deployment-ignore").into_bytes())).await?;
    check!(ignore.status == StatusCode::CREATED, "Ignore: expected 201, got {}: {}", ignore.status, ignore.body);
    check!(
        !ignore.warnings.iter().any(|w| w.contains("unknown field") || w.contains("duplicate field")),
        "Ignore: unexpected warnings {:?}",
        ignore.warnings
    );
    Ok(())
}

/// Strict validation rejects an unknown field inside `metadata`.
async fn field_validation_unknown_metadata(ctx: TestContext) -> anyhow::Result<()> {
    let body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"deployment-meta","unknownMeta":"foo","labels":{"app":"nginx"}},
"spec":{"selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"labels":{"app":"nginx"}},
"spec":{"containers":[{"name":"nginx","image":"nginx:latest"}]}}}}"#;
    let response = ctx
        .raw(
            Method::POST,
            &format!("/apis/apps/v1/namespaces/{}/deployments?fieldValidation=Strict", ctx.namespace),
            &[("Content-Type", "application/json"), ("Accept", "application/json")],
            Some(body.as_bytes().to_vec()),
        )
        .await?;
    check!(response.status == StatusCode::BAD_REQUEST, "expected 400, got {}: {}", response.status, response.body);
    check!(response.body.contains(r#"strict decoding error: unknown field \"metadata.unknownMeta\""#), "error does not name metadata.unknownMeta: {}", response.body);
    Ok(())
}

fn hard_limits(cpu: &str, memory: &str) -> Option<ResourceQuotaSpec> {
    Some(ResourceQuotaSpec {
        hard: Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.to_string())), ("memory".to_string(), Quantity(memory.to_string()))])),
        ..ResourceQuotaSpec::default()
    })
}

/// A ResourceQuota's hard limits can be read, replaced and the quota deleted.
async fn resourcequota_update_delete(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ResourceQuota> = ctx.api();
    let name = "test-quota";
    api.create(&PostParams::default(), &ResourceQuota { metadata: ctx.meta(name, &[]), spec: hard_limits("1", "500Mi"), status: None }).await?;
    let fetched = api.get(name).await?;
    let hard = |q: &ResourceQuota, key: &str| q.spec.as_ref().and_then(|s| s.hard.as_ref()).and_then(|h| h.get(key)).map(|v| v.0.clone());
    check!(hard(&fetched, "cpu").as_deref() == Some("1") && hard(&fetched, "memory").as_deref() == Some("500Mi"), "created quota: {:?}", fetched.spec);
    let mut updated = fetched.clone();
    updated.spec = hard_limits("2", "1Gi");
    api.replace(name, &PostParams::default(), &updated).await?;
    let fetched = api.get(name).await?;
    check!(hard(&fetched, "cpu").as_deref() == Some("2") && hard(&fetched, "memory").as_deref() == Some("1Gi"), "updated quota: {:?}", fetched.spec);
    api.delete(name, &DeleteParams::default()).await?;
    match api.get(name).await {
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(error.into()),
        Ok(_) => anyhow::bail!("quota still exists after delete"),
    }
}

/// Lists 400 pod templates in pages of 17: every page but the last is full, names come in order,
/// `remainingItemCount` counts what is left, all pages share one resourceVersion, and the last
/// page has no continue token.
async fn list_chunking(ctx: TestContext) -> anyhow::Result<()> {
    const TOTAL: usize = 400;
    const PAGE: u32 = 17;
    let api: Api<PodTemplate> = ctx.api();
    let mut creations = futures::stream::iter((0..TOTAL).map(|index| {
        let api = api.clone();
        // Like upstream's test: a minimal valid template (one container).
        let template: PodTemplate = serde_json::from_value(json!({
            "metadata": { "name": format!("template-{index:04}") },
            "template": { "spec": { "containers": [{ "name": "test", "image": "test2" }] } },
        }))
        .expect("static pod template");
        async move { api.create(&PostParams::default(), &template).await }
    }))
    .buffer_unordered(8);
    while let Some(created) = creations.next().await {
        created?;
    }

    let mut seen = Vec::with_capacity(TOTAL);
    let mut continue_token: Option<String> = None;
    let mut first_version: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE);
        if let Some(token) = &continue_token {
            params = params.continue_token(token);
        }
        let page = api.list(&params).await?;
        let names: Vec<String> = page.items.iter().map(ResourceExt::name_any).collect();
        let version = page.metadata.resource_version.clone().unwrap_or_default();
        check!(!version.is_empty(), "page without resourceVersion");
        match &first_version {
            None => first_version = Some(version),
            Some(first) => check!(*first == version, "page resourceVersion {version} differs from the first page's {first}"),
        }
        seen.extend(names.iter().cloned());
        let remaining = TOTAL - seen.len();
        match page.metadata.continue_.clone().filter(|t| !t.is_empty()) {
            Some(token) => {
                check!(names.len() == PAGE as usize, "non-final page has {} items, expected {PAGE}", names.len());
                let reported = page.metadata.remaining_item_count;
                check!(reported == i64::try_from(remaining).ok(), "remainingItemCount {reported:?}, expected {remaining}");
                continue_token = Some(token);
            }
            None => {
                check!(remaining == 0, "no continue token but {remaining} items were not returned");
                check!(page.metadata.remaining_item_count.is_none(), "last page reports remainingItemCount {:?}", page.metadata.remaining_item_count);
                break;
            }
        }
    }
    let expected: Vec<String> = (0..TOTAL).map(|index| format!("template-{index:04}")).collect();
    check!(seen == expected, "paged names are not the {TOTAL} templates in order (got {} names)", seen.len());
    Ok(())
}

/// The finalizer every namespace starts with; set by the API server.
const KUBERNETES_FINALIZER: &str = "kubernetes";

/// Sends a namespace to its `/finalize` subresource and returns the answer.
async fn put_finalize(ctx: &TestContext, namespace: &Namespace) -> anyhow::Result<Namespace> {
    let name = namespace.name_any();
    let response = ctx
        .raw(
            Method::PUT,
            &format!("/api/v1/namespaces/{name}/finalize"),
            &[("Content-Type", "application/json"), ("Accept", "application/json")],
            Some(serde_json::to_vec(namespace)?),
        )
        .await?;
    check!(response.status == StatusCode::OK, "PUT finalize: status {}: {}", response.status, response.body);
    response.json()
}

fn finalizers(namespace: &Namespace) -> Vec<String> {
    namespace.spec.as_ref().and_then(|s| s.finalizers.clone()).unwrap_or_default()
}

/// `/finalize` adds a spec finalizer and removes it again; the main resource shows each state.
async fn namespace_finalizer(ctx: TestContext) -> anyhow::Result<()> {
    let (api, name) = create_namespace(&ctx, "e2e-ns-finalizer").await?;
    let result = async {
        let original = api.get(&name).await?;

        let fake = "e2e.example.com/fakeFinalizer";
        let mut with_fake = original.clone();
        with_fake.spec.get_or_insert_with(Default::default).finalizers.get_or_insert_with(Vec::new).push(fake.to_string());
        let answered = put_finalize(&ctx, &with_fake).await?;
        check!(finalizers(&answered).iter().any(|f| f == fake), "finalize answer lacks the fake finalizer: {:?}", finalizers(&answered));
        let fetched = api.get(&name).await?;
        check!(finalizers(&fetched).iter().any(|f| f == fake), "fake finalizer not persisted: {:?}", finalizers(&fetched));

        let mut without_fake = fetched.clone();
        if let Some(list) = without_fake.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
            list.retain(|f| f != fake);
        }
        put_finalize(&ctx, &without_fake).await?;
        let fetched = api.get(&name).await?;
        check!(finalizers(&fetched) == finalizers(&original), "finalizers after removal are {:?}, originally {:?}", finalizers(&fetched), finalizers(&original));
        check!(finalizers(&original) == [KUBERNETES_FINALIZER], "a new namespace should carry the {KUBERNETES_FINALIZER:?} finalizer, has {:?}", finalizers(&original));
        anyhow::Ok(())
    }
    .await;
    delete_namespace(&api, &name).await;
    result
}

/// A labeled ResourceQuota: get, list by label, patch its hard limits, delete by collection.
async fn resourcequota_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<ResourceQuota> = ctx.api();
    let name = ctx.unique_name("e2e-quota");
    let selector = ListParams::default().labels(&format!("e2e-rq-label={name}"));
    api.create(&PostParams::default(), &ResourceQuota { metadata: ctx.meta(&name, &[("e2e-rq-label", &name)]), spec: hard_limits("1", "500Mi"), status: None })
        .await?;
    let hard = |q: &ResourceQuota, key: &str| q.spec.as_ref().and_then(|s| s.hard.as_ref()).and_then(|h| h.get(key)).map(|v| v.0.clone());
    let fetched = api.get(&name).await?;
    check!(hard(&fetched, "cpu").as_deref() == Some("1") && hard(&fetched, "memory").as_deref() == Some("500Mi"), "created quota: {:?}", fetched.spec);
    let listed = api.list(&selector).await?;
    check!(listed.items.len() == 1, "expected one quota by label, listed {}", listed.items.len());

    let patch = json!({"metadata": {"labels": {"patched": "true"}}, "spec": {"hard": {"cpu": "2", "memory": "1Gi"}}});
    let patched = api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    check!(patched.labels().get("patched").map(String::as_str) == Some("true"), "label not patched: {:?}", patched.labels());
    check!(hard(&patched, "cpu").as_deref() == Some("2") && hard(&patched, "memory").as_deref() == Some("1Gi"), "patched quota: {:?}", patched.spec);

    api.delete_collection(&DeleteParams::default(), &selector).await?;
    match api.get(&name).await {
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(error.into()),
        Ok(_) => anyhow::bail!("quota still exists after delete collection"),
    }
}
