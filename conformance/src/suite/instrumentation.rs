//! `[sig-instrumentation]` tests: core/v1 Events and events.k8s.io/v1 Events through the API.

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

use crate::context::{is_not_found, random_suffix, TestContext};
use crate::runner::TestCase;
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-instrumentation] Events should manage the lifecycle of an event [Conformance]", core_event_lifecycle),
        test_case!("[sig-instrumentation] Events should delete a collection of events [Conformance]", core_event_delete_collection),
        test_case!(
            "[sig-instrumentation] Events API should ensure that an event can be fetched, patched, deleted, and listed [Conformance]",
            events_api_lifecycle
        ),
        test_case!("[sig-instrumentation] Events API should delete a collection of events [Conformance]", events_api_delete_collection),
    ]
}

fn now() -> k8s_openapi::jiff::Timestamp {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}

fn core_event(ctx: &TestContext, name: &str, labels: &[(&str, &str)]) -> CoreEvent {
    CoreEvent {
        metadata: ctx.meta(name, labels),
        involved_object: ObjectReference {
            kind: Some("Pod".into()),
            name: Some("example-pod".into()),
            namespace: Some(ctx.namespace.clone()),
            api_version: Some("v1".into()),
            ..ObjectReference::default()
        },
        reason: Some("Testing".into()),
        message: Some("This is a test event".into()),
        type_: Some("Normal".into()),
        count: Some(1),
        first_timestamp: Some(Time(now())),
        last_timestamp: Some(Time(now())),
        source: Some(EventSource { component: Some("e2e-test".into()), host: None }),
        ..CoreEvent::default()
    }
}

/// core/v1 Event: create, find across namespaces, patch, update, delete, confirm gone.
async fn core_event_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<CoreEvent> = ctx.api();
    let name = ctx.unique_name("event-test");
    let marker = random_suffix(8);
    api.create(&PostParams::default(), &core_event(&ctx, &name, &[("testevent-constant", "true"), ("e2e-run", &marker)])).await?;

    let everywhere: Api<CoreEvent> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(found.items.iter().any(|e| e.name_any() == name), "event not found across namespaces");

    api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"message": "This is a test event - patched"}))).await?;
    let fetched = api.get(&name).await?;
    check!(fetched.message.as_deref() == Some("This is a test event - patched"), "message not patched: {:?}", fetched.message);

    let mut updated = fetched.clone();
    updated.count = Some(2);
    updated.message = Some("This is a test event - updated".into());
    api.replace(&name, &PostParams::default(), &updated).await?;
    let fetched = api.get(&name).await?;
    check!(fetched.message.as_deref() == Some("This is a test event - updated") && fetched.count == Some(2), "update not persisted: {:?}", fetched.message);

    api.delete(&name, &DeleteParams::default()).await?;
    match api.get(&name).await {
        Err(error) if is_not_found(&error) => {}
        Err(error) => return Err(error.into()),
        Ok(_) => anyhow::bail!("event still exists after delete"),
    }
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(found.items.is_empty(), "event still listed after delete");
    Ok(())
}

/// Three labeled core/v1 Events are removed by one delete-collection call.
async fn core_event_delete_collection(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<CoreEvent> = ctx.api();
    for index in 1..=3 {
        api.create(&PostParams::default(), &core_event(&ctx, &format!("test-event-{index}"), &[("testevent-set", "true")])).await?;
    }
    let selector = ListParams::default().labels("testevent-set=true");
    check!(api.list(&selector).await?.items.len() == 3, "expected 3 events before delete collection");
    api.delete_collection(&DeleteParams::default(), &selector).await?;
    let remaining = api.list(&selector).await?;
    check!(remaining.items.is_empty(), "delete collection left {}", remaining.items.len());
    Ok(())
}

fn events_api_event(ctx: &TestContext, name: &str, labels: &[(&str, &str)]) -> Event {
    Event {
        metadata: ctx.meta(name, labels),
        event_time: Some(MicroTime(now())),
        reporting_controller: Some("test-controller".into()),
        reporting_instance: Some("test-node".into()),
        action: Some("Do".into()),
        reason: Some("Test".into()),
        type_: Some("Normal".into()),
        note: Some("This is test".into()),
        regarding: Some(ObjectReference {
            kind: Some("Pod".into()),
            name: Some("example-pod".into()),
            namespace: Some(ctx.namespace.clone()),
            api_version: Some("v1".into()),
            ..ObjectReference::default()
        }),
        ..Event::default()
    }
}

/// events.k8s.io/v1 Event: discovery, create, list (namespace and all), get, patch, update, delete.
async fn events_api_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let list: k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList = ctx.get_json("/apis/events.k8s.io/v1").await?;
    check!(list.resources.iter().any(|r| r.name == "events"), "events.k8s.io/v1 does not list events");
    let api: Api<Event> = ctx.api();
    let name = "event-test";
    let marker = random_suffix(8);
    api.create(&PostParams::default(), &events_api_event(&ctx, name, &[("test-event", "true"), ("e2e-run", &marker)])).await?;
    let in_namespace = api.list(&ListParams::default().labels("test-event=true")).await?;
    check!(in_namespace.items.len() == 1, "expected one event in the namespace, listed {}", in_namespace.items.len());
    let everywhere: Api<Event> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(found.items.iter().any(|e| e.name_any() == name), "event not found across namespaces");

    let fetched = api.get(name).await?;
    check!(fetched.note.as_deref() == Some("This is test") && fetched.action.as_deref() == Some("Do"), "created event fields differ: {fetched:?}");

    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"note": "This is patched"}))).await?;
    let fetched = api.get(name).await?;
    check!(fetched.note.as_deref() == Some("This is patched"), "note not patched: {:?}", fetched.note);

    let mut updated = fetched.clone();
    updated.series = Some(k8s_openapi::api::events::v1::EventSeries { count: 100, last_observed_time: MicroTime(now()) });
    api.replace(name, &PostParams::default(), &updated).await?;
    let fetched = api.get(name).await?;
    check!(fetched.series.as_ref().map(|s| s.count) == Some(100), "series not updated: {:?}", fetched.series);

    api.delete(name, &DeleteParams::default()).await?;
    let remaining = api.list(&ListParams::default().labels("test-event=true")).await?;
    check!(remaining.items.is_empty(), "event still listed after delete");
    Ok(())
}

/// Three labeled events.k8s.io/v1 Events are removed by one delete-collection call.
async fn events_api_delete_collection(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Event> = ctx.api();
    for index in 1..=3 {
        api.create(&PostParams::default(), &events_api_event(&ctx, &format!("event-test-{index}"), &[("test-event", "true")])).await?;
    }
    let selector = ListParams::default().labels("test-event=true");
    check!(api.list(&selector).await?.items.len() == 3, "expected 3 events before delete collection");
    api.delete_collection(&DeleteParams::default(), &selector).await?;
    let remaining = api.list(&selector).await?;
    check!(remaining.items.is_empty(), "delete collection left {}", remaining.items.len());
    Ok(())
}
