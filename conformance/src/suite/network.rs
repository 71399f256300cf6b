//! `[sig-network]` tests that need only the API server: services listed across namespaces,
//! endpoints, ingress classes, ingresses and endpoint slices.

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass, IngressClassSpec, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

use crate::context::{random_suffix, TestContext};
use crate::runner::TestCase;
use crate::suite::common::{delete_by_selector, exercise_api_operations};
use crate::suite::{check, test_case};

pub(super) fn tests() -> Vec<TestCase> {
    vec![
        test_case!("[sig-network] Services should find a service from listing all namespaces [Conformance]", service_in_all_namespaces),
        test_case!("[sig-network] Services should test the lifecycle of an Endpoint [Conformance]", endpoint_lifecycle),
        test_case!("[sig-network] Services should delete a collection of services [Conformance]", service_delete_collection),
        test_case!("[sig-network] Services should complete a service status lifecycle [Conformance]", service_status_lifecycle),
        test_case!("[sig-network] IngressClass API should support creating IngressClass API operations [Conformance]", ingressclass_api),
        test_case!("[sig-network] Ingress API should support creating Ingress API operations [Conformance]", ingress_api),
        test_case!("[sig-network] EndpointSlice should support creating EndpointSlice API operations [Conformance]", endpointslice_api),
    ]
}

async fn expect_discovered(ctx: &TestContext, group_version: &str, resource: &str) -> anyhow::Result<()> {
    let list: APIResourceList = ctx.get_json(&format!("/apis/{group_version}")).await?;
    check!(list.resources.iter().any(|r| r.name == resource), "{group_version} does not list {resource}");
    Ok(())
}

/// A service created in the test namespace is found by listing services in all namespaces.
async fn service_in_all_namespaces(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Service> = ctx.api();
    let name = "test-service";
    let service = Service {
        metadata: ctx.meta(name, &[]),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort { port: 80, protocol: Some("TCP".into()), ..ServicePort::default() }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    api.create(&PostParams::default(), &service).await?;
    let everywhere: Api<Service> = ctx.all_namespaces_api();
    let all = everywhere.list(&ListParams::default()).await?;
    check!(
        all.items.iter().any(|s| s.name_any() == name && s.namespace().as_deref() == Some(ctx.namespace.as_str())),
        "service {name} in {} not found among {} services in all namespaces",
        ctx.namespace,
        all.items.len()
    );
    Ok(())
}

/// Endpoints: create, get, find across namespaces, update, patch, delete by collection.
async fn endpoint_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Endpoints> = ctx.api();
    let name = "testservice";
    let marker = random_suffix(8);
    let endpoints = Endpoints {
        metadata: ctx.meta(name, &[("test-endpoint-static", "true"), ("e2e-run", &marker)]),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress { ip: "10.0.0.24".into(), ..EndpointAddress::default() }]),
            ports: Some(vec![EndpointPort { name: Some("http".into()), port: 80, protocol: Some("TCP".into()), ..EndpointPort::default() }]),
            ..EndpointSubset::default()
        }]),
    };
    api.create(&PostParams::default(), &endpoints).await?;
    let fetched = api.get(name).await?;
    check!(fetched.subsets == endpoints.subsets, "created subsets {:?} differ", fetched.subsets);

    let everywhere: Api<Endpoints> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(found.items.iter().any(|e| e.name_any() == name), "endpoints not found across namespaces");

    let mut updated = fetched.clone();
    updated.labels_mut().insert("test-service".into(), "updated".into());
    api.replace(name, &PostParams::default(), &updated).await?;
    let fetched = api.get(name).await?;
    check!(fetched.labels().get("test-service").map(String::as_str) == Some("updated"), "update not persisted");

    let patch = json!({
        "metadata": {"labels": {"test-service": "patched"}},
        "subsets": [{"addresses": [{"ip": "10.0.0.25"}], "ports": [{"name": "http-test", "port": 8080}]}]
    });
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let fetched = api.get(name).await?;
    check!(fetched.labels().get("test-service").map(String::as_str) == Some("patched"), "patched label not persisted");
    let subset = fetched.subsets.as_ref().and_then(|s| s.first());
    let ip = subset.and_then(|s| s.addresses.as_ref()).and_then(|a| a.first()).map(|a| a.ip.as_str());
    let port = subset.and_then(|s| s.ports.as_ref()).and_then(|p| p.first()).map(|p| p.port);
    check!(ip == Some("10.0.0.25") && port == Some(8080), "patched subsets not persisted: {:?}", fetched.subsets);

    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("test-endpoint-static=true")).await?;
    let found = everywhere.list(&ListParams::default().labels(&format!("e2e-run={marker}"))).await?;
    check!(found.items.is_empty(), "endpoints still listed after delete collection");
    Ok(())
}

