//! The contract every [`Backend`] must honour, as runnable checks.
//!
//! Why a shared suite: the API server relies on exact etcd semantics (compare-and-swap on
//! revisions, one global revision counter, history reads, watch replay, compaction). Running the
//! same checks against the embedded backend and a real etcd keeps the two interchangeable.
//!
//! Each check writes under its own key prefix, so the checks can share one store (an etcd
//! cluster) or get a fresh one each. A failed expectation panics with a message saying what the
//! contract required: these are test helpers, meant to be called from `#[tokio::test]`s.

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::{Backend, Error, KeyValue, ReadAt, Revision, WatchEvent, WatchStream};

/// How long a check waits for an expected watch event before declaring it missing.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// Runs every check, each against a backend produced by `make`.
pub async fn run_contract<B, F, Fut>(mut make: F)
where
    B: Backend,
    F: FnMut() -> Fut,
    Fut: Future<Output = B>,
{
    check_create_and_get(&make().await, "/contract/create/").await;
    check_update_compare_and_swap(&make().await, "/contract/update/").await;
    check_delete(&make().await, "/contract/delete/").await;
    check_revisions_increase_globally(&make().await, "/contract/revisions/").await;
    check_list_pages(&make().await, "/contract/list/").await;
    check_list_at_old_revision(&make().await, "/contract/history/").await;
    check_future_revision(&make().await, "/contract/future/").await;
    check_watch_replay_then_live(&make().await, "/contract/watch/").await;
    check_compaction(&make().await, "/contract/compact/").await;
    check_count(&make().await, "/contract/count/").await;
}

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// Create, read back, and refuse a second create of the same key.
pub async fn check_create_and_get(store: &dyn Backend, prefix: &str) {
    let key = format!("{prefix}a");
    let absent = store.get(&key, ReadAt::Latest).await.expect("get absent key");
    assert_eq!(absent, None, "get of a never-written key must be None");

    let revision = store.create(&key, bytes("one")).await.expect("create");
    let stored = store.get(&key, ReadAt::Latest).await.expect("get").expect("created key must be readable");
    assert_eq!(
        stored,
        KeyValue { key: key.clone(), value: bytes("one"), create_revision: revision, mod_revision: revision },
        "a created key has create_revision = mod_revision = the create's revision"
    );
    assert_eq!(store.current_revision().await.expect("current revision"), revision, "create bumps the store revision");

    let again = store.create(&key, bytes("two")).await;
    assert!(matches!(again, Err(Error::AlreadyExists { key: ref k }) if *k == key), "second create must fail with AlreadyExists, got {again:?}");
    let unchanged = store.get(&key, ReadAt::Latest).await.expect("get").expect("still there");
    assert_eq!(unchanged.value, bytes("one"), "a refused create must not change the value");
}

/// Update succeeds only on the expected revision and keeps `create_revision`.
pub async fn check_update_compare_and_swap(store: &dyn Backend, prefix: &str) {
    let key = format!("{prefix}a");
    let created = store.create(&key, bytes("v1")).await.expect("create");
    let updated = store.update(&key, bytes("v2"), created).await.expect("update on the current revision");
    assert!(updated > created, "update must return a newer revision ({updated:?} after {created:?})");
    let stored = store.get(&key, ReadAt::Latest).await.expect("get").expect("present");
    assert_eq!(stored.value, bytes("v2"));
    assert_eq!(stored.create_revision, created, "update keeps create_revision");
    assert_eq!(stored.mod_revision, updated, "update sets mod_revision");

    let stale = store.update(&key, bytes("v3"), created).await;
    match stale {
        Err(Error::Conflict { key: k, expected, current }) => {
            assert_eq!(k, key);
            assert_eq!(expected, created);
            assert_eq!(current, updated, "a conflict reports the key's current revision");
        }
        other => panic!("update on a stale revision must conflict, got {other:?}"),
    }
    assert_eq!(store.get(&key, ReadAt::Latest).await.expect("get").expect("present").value, bytes("v2"));

    let missing = format!("{prefix}missing");
    let update_missing = store.update(&missing, bytes("x"), updated).await;
    assert!(matches!(update_missing, Err(Error::NotFound { .. })), "update of an absent key: NotFound, got {update_missing:?}");
    let delete_missing = store.delete(&missing, None).await;
    assert!(matches!(delete_missing, Err(Error::NotFound { .. })), "delete of an absent key: NotFound, got {delete_missing:?}");
}

