//! Namespace lifecycle: empties a terminating namespace, then releases its `kubernetes` finalizer.
//!
//! Deleting a namespace only marks it (`deletionTimestamp`, phase `Terminating`) because its
//! `spec.finalizers` holds `kubernetes`. This controller deletes every namespaced object in it
//! (respecting their own finalizers), records progress in the namespace's conditions like
//! upstream (`NamespaceContentRemaining`, `NamespaceFinalizersRemaining`), and once nothing is
//! left calls the `finalize` subresource without `kubernetes`; the API server then removes the
//! namespace.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::resources;

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";
const RETRY: Duration = Duration::from_secs(2);

/// Watches namespaces and finalizes the terminating ones until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let api: Api<Namespace> = Api::all(client.clone());
    let in_progress: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut events = watcher(api, watcher::Config::default()).boxed();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.next() => e,
        };
        let ns = match event {
            Some(Ok(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns))) => ns,
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "namespace watch failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            None => return,
        };
        if !is_terminating_with_our_finalizer(&ns) {
            continue;
        }
        let name = ns.name_any();
        if !in_progress.lock().map(|mut s| s.insert(name.clone())).unwrap_or(false) {
            continue;
        }
        let (client, in_progress, shutdown) = (client.clone(), in_progress.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                match finalize(&client, &name).await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(namespace = %name, error = %e, "namespace cleanup failed; retrying"),
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(RETRY) => {}
                }
            }
            if let Ok(mut s) = in_progress.lock() {
                s.remove(&name);
            }
        });
    }
}

fn is_terminating_with_our_finalizer(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        && ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

/// One cleanup pass. `Ok(true)` once the namespace was finalized (or is gone).
async fn finalize(client: &Client, name: &str) -> Result<bool, kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = api.get_opt(name).await? else { return Ok(true) };
    if !is_terminating_with_our_finalizer(&ns) {
        return Ok(true);
    }
    let mut remaining_objects = 0usize;
    let mut remaining_finalizers: HashSet<String> = HashSet::new();
    for info in resources::watchable().filter(|r| r.namespaced) {
        let api = resources::api(client, info, Some(name));
        if info.supports("deletecollection") {
            match api.delete_collection(&DeleteParams::background(), &ListParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 405 => {}
                Err(e) => return Err(e),
            }
        }
        let left = api.list(&ListParams::default()).await?;
        for obj in &left.items {
            remaining_objects += 1;
            remaining_finalizers.extend(obj.finalizers().iter().cloned());
            if !info.supports("deletecollection") && obj.metadata.deletion_timestamp.is_none() {
                let _ = api.delete(&obj.name_any(), &DeleteParams::background()).await;
            }
        }
    }
    if remaining_objects > 0 {
        record_progress(&api, &ns, remaining_objects, &remaining_finalizers).await?;
        return Ok(false);
    }
    let mut finalized = ns.clone();
    if let Some(spec) = finalized.spec.as_mut() {
        spec.finalizers = Some(spec.finalizers.take().unwrap_or_default().into_iter().filter(|f| f != FINALIZER).collect());
    }
    match api.replace_subresource("finalize", name, &PostParams::default(), &finalized).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes upstream's progress conditions on the namespace status.
async fn record_progress(api: &Api<Namespace>, ns: &Namespace, objects: usize, finalizers: &HashSet<String>) -> Result<(), kube::Error> {
    let now = corten_apimachinery::time::now_rfc3339();
    let mut finalizer_list: Vec<&str> = finalizers.iter().map(String::as_str).collect();
    finalizer_list.sort_unstable();
    let conditions = serde_json::json!([
        {
            "type": "NamespaceContentRemaining",
            "status": "True",
            "reason": "SomeResourcesRemain",
            "message": format!("Some resources are remaining: {objects} objects"),
            "lastTransitionTime": now,
        },
        {
            "type": "NamespaceFinalizersRemaining",
            "status": if finalizer_list.is_empty() { "False" } else { "True" },
            "reason": if finalizer_list.is_empty() { "ContentHasNoFinalizers" } else { "SomeFinalizersRemain" },
            "message": if finalizer_list.is_empty() { "All content-preserving finalizers finished".to_string() } else { format!("Some content in the namespace has finalizers remaining: {}", finalizer_list.join(", ")) },
            "lastTransitionTime": now,
        },
    ]);
    let patch = serde_json::json!({ "status": { "conditions": conditions } });
    api.patch_status(&ns.name_any(), &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await?;
    Ok(())
}
