//! Garbage collection by ownerReferences, with upstream's three propagation policies.
//!
//! Every listable resource is watched into one in-memory graph (object uid → where it lives,
//! its owners, its deletion state). After each batch of changes the collector walks the graph:
//!
//! * a dependent whose owners are all gone is deleted (background: the default policy);
//! * a dependent with some owners gone loses the dangling references;
//! * an owner deleted with `propagationPolicy: Foreground` carries the `foregroundDeletion`
//!   finalizer: its dependents are deleted (also in the foreground), and the finalizer is
//!   removed once none is left;
//! * an owner deleted with `propagationPolicy: Orphan` carries the `orphan` finalizer: its
//!   dependents lose the reference to it, then the finalizer is removed.
//!
//! "Gone" is decided only after every watch has delivered its initial list, and confirmed with a
//! live GET, so an owner that merely has not been seen yet never causes a deletion. Walking the
//! whole graph per batch is O(objects); fine for the cluster sizes Corten targets today, and the
//! first thing to index (by owner uid) if profiles show it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use corten_apis::ResourceInfo;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::resources;

/// Finalizer of an owner waiting for its dependents to be deleted.
pub const FOREGROUND: &str = "foregroundDeletion";
/// Finalizer of an owner whose dependents must be orphaned first.
pub const ORPHAN: &str = "orphan";

const RESYNC: Duration = Duration::from_secs(30);
const DEBOUNCE: Duration = Duration::from_millis(100);

/// One object as the collector sees it.
#[derive(Debug, Clone)]
struct Node {
    info: &'static ResourceInfo,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// Resources whose watch has not finished its initial list yet.
    unsynced: usize,
}

/// What the collector decided to do in one pass.
#[derive(Debug, PartialEq)]
enum Action {
    /// Delete a dependent with the given propagation policy.
    Delete { uid: String, policy: &'static str },
    /// Drop owner references (by owner uid) from a dependent.
    DropOwners { uid: String, owners: Vec<String> },
    /// Remove a finalizer from an owner.
    RemoveFinalizer { uid: String, finalizer: &'static str },
    /// Check with the API server whether an owner still exists before acting on a dependent.
    VerifyOwner { dependent: String, owner: OwnerReference },
}

/// Watches everything and collects garbage until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let graph: Arc<Mutex<Graph>> = Arc::default();
    let changed = Arc::new(Notify::new());
    let infos: Vec<&'static ResourceInfo> = resources::watchable().collect();
    graph.lock().await.unsynced = infos.len();
    for info in infos {
        tokio::spawn(watch_resource(client.clone(), info, graph.clone(), changed.clone(), shutdown.clone()));
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = changed.notified() => {}
            _ = tokio::time::sleep(RESYNC) => {}
        }
        tokio::time::sleep(DEBOUNCE).await;
        let actions = {
            let g = graph.lock().await;
            if g.unsynced > 0 {
                continue;
            }
            plan(&g.nodes)
        };
        for action in actions {
            if let Err(e) = execute(&client, &graph, action).await {
                tracing::debug!(error = %e, "garbage collection step failed; will retry");
            }
        }
    }
}

async fn watch_resource(client: Client, info: &'static ResourceInfo, graph: Arc<Mutex<Graph>>, changed: Arc<Notify>, shutdown: CancellationToken) {
    let api = resources::api(&client, info, None);
    let mut events = watcher(api, watcher::Config::default()).boxed();
    let mut synced = false;
    let mut init_seen: HashSet<String> = HashSet::new();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.next() => e,
        };
        let mut g = graph.lock().await;
        match event {
            Some(Ok(watcher::Event::Apply(obj))) => upsert(&mut g, info, &obj),
            Some(Ok(watcher::Event::Delete(obj))) => {
                if let Some(uid) = obj.uid() {
                    g.nodes.remove(&uid);
                }
            }
            Some(Ok(watcher::Event::Init)) => init_seen.clear(),
            Some(Ok(watcher::Event::InitApply(obj))) => {
                if let Some(uid) = obj.uid() {
                    init_seen.insert(uid);
                }
                upsert(&mut g, info, &obj);
            }
            Some(Ok(watcher::Event::InitDone)) => {
                // Forget objects of this resource that vanished while we were re-listing.
                g.nodes.retain(|uid, n| !std::ptr::eq(n.info, info) || init_seen.contains(uid));
                if !synced {
                    synced = true;
                    g.unsynced = g.unsynced.saturating_sub(1);
                }
            }
            Some(Err(e)) => {
                drop(g);
                tracing::debug!(resource = info.plural, error = %e, "watch failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            None => return,
        }
        drop(g);
        changed.notify_one();
    }
}