/// Delete with and without a precondition; recreating starts a new incarnation.
pub async fn check_delete(store: &dyn Backend, prefix: &str) {
    let key = format!("{prefix}a");
    let created = store.create(&key, bytes("v1")).await.expect("create");
    let updated = store.update(&key, bytes("v2"), created).await.expect("update");

    let wrong = store.delete(&key, Some(created)).await;
    match wrong {
        Err(Error::Conflict { current, .. }) => assert_eq!(current, updated),
        other => panic!("delete on a stale revision must conflict, got {other:?}"),
    }
    let (prev, deleted_at) = store.delete(&key, Some(updated)).await.expect("delete on the current revision");
    assert_eq!(prev.value, bytes("v2"), "delete returns the deleted value");
    assert_eq!(prev.mod_revision, updated);
    assert!(deleted_at > updated, "delete has its own, newer revision");
    assert_eq!(store.get(&key, ReadAt::Latest).await.expect("get"), None, "deleted key is gone");

    let recreated = store.create(&key, bytes("v3")).await.expect("recreate");
    let stored = store.get(&key, ReadAt::Latest).await.expect("get").expect("present");
    assert_eq!(stored.create_revision, recreated, "recreating resets create_revision");
    assert!(stored.create_revision > created);

    let (prev, _) = store.delete(&key, None).await.expect("unconditional delete");
    assert_eq!(prev.value, bytes("v3"));
    assert_eq!(store.get(&key, ReadAt::Latest).await.expect("get"), None);
}

/// One counter for all keys: every successful write gets a strictly larger revision; failed
/// writes do not consume one.
pub async fn check_revisions_increase_globally(store: &dyn Backend, prefix: &str) {
    let mut last = store.current_revision().await.expect("current revision");
    for name in ["a", "b", "c", "a2", "b2"] {
        let revision = store.create(&format!("{prefix}{name}"), bytes(name)).await.expect("create");
        assert!(revision > last, "revision {revision:?} must exceed the previous {last:?}");
        last = revision;
    }
    let updated = store.update(&format!("{prefix}b"), bytes("again"), Revision(last.0 - 3)).await.expect("update b");
    assert!(updated > last);
    last = updated;
    let refused = store.create(&format!("{prefix}a"), bytes("dup")).await;
    assert!(refused.is_err());
    assert_eq!(store.current_revision().await.expect("current revision"), last, "a refused write must not bump the revision");
}

/// Prefix listing: key order, other prefixes excluded, `limit`, `start_after` and `remaining`.
pub async fn check_list_pages(store: &dyn Backend, prefix: &str) {
    for name in ["c", "a", "b", "d"] {
        store.create(&format!("{prefix}{name}"), bytes(name)).await.expect("create");
    }
    // A sibling whose name extends the prefix's last segment must not leak in.
    let sibling = format!("{}-other/x", prefix.trim_end_matches('/'));
    store.create(&sibling, bytes("other")).await.expect("create sibling");
    let current = store.current_revision().await.expect("current revision");

    let names = |page: &crate::ListPage| page.items.iter().map(|kv| kv.key.trim_start_matches(prefix).to_owned()).collect::<Vec<_>>();
    let all = store.list(prefix, None, None, ReadAt::Latest).await.expect("list");
    assert_eq!(names(&all), ["a", "b", "c", "d"], "list is sorted by key and limited to the prefix");
    assert_eq!(all.remaining, 0);
    assert_eq!(all.revision, current, "a latest list reports the current revision");
    assert_eq!(all.items[0].value, bytes("a"));

    let first = store.list(prefix, None, NonZeroUsize::new(2), ReadAt::Latest).await.expect("first page");
    assert_eq!(names(&first), ["a", "b"]);
    assert_eq!(first.remaining, 2, "two keys remain after the first page");

    let after = first.items.last().map(|kv| kv.key.clone()).expect("page has items");
    let second = store.list(prefix, Some(&after), NonZeroUsize::new(1), ReadAt::Exactly(first.revision)).await.expect("second page");
    assert_eq!(names(&second), ["c"]);
    assert_eq!(second.remaining, 1);
    assert_eq!(second.revision, first.revision, "a page read at a revision reports that revision");

    let rest = store.list(prefix, Some(&format!("{prefix}c")), None, ReadAt::Latest).await.expect("rest");
    assert_eq!(names(&rest), ["d"]);
    assert_eq!(rest.remaining, 0);
}

