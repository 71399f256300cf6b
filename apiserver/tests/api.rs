//! API behaviour through a real client (kube-rs) against an in-process server on port 0 with the
//! embedded store: the level between unit tests and the kubectl-driven end-to-end suite.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::Client;
use serde_json::json;

mod common;

use common::start;

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
        data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    }
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn system_namespaces_and_kubernetes_service_exist() {
    let s = start().await;
    let namespaces: Api<Namespace> = Api::all(s.client.clone());
    let names: Vec<String> = namespaces.list(&ListParams::default()).await.expect("list").items.into_iter().filter_map(|n| n.metadata.name).collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&ns.to_string()), "{ns} missing from {names:?}");
    }
    let svc: Api<Service> = Api::namespaced(s.client.clone(), "default");
    let k = svc.get("kubernetes").await.expect("kubernetes service");
    assert_eq!(k.spec.and_then(|s| s.cluster_ip).as_deref(), Some("10.43.0.1"));
}

#[tokio::test]
async fn create_get_conflict_and_not_found_read_like_upstream() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let created = api.create(&PostParams::default(), &cm("a", &[("k", "v")])).await.expect("create");
    let rv = created.metadata.resource_version.clone().expect("resourceVersion set");
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let dup = api_error(api.create(&PostParams::default(), &cm("a", &[])).await.expect_err("duplicate"));
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(dup.message, "configmaps \"a\" already exists");

    let missing = api_error(api.get("nope").await.expect_err("missing"));
    assert_eq!((missing.code, missing.message.as_str()), (404, "configmaps \"nope\" not found"));

    // A write with the current version succeeds and bumps it; the old version then conflicts.
    let mut updated = created.clone();
    updated.data = Some(BTreeMap::from([("k".to_string(), "v2".to_string())]));
    let after = api.replace("a", &PostParams::default(), &updated).await.expect("update");
    assert_ne!(after.metadata.resource_version.as_deref(), Some(rv.as_str()));
    let stale = api_error(api.replace("a", &PostParams::default(), &updated).await.expect_err("stale"));
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert!(stale.message.contains("the object has been modified"), "{}", stale.message);
}

#[tokio::test]
async fn creating_in_a_missing_namespace_is_not_found() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "no-such-ns");
    let e = api_error(api.create(&PostParams::default(), &cm("a", &[])).await.expect_err("refused"));
    assert_eq!((e.code, e.message.as_str()), (404, "namespaces \"no-such-ns\" not found"));
}

#[tokio::test]
async fn invalid_names_are_unprocessable_with_field_causes() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let e = api_error(api.create(&PostParams::default(), &cm("Not_Valid", &[])).await.expect_err("invalid"));
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    let causes = e.details.map(|d| d.causes).unwrap_or_default();
    assert!(causes.iter().any(|c| c.field == "metadata.name"), "{causes:?}");
}

#[tokio::test]
async fn list_pages_with_limit_and_continue_at_one_revision() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    for i in 0..25 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:02}"), &[])).await.expect("create");
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(7);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("page");
        pages += 1;
        names.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        if pages == 1 {
            // Writes after the first page must not show up in later pages.
            api.create(&PostParams::default(), &cm("cm-99-late", &[])).await.expect("late create");
            assert_eq!(page.metadata.remaining_item_count, Some(18));
        }
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(names.len(), 25, "{names:?}");
    assert!(!names.contains(&"cm-99-late".to_string()));
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    for (name, tier) in [("a", "web"), ("b", "db"), ("c", "web")] {
        let mut c = cm(name, &[]);
        c.metadata.labels = Some(BTreeMap::from([("tier".to_string(), tier.to_string())]));
        api.create(&PostParams::default(), &c).await.expect("create");
    }
    let web = api.list(&ListParams::default().labels("tier=web")).await.expect("list");
    let mut names: Vec<_> = web.items.into_iter().filter_map(|c| c.metadata.name).collect();
    names.sort();
    assert_eq!(names, ["a", "c"]);
    let one = api.list(&ListParams::default().fields("metadata.name=b")).await.expect("list");
    assert_eq!(one.items.len(), 1);
    let bad = api_error(api.list(&ListParams::default().fields("spec.nothing=x")).await.expect_err("unsupported field"));
    assert_eq!(bad.code, 400);
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version_and_sees_changes_in_order() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let created = api.create(&PostParams::default(), &cm("w", &[("n", "0")])).await.expect("create");
    let rv = created.metadata.resource_version.expect("rv");
    for i in 1..=3 {
        api.patch("w", &PatchParams::default(), &Patch::Merge(json!({"data": {"n": i.to_string()}}))).await.expect("patch");
    }
    api.delete("w", &DeleteParams::default()).await.expect("delete");
    let mut stream = api.watch(&WatchParams::default().timeout(5), &rv).await.expect("watch").boxed();
    let mut seen = Vec::new();
    while let Some(ev) = stream.try_next().await.expect("event") {
        match ev {
            WatchEvent::Modified(c) => seen.push(format!("M{}", c.data.unwrap_or_default()["n"])),
            WatchEvent::Deleted(_) => {
                seen.push("D".into());
                break;
            }
            WatchEvent::Added(_) => seen.push("A".into()),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(seen, ["M1", "M2", "M3", "D"]);
}

#[tokio::test]
async fn dry_run_does_not_persist() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let pp = PostParams { dry_run: true, ..Default::default() };
    api.create(&pp, &cm("dry", &[])).await.expect("dry-run create");
    assert_eq!(api_error(api.get("dry").await.expect_err("not stored")).code, 404);
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let mut c = cm("fin", &[]);
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &c).await.expect("create");
    api.delete("fin", &DeleteParams::default()).await.expect("delete accepted");
    let held = api.get("fin").await.expect("still there");
    assert!(held.metadata.deletion_timestamp.is_some());
    api.patch("fin", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.expect("remove finalizer");
    assert_eq!(api_error(api.get("fin").await.expect_err("gone")).code, 404);
}

