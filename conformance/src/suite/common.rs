//! The create/get/list/patch/update/delete/delete-collection sequence that many upstream
//! "API operations" tests run against a kind, written once and generic over the kind.

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::context::is_not_found;
use crate::suite::check;

/// The bounds `kube::Api` needs for a typed kind.
pub(crate) trait Kind: Resource + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<K: Resource + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static> Kind for K {}

/// Runs the full API-operations sequence on `objects` (at least two, all labeled so that
/// `selector` matches exactly them): create each, get, list by selector, merge-patch an
/// annotation onto the first, update a label on the second, delete the first, then delete the
/// rest by collection; every step is checked by reading back.
pub(crate) async fn exercise_api_operations<K: Kind>(api: &Api<K>, objects: Vec<K>, selector: &str) -> anyhow::Result<()> {
    check!(objects.len() >= 2, "the sequence needs at least two objects");
    let mut names = Vec::with_capacity(objects.len());
    for object in &objects {
        let created = api.create(&PostParams::default(), object).await?;
        check!(created.uid().is_some_and(|u| !u.is_empty()), "created {} has no uid", created.name_any());
        check!(created.resource_version().is_some_and(|v| !v.is_empty()), "created {} has no resourceVersion", created.name_any());
        names.push(created.name_any());
    }
    let fetched = api.get(&names[0]).await?;
    check!(fetched.name_any() == names[0], "get returned {}", fetched.name_any());

    let listed = api.list(&ListParams::default().labels(selector)).await?;
    let mut listed_names: Vec<String> = listed.items.iter().map(ResourceExt::name_any).collect();
    listed_names.sort();
    let mut expected = names.clone();
    expected.sort();
    check!(listed_names == expected, "list by {selector} returned {listed_names:?}, expected {expected:?}");

    let patched = api
        .patch(&names[0], &PatchParams::default(), &Patch::Merge(json!({"metadata": {"annotations": {"patched": "true"}}})))
        .await?;
    check!(patched.annotations().get("patched").map(String::as_str) == Some("true"), "patch response lacks the annotation");
    let refetched = api.get(&names[0]).await?;
    check!(refetched.annotations().get("patched").map(String::as_str) == Some("true"), "patched annotation not persisted");

    let mut second = api.get(&names[1]).await?;
    second.labels_mut().insert("updated".into(), "true".into());
    let updated = api.replace(&names[1], &PostParams::default(), &second).await?;
    check!(updated.labels().get("updated").map(String::as_str) == Some("true"), "update response lacks the label");
    check!(
        updated.resource_version() != second.resource_version(),
        "update did not change resourceVersion ({:?})",
        updated.resource_version()
    );
    let refetched = api.get(&names[1]).await?;
    check!(refetched.labels().get("updated").map(String::as_str) == Some("true"), "updated label not persisted");

    api.delete(&names[0], &DeleteParams::default()).await?;
    match api.get(&names[0]).await {
        Err(error) if is_not_found(&error) => {}
        Err(error) => return Err(error.into()),
        Ok(object) => check!(object.meta().deletion_timestamp.is_some(), "{} still exists after delete", names[0]),
    }

    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels(selector)).await?;
    let remaining = api.list(&ListParams::default().labels(selector)).await?;
    let live: Vec<String> =
        remaining.items.iter().filter(|o| o.meta().deletion_timestamp.is_none()).map(ResourceExt::name_any).collect();
    check!(live.is_empty(), "delete collection by {selector} left {live:?}");
    Ok(())
}

/// Deletes cluster-scoped leftovers by selector; used after a failed step so reruns start clean.
pub(crate) async fn delete_by_selector<K: Kind>(api: &Api<K>, selector: &str) {
    if let Err(error) = api.delete_collection(&DeleteParams::default(), &ListParams::default().labels(selector)).await {
        tracing::warn!(%selector, %error, "cleanup by delete collection failed");
    }
}