/// Reads at an old revision see the state as of then.
pub async fn check_list_at_old_revision(store: &dyn Backend, prefix: &str) {
    let a = format!("{prefix}a");
    let b = format!("{prefix}b");
    let c = format!("{prefix}c");
    let a_created = store.create(&a, bytes("a1")).await.expect("create a");
    let before = store.create(&b, bytes("b1")).await.expect("create b");
    store.update(&a, bytes("a2"), a_created).await.expect("update a");
    store.delete(&b, None).await.expect("delete b");
    store.create(&c, bytes("c1")).await.expect("create c");

    let old = store.list(prefix, None, None, ReadAt::Exactly(before)).await.expect("list at old revision");
    let old_state: Vec<(String, Bytes)> = old.items.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
    assert_eq!(old_state, [(a.clone(), bytes("a1")), (b.clone(), bytes("b1"))], "the old state has the old values and the since-deleted key");
    assert_eq!(old.revision, before);
    assert_eq!(old.items[0].mod_revision, a_created, "old reads report the old mod_revision");

    let old_b = store.get(&b, ReadAt::Exactly(before)).await.expect("get at old revision");
    assert_eq!(old_b.map(|kv| kv.value), Some(bytes("b1")));
    let old_c = store.get(&c, ReadAt::Exactly(before)).await.expect("get at old revision");
    assert_eq!(old_c, None, "a key created later is absent in the old state");

    let now = store.list(prefix, None, None, ReadAt::Latest).await.expect("list latest");
    let now_state: Vec<(String, Bytes)> = now.items.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
    assert_eq!(now_state, [(a, bytes("a2")), (c, bytes("c1"))]);
}

/// Reads beyond the current revision fail with `FutureRevision`.
pub async fn check_future_revision(store: &dyn Backend, prefix: &str) {
    store.create(&format!("{prefix}a"), bytes("a")).await.expect("create");
    let current = store.current_revision().await.expect("current revision");
    let future = Revision(current.0 + 1000);
    let got = store.get(&format!("{prefix}a"), ReadAt::Exactly(future)).await;
    assert!(matches!(got, Err(Error::FutureRevision { requested, .. }) if requested == future), "get at a future revision, got {got:?}");
    let listed = store.list(prefix, None, None, ReadAt::Exactly(future)).await;
    assert!(matches!(listed, Err(Error::FutureRevision { .. })), "list at a future revision, got {listed:?}");
}

/// Waits for the next event of a watch, failing if it ends, errors or stays silent.
pub async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(EVENT_WAIT, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(error))) => panic!("watch failed: {error}"),
        Ok(None) => panic!("watch ended unexpectedly"),
        Err(_) => panic!("no watch event within {EVENT_WAIT:?}"),
    }
}