fn upsert(g: &mut Graph, info: &'static ResourceInfo, obj: &DynamicObject) {
    let Some(uid) = obj.uid() else { return };
    g.nodes.insert(
        uid,
        Node {
            info,
            namespace: obj.namespace(),
            name: obj.name_any(),
            owners: obj.owner_references().to_vec(),
            deleting: obj.metadata.deletion_timestamp.is_some(),
            finalizers: obj.finalizers().to_vec(),
        },
    );
}

/// Decides what to do, from the graph alone.
fn plan(nodes: &HashMap<String, Node>) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (uid, node) in nodes {
        for owner in &node.owners {
            dependents.entry(owner.uid.as_str()).or_default().push(uid.as_str());
        }
    }
    for (uid, node) in nodes {
        if node.owners.is_empty() {
            continue;
        }
        let missing: Vec<&OwnerReference> = node.owners.iter().filter(|o| !nodes.contains_key(&o.uid)).collect();
        if !missing.is_empty() {
            for owner in missing {
                actions.push(Action::VerifyOwner { dependent: uid.clone(), owner: owner.clone() });
            }
            continue;
        }
        if node.deleting {
            continue;
        }
        let orphaning: Vec<String> = node
            .owners
            .iter()
            .filter(|o| nodes.get(&o.uid).is_some_and(|owner| owner.deleting && owner.finalizers.iter().any(|f| f == ORPHAN)))
            .map(|o| o.uid.clone())
            .collect();
        if !orphaning.is_empty() {
            actions.push(Action::DropOwners { uid: uid.clone(), owners: orphaning });
            continue;
        }
        let foreground_owner = node
            .owners
            .iter()
            .any(|o| nodes.get(&o.uid).is_some_and(|owner| owner.deleting && owner.finalizers.iter().any(|f| f == FOREGROUND)));
        if foreground_owner {
            actions.push(Action::Delete { uid: uid.clone(), policy: "Foreground" });
        }
    }
    for (uid, node) in nodes {
        if !node.deleting {
            continue;
        }
        let deps = dependents.get(uid.as_str()).map(Vec::as_slice).unwrap_or_default();
        if node.finalizers.iter().any(|f| f == ORPHAN) && deps.is_empty() {
            actions.push(Action::RemoveFinalizer { uid: uid.clone(), finalizer: ORPHAN });
        }
        if node.finalizers.iter().any(|f| f == FOREGROUND) {
            let blocking = deps.iter().any(|d| {
                nodes.get(*d).is_some_and(|dep| dep.owners.iter().any(|o| o.uid == *uid && o.block_owner_deletion == Some(true)))
            });
            if !blocking {
                actions.push(Action::RemoveFinalizer { uid: uid.clone(), finalizer: FOREGROUND });
            }
        }
    }
    actions
}

async fn execute(client: &Client, graph: &Mutex<Graph>, action: Action) -> Result<(), kube::Error> {
    let node_of = |uid: &str, g: &Graph| g.nodes.get(uid).cloned();
    match action {
        Action::Delete { uid, policy } => {
            let Some(node) = node_of(&uid, &*graph.lock().await) else { return Ok(()) };
            let api = resources::api(client, node.info, node.namespace.as_deref());
            let mut params = DeleteParams::default().preconditions(kube::api::Preconditions { uid: Some(uid), resource_version: None });
            params.propagation_policy = Some(if policy == "Foreground" { PropagationPolicy::Foreground } else { PropagationPolicy::Background });
            ignore_gone(api.delete(&node.name, &params).await.map(|_| ()))
        }
        Action::DropOwners { uid, owners } => {
            let Some(node) = node_of(&uid, &*graph.lock().await) else { return Ok(()) };
            let kept: Vec<&OwnerReference> = node.owners.iter().filter(|o| !owners.contains(&o.uid)).collect();
            let api = resources::api(client, node.info, node.namespace.as_deref());
            let patch = serde_json::json!({ "metadata": { "ownerReferences": kept, "uid": uid } });
            ignore_gone(api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()))
        }
        Action::RemoveFinalizer { uid, finalizer } => {
            let Some(node) = node_of(&uid, &*graph.lock().await) else { return Ok(()) };
            let kept: Vec<&String> = node.finalizers.iter().filter(|f| f.as_str() != finalizer).collect();
            let api = resources::api(client, node.info, node.namespace.as_deref());
            let patch = serde_json::json!({ "metadata": { "finalizers": kept, "uid": uid } });
            ignore_gone(api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()))
        }
        Action::VerifyOwner { dependent, owner } => {
            let Some(node) = node_of(&dependent, &*graph.lock().await) else { return Ok(()) };
            let (group, _) = owner.api_version.split_once('/').unwrap_or(("", owner.api_version.as_str()));
            let Some(owner_info) = corten_apis::resources::by_kind(group, &owner.kind) else { return Ok(()) };
            let owner_api = resources::api(client, owner_info, node.namespace.as_deref());
            let exists = match owner_api.get_opt(&owner.name).await? {
                Some(o) => o.uid().as_deref() == Some(owner.uid.as_str()),
                None => false,
            };
            if exists {
                return Ok(());
            }
            let api = resources::api(client, node.info, node.namespace.as_deref());
            let remaining: Vec<&OwnerReference> = node.owners.iter().filter(|o| o.uid != owner.uid).collect();
            if remaining.is_empty() {
                if node.deleting {
                    return Ok(());
                }
                let params = DeleteParams::background().preconditions(kube::api::Preconditions { uid: Some(dependent), resource_version: None });
                ignore_gone(api.delete(&node.name, &params).await.map(|_| ()))
            } else {
                let patch = serde_json::json!({ "metadata": { "ownerReferences": remaining, "uid": dependent } });
                ignore_gone(api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()))
            }
        }
    }
}