#[tokio::test]
async fn status_and_scale_subresources_touch_only_their_part() {
    let s = start().await;
    let api: Api<Deployment> = Api::namespaced(s.client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
        "status": {"replicas": 7},
    }))
    .expect("deployment");
    let created = api.create(&PostParams::default(), &d).await.expect("create");
    assert!(created.status.is_none() || created.status.as_ref().and_then(|s| s.replicas).is_none(), "status is dropped on create");
    assert_eq!(created.metadata.generation, Some(1));

    api.patch_status("d", &PatchParams::default(), &Patch::Merge(json!({"status": {"replicas": 2}}))).await.expect("status patch");
    let scale = api.get_scale("d").await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));
    assert_eq!(scale.status.as_ref().map(|s| s.replicas), Some(2));
    assert_eq!(scale.status.and_then(|s| s.selector).as_deref(), Some("app=d"));

    api.patch_scale("d", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.expect("scale patch");
    let now = api.get("d").await.expect("get");
    assert_eq!(now.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(now.status.and_then(|s| s.replicas), Some(2), "spec writes keep status");
    assert_eq!(now.metadata.generation, Some(2), "a spec change bumps the generation");
}

#[tokio::test]
async fn concurrent_service_creates_get_distinct_cluster_ips_and_node_ports() {
    let s = start().await;
    let api: Api<Service> = Api::namespaced(s.client.clone(), "default");
    let api = Arc::new(api);
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let svc: Service = serde_json::from_value(json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("s{i}")},
                    "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]},
                }))
                .expect("svc");
                api.create(&PostParams::default(), &svc).await.expect("create")
            })
        })
        .collect();
    let mut ips = std::collections::HashSet::new();
    let mut ports = std::collections::HashSet::new();
    for t in tasks {
        let svc = t.await.expect("task");
        let spec = svc.spec.expect("spec");
        let ip: std::net::Ipv4Addr = spec.cluster_ip.expect("clusterIP").parse().expect("an IPv4 address");
        assert_eq!(ip.octets()[..2], [10, 43]);
        assert!(ips.insert(ip), "duplicate IP {ip}");
        let np = spec.ports.expect("ports")[0].node_port.expect("nodePort");
        assert!((30000..=32767).contains(&np));
        assert!(ports.insert(np), "duplicate node port {np}");
    }
    // A requested, already-allocated IP is refused.
    let taken: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "taken"},
        "spec": {"clusterIP": "10.43.0.1", "ports": [{"port": 80}]},
    }))
    .expect("svc");
    let e = api_error(api.create(&PostParams::default(), &taken).await.expect_err("refused"));
    assert_eq!(e.code, 422);
    assert!(e.message.contains("provided IP is already allocated"), "{}", e.message);
}

#[tokio::test]
async fn requests_without_a_client_certificate_are_unauthorized() {
    let s = start().await;
    let mut anonymous = s.config.clone();
    anonymous.auth_info = Default::default();
    let client = Client::try_from(anonymous).expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let e = api_error(api.list(&ListParams::default()).await.expect_err("401"));
    assert_eq!(e.code, 401);
    let version = client.apiserver_version().await.expect("/version is public");
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn oversized_bodies_are_rejected_with_413() {
    let s = start().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), "default");
    let big = "x".repeat(3 * 1024 * 1024 + 10);
    let e = api_error(api.create(&PostParams::default(), &cm("big", &[("k", &big)])).await.expect_err("too large"));
    assert_eq!(e.code, 413);
}