/// Watch replays history after a revision, in order and with previous values, then continues
/// with live events; keys outside the prefix never appear.
pub async fn check_watch_replay_then_live(store: &dyn Backend, prefix: &str) {
    let key = format!("{prefix}x");
    let outsider = format!("{}-other/x", prefix.trim_end_matches('/'));
    let start = store.current_revision().await.expect("current revision");
    let created = store.create(&key, bytes("v1")).await.expect("create");
    store.create(&outsider, bytes("noise")).await.expect("create outsider");
    let updated = store.update(&key, bytes("v2"), created).await.expect("update");
    let (_, deleted) = store.delete(&key, None).await.expect("delete");

    let mut watch = store.watch(prefix, start).await.expect("watch");
    match next_event(&mut watch).await {
        WatchEvent::Put { kv, prev } => {
            assert_eq!((kv.key.as_str(), kv.value.clone(), kv.mod_revision), (key.as_str(), bytes("v1"), created));
            assert_eq!(prev, None, "a create has no previous value");
        }
        other => panic!("expected the create first, got {other:?}"),
    }
    match next_event(&mut watch).await {
        WatchEvent::Put { kv, prev } => {
            assert_eq!((kv.value.clone(), kv.mod_revision, kv.create_revision), (bytes("v2"), updated, created));
            assert_eq!(prev.map(|prev| (prev.value, prev.mod_revision)), Some((bytes("v1"), created)), "an update carries the previous value");
        }
        other => panic!("expected the update second (the outsider is filtered), got {other:?}"),
    }
    match next_event(&mut watch).await {
        WatchEvent::Delete { prev, revision } => {
            assert_eq!(revision, deleted);
            assert_eq!((prev.key, prev.value), (key.clone(), bytes("v2")), "a delete carries the last value");
        }
        other => panic!("expected the delete third, got {other:?}"),
    }

    // Live: an outsider write then an insider write; only the insider arrives, exactly once.
    store.update(&outsider, bytes("noise2"), Revision(created.0 + 1)).await.expect("update outsider");
    let live = store.create(&key, bytes("v3")).await.expect("recreate");
    let live_event = next_event(&mut watch).await;
    assert_eq!(live_event.revision(), live, "the next event is the live create, got {live_event:?}");
    assert_eq!(live_event.key(), key);
    let second_live = store.update(&key, bytes("v4"), live).await.expect("update live");
    let next = next_event(&mut watch).await;
    assert_eq!(next.revision(), second_live, "live events follow in order without duplicates, got {next:?}");

    // Watching from "now" delivers only what comes later.
    let mut from_now = store.watch(prefix, second_live).await.expect("watch from now");
    let later = store.update(&key, bytes("v5"), second_live).await.expect("update");
    assert_eq!(next_event(&mut from_now).await.revision(), later, "a watch from the current revision sees only later events");
}

/// After compaction, history at or before the compacted revision is gone for reads and
/// watches, while the latest values stay.
pub async fn check_compaction(store: &dyn Backend, prefix: &str) {
    let a = format!("{prefix}a");
    let first = store.create(&a, bytes("a1")).await.expect("create a");
    let second = store.update(&a, bytes("a2"), first).await.expect("update a");
    let kept = store.create(&format!("{prefix}b"), bytes("b1")).await.expect("create b");
    let third = store.update(&a, bytes("a3"), second).await.expect("update a again");
    store.compact(kept).await.expect("compact");

    let old = store.get(&a, ReadAt::Exactly(first)).await;
    assert!(matches!(old, Err(Error::Compacted { .. })), "get before the compacted revision, got {old:?}");
    let old_list = store.list(prefix, None, None, ReadAt::Exactly(second)).await;
    assert!(matches!(old_list, Err(Error::Compacted { .. })), "list before the compacted revision, got {old_list:?}");
    let old_watch = store.watch(prefix, first).await;
    assert!(matches!(old_watch, Err(Error::Compacted { .. })), "watch from before the compacted revision must fail");

    let at_compaction = store.list(prefix, None, None, ReadAt::Exactly(kept)).await.expect("list at the compacted revision");
    let values: Vec<Bytes> = at_compaction.items.iter().map(|kv| kv.value.clone()).collect();
    assert_eq!(values, [bytes("a2"), bytes("b1")], "the state at the compacted revision survives");
    let latest = store.get(&a, ReadAt::Latest).await.expect("get").expect("present");
    assert_eq!((latest.value, latest.mod_revision, latest.create_revision), (bytes("a3"), third, first));

    let mut watch = store.watch(prefix, kept).await.expect("watch from the compacted revision");
    assert_eq!(next_event(&mut watch).await.revision(), third, "events after the compacted revision replay");
}

/// Count sees only live keys under the prefix.
pub async fn check_count(store: &dyn Backend, prefix: &str) {
    assert_eq!(store.count(prefix).await.expect("count"), 0);
    for name in ["a", "b", "c"] {
        store.create(&format!("{prefix}{name}"), bytes(name)).await.expect("create");
    }
    store.create(&format!("{}-other/a", prefix.trim_end_matches('/')), bytes("x")).await.expect("create outsider");
    assert_eq!(store.count(prefix).await.expect("count"), 3);
    store.delete(&format!("{prefix}b"), None).await.expect("delete");
    assert_eq!(store.count(prefix).await.expect("count"), 2, "deleted keys are not counted");
}