/// IngressClasses: discovery, then the full API-operations sequence.
async fn ingressclass_api(ctx: TestContext) -> anyhow::Result<()> {
    expect_discovered(&ctx, "networking.k8s.io/v1", "ingressclasses").await?;
    let api: Api<IngressClass> = ctx.cluster_api();
    let marker = random_suffix(8);
    let selector = format!("e2e-run={marker}");
    let objects = (1..=3)
        .map(|index| IngressClass {
            metadata: ctx.meta(&format!("e2e-ic-{marker}-{index}"), &[("e2e-run", &marker)]),
            spec: Some(IngressClassSpec { controller: Some("example.com/controller".into()), parameters: None }),
        })
        .collect();
    let result = exercise_api_operations(&api, objects, &selector).await;
    delete_by_selector(&api, &selector).await;
    result
}

/// Ingresses: discovery, the API-operations sequence, and the status subresource.
async fn ingress_api(ctx: TestContext) -> anyhow::Result<()> {
    expect_discovered(&ctx, "networking.k8s.io/v1", "ingresses").await?;
    expect_discovered(&ctx, "networking.k8s.io/v1", "ingresses/status").await?;
    let api: Api<Ingress> = ctx.api();
    let ingress = |name: String| Ingress {
        metadata: ctx.meta(&name, &[("special-label", &ctx.namespace)]),
        spec: Some(IngressSpec {
            default_backend: Some(IngressBackend {
                service: Some(IngressServiceBackend {
                    name: "default-backend".into(),
                    port: Some(ServiceBackendPort { number: Some(8080), name: None }),
                }),
                resource: None,
            }),
            rules: Some(vec![IngressRule {
                host: Some("foo.bar.com".into()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: "test-backend".into(),
                                port: Some(ServiceBackendPort { number: Some(8080), name: None }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    };
    let name = "ingress-status";
    api.create(&PostParams::default(), &ingress(name.to_string())).await?;
    let patch = json!({"status": {"loadBalancer": {"ingress": [{"ip": "169.1.1.1"}]}}});
    let patched = api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let ip = |i: &Ingress| {
        i.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref()).and_then(|v| v.first()).and_then(|e| e.ip.clone())
    };
    check!(ip(&patched).as_deref() == Some("169.1.1.1"), "status patch response: {:?}", patched.status);
    let fetched = api.get_status(name).await?;
    check!(ip(&fetched).as_deref() == Some("169.1.1.1"), "status not persisted: {:?}", fetched.status);
    api.delete(name, &DeleteParams::default()).await?;

    let selector = format!("special-label={}", ctx.namespace);
    let objects = (1..=3).map(|index| ingress(format!("ingress{index}"))).collect();
    exercise_api_operations(&api, objects, &selector).await
}

/// EndpointSlices: discovery, then the API-operations sequence (also listed across namespaces).
async fn endpointslice_api(ctx: TestContext) -> anyhow::Result<()> {
    expect_discovered(&ctx, "discovery.k8s.io/v1", "endpointslices").await?;
    let api: Api<EndpointSlice> = ctx.api();
    let selector = format!("special-label={}", ctx.namespace);
    let slice = |index: usize| EndpointSlice {
        metadata: ctx.meta(&format!("e2e-example-ing{index}"), &[("special-label", &ctx.namespace)]),
        address_type: "IPv4".into(),
        endpoints: vec![Endpoint { addresses: vec!["1.2.3.4".into(), "5.6.7.8".into()], ..Endpoint::default() }],
        ports: None,
    };
    api.create(&PostParams::default(), &slice(0)).await?;
    let everywhere: Api<EndpointSlice> = ctx.all_namespaces_api();
    let found = everywhere.list(&ListParams::default().labels(&selector)).await?;
    check!(found.items.iter().any(|s| s.name_any() == "e2e-example-ing0"), "slice not found across namespaces");
    api.delete("e2e-example-ing0", &DeleteParams::default()).await?;
    exercise_api_operations(&api, (1..=3).map(slice).collect(), &selector).await
}

fn simple_service(ctx: &TestContext, name: &str, labels: &[(&str, &str)]) -> Service {
    Service {
        metadata: ctx.meta(name, labels),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            ports: Some(vec![ServicePort { name: Some("http".into()), port: 80, protocol: Some("TCP".into()), ..ServicePort::default() }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Three labeled services are all removed by one delete-collection call.
async fn service_delete_collection(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Service> = ctx.api();
    for index in 1..=3 {
        api.create(&PostParams::default(), &simple_service(&ctx, &format!("e2e-svc-{index}"), &[("e2e-test-service", "delete")])).await?;
    }
    let selector = ListParams::default().labels("e2e-test-service=delete");
    let listed = api.list(&selector).await?;
    check!(listed.items.len() == 3, "expected 3 services, listed {}", listed.items.len());
    api.delete_collection(&DeleteParams::default(), &selector).await?;
    let remaining = api.list(&selector).await?;
    check!(remaining.items.is_empty(), "delete collection left {}", remaining.items.len());
    Ok(())
}

/// A service's status can be patched (load balancer) and updated (conditions) through the status
/// subresource, and a later patch of the main resource keeps that status.
async fn service_status_lifecycle(ctx: TestContext) -> anyhow::Result<()> {
    let api: Api<Service> = ctx.api();
    let name = "test-service";
    api.create(&PostParams::default(), &simple_service(&ctx, name, &[("test-service-static", "true")])).await?;
    let listed = api.list(&ListParams::default().labels("test-service-static=true")).await?;
    check!(listed.items.len() == 1, "expected 1 service, listed {}", listed.items.len());

    let patch = json!({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}});
    let patched = api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    let ip = |s: &Service| {
        s.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref()).and_then(|v| v.first()).and_then(|i| i.ip.clone())
    };
    check!(ip(&patched).as_deref() == Some("203.0.113.1"), "status patch response: {:?}", patched.status);

    let mut current = api.get_status(name).await?;
    let status = current.status.get_or_insert_with(Default::default);
    status.conditions = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: "StatusUpdate".into(),
        status: "True".into(),
        reason: "E2E".into(),
        message: "Set from e2e test".into(),
        last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000)?),
        observed_generation: None,
    }]);
    api.replace_status(name, &PostParams::default(), &current).await?;
    let fetched = api.get(name).await?;
    let has_condition = |s: &Service| s.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "StatusUpdate"));
    check!(has_condition(&fetched) && ip(&fetched).is_some(), "status update not persisted: {:?}", fetched.status);

    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"test-service": "patched"}}}))).await?;
    let fetched = api.get(name).await?;
    check!(fetched.labels().get("test-service").map(String::as_str) == Some("patched"), "label not patched");
    check!(has_condition(&fetched), "patching the service lost its status: {:?}", fetched.status);

    api.delete(name, &DeleteParams::default()).await?;
    let remaining = api.list(&ListParams::default().labels("test-service-static=true")).await?;
    check!(remaining.items.iter().all(|s| s.metadata.deletion_timestamp.is_some()), "service still listed after delete");
    Ok(())
}