fn ignore_gone(r: Result<(), kube::Error>) -> Result<(), kube::Error> {
    match r {
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: &str) -> &'static ResourceInfo {
        corten_apis::resources::by_kind(if kind == "Pod" { "" } else { "apps" }, kind).expect("kind in table")
    }

    fn owner_ref(uid: &str, block: bool) -> OwnerReference {
        OwnerReference { api_version: "apps/v1".into(), kind: "ReplicaSet".into(), name: format!("rs-{uid}"), uid: uid.into(), block_owner_deletion: Some(block), controller: Some(true) }
    }

    fn node(kind: &str, owners: Vec<OwnerReference>, deleting: bool, finalizers: &[&str]) -> Node {
        Node { info: info(kind), namespace: Some("ns".into()), name: "x".into(), owners, deleting, finalizers: finalizers.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn dependent_of_a_missing_owner_is_verified_before_deletion() {
        let nodes = HashMap::from([("pod".to_string(), node("Pod", vec![owner_ref("rs", true)], false, &[]))]);
        assert_eq!(plan(&nodes), vec![Action::VerifyOwner { dependent: "pod".into(), owner: owner_ref("rs", true) }]);
    }

    #[test]
    fn live_owner_leaves_dependent_alone() {
        let nodes = HashMap::from([
            ("rs".to_string(), node("ReplicaSet", vec![], false, &[])),
            ("pod".to_string(), node("Pod", vec![owner_ref("rs", true)], false, &[])),
        ]);
        assert!(plan(&nodes).is_empty());
    }

    #[test]
    fn foreground_deletes_dependents_then_releases_the_owner() {
        let mut nodes = HashMap::from([
            ("rs".to_string(), node("ReplicaSet", vec![], true, &[FOREGROUND])),
            ("pod".to_string(), node("Pod", vec![owner_ref("rs", true)], false, &[])),
        ]);
        assert_eq!(plan(&nodes), vec![Action::Delete { uid: "pod".into(), policy: "Foreground" }]);
        nodes.remove("pod");
        assert_eq!(plan(&nodes), vec![Action::RemoveFinalizer { uid: "rs".into(), finalizer: FOREGROUND }]);
    }

    #[test]
    fn orphan_drops_references_then_releases_the_owner() {
        let mut nodes = HashMap::from([
            ("rs".to_string(), node("ReplicaSet", vec![], true, &[ORPHAN])),
            ("pod".to_string(), node("Pod", vec![owner_ref("rs", true)], false, &[])),
        ]);
        assert_eq!(plan(&nodes), vec![Action::DropOwners { uid: "pod".into(), owners: vec!["rs".into()] }]);
        nodes.get_mut("pod").expect("pod").owners.clear();
        assert_eq!(plan(&nodes), vec![Action::RemoveFinalizer { uid: "rs".into(), finalizer: ORPHAN }]);
    }

    #[test]
    fn non_blocking_dependents_do_not_hold_a_foreground_owner() {
        let nodes = HashMap::from([
            ("rs".to_string(), node("ReplicaSet", vec![], true, &[FOREGROUND])),
            ("pod".to_string(), node("Pod", vec![owner_ref("rs", false)], true, &[])),
        ]);
        assert_eq!(plan(&nodes), vec![Action::RemoveFinalizer { uid: "rs".into(), finalizer: FOREGROUND }]);
    }
}
