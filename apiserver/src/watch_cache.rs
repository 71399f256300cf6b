//! The watch cache: reads and watches served from memory, writes passed through.
//!
//! Like kube-apiserver's cacher, it keeps the latest state of every key plus a window of recent
//! events, fed by a single backend watch. It wraps any [`Backend`] and is one itself, so the
//! registry does not know it is there:
//!
//! * **Reads at the latest revision are consistent**: the cache first asks the backend for its
//!   current revision (one cheap call) and waits until it has applied that revision, so a client
//!   always reads its own writes. Reads at an older exact revision (list continuations after
//!   later writes) go to the backend, which keeps MVCC history.
//! * **Watches** starting inside the window replay it from memory and continue with live events,
//!   without a backend watch per client; older starting points fall through to the backend,
//!   which replays its history or reports [`Error::Compacted`] (`410 Expired`).
//! * A watcher too slow to keep up has its stream ended with an error (clients then re-list), as
//!   upstream terminates slow watchers; if the feed itself breaks, the cache re-lists and ends
//!   every cache-served watch.
//!
//! The whole keyspace is one cache (keys are `/registry/<resource>/...`), so "a cache per
//! resource" is a key range of it.

use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use corten_storage::{Backend, Error, KeyValue, ListPage, ReadAt, Revision, WatchEvent, WatchStream};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;

/// Events kept for watches that resume from a recent revision.
const WINDOW: usize = 10_000;
/// Live events a watcher may fall behind by before it is cut off.
const LIVE_BUFFER: usize = 16_384;
/// How long a consistent read waits for the cache to catch up before reading the backend.
const CATCH_UP: Duration = Duration::from_secs(3);

struct State {
    items: BTreeMap<String, KeyValue>,
    /// Revision of the last applied event (or of the initial list).
    revision: Revision,
    /// Recent events; together they cover every revision in `(window_start, revision]`.
    events: VecDeque<WatchEvent>,
    window_start: Revision,
    live: broadcast::Sender<WatchEvent>,
}

/// A [`Backend`] decorator that serves reads and watches from memory.
pub struct WatchCache {
    inner: Arc<dyn Backend>,
    state: Arc<Mutex<State>>,
    applied: watch::Receiver<Revision>,
}

impl WatchCache {
    /// Loads the current state from `inner` and starts following it until `shutdown`.
    pub async fn start(inner: Arc<dyn Backend>, shutdown: CancellationToken) -> Result<Self, Error> {
        let (items, revision) = load(inner.as_ref()).await?;
        let state = Arc::new(Mutex::new(State {
            items,
            revision,
            events: VecDeque::new(),
            window_start: revision,
            live: broadcast::channel(LIVE_BUFFER).0,
        }));
        let (applied_tx, applied) = watch::channel(revision);
        tokio::spawn(follow(inner.clone(), state.clone(), applied_tx, shutdown));
        Ok(WatchCache { inner, state, applied })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Waits until the cache has applied the backend's current revision. `false` if it could
    /// not catch up in time (the caller then reads the backend).
    async fn catch_up(&self) -> Result<bool, Error> {
        let target = self.inner.current_revision().await?;
        let mut applied = self.applied.clone();
        let reached = tokio::time::timeout(CATCH_UP, applied.wait_for(|r| *r >= target)).await;
        Ok(matches!(reached, Ok(Ok(_))))
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn load(inner: &dyn Backend) -> Result<(BTreeMap<String, KeyValue>, Revision), Error> {
    let mut items = BTreeMap::new();
    let mut start_after: Option<String> = None;
    let mut at = ReadAt::Latest;
    loop {
        let page = inner.list("", start_after.as_deref(), NonZeroUsize::new(5_000), at).await?;
        at = ReadAt::Exactly(page.revision);
        let done = page.remaining == 0 || page.items.is_empty();
        start_after = page.items.last().map(|kv| kv.key.clone());
        for kv in page.items {
            items.insert(kv.key.clone(), kv);
        }
        if done {
            return Ok((items, page.revision));
        }
    }
}

/// Applies backend events to the cache; re-lists when the feed breaks.
async fn follow(inner: Arc<dyn Backend>, state: Arc<Mutex<State>>, applied: watch::Sender<Revision>, shutdown: CancellationToken) {
    loop {
        let from = lock(&state).revision;
        let mut feed = match inner.watch("", from).await {
            Ok(feed) => feed,
            Err(e) => {
                tracing::warn!(error = %e, "watch cache feed failed to start; retrying");
                if !relist_after_pause(inner.as_ref(), &state, &applied, &shutdown).await {
                    return;
                }
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = feed.next() => n,
            };
            match next {
                Some(Ok(event)) => {
                    let revision = event.revision();
                    apply(&mut lock(&state), event);
                    applied.send_replace(revision);
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "watch cache feed broke; re-listing");
                    break;
                }
                None => break,
            }
        }
        if !relist_after_pause(inner.as_ref(), &state, &applied, &shutdown).await {
            return;
        }
    }
}

/// Re-reads everything and ends every cache-served watch (their history has a gap now).
async fn relist_after_pause(inner: &dyn Backend, state: &Mutex<State>, applied: &watch::Sender<Revision>, shutdown: &CancellationToken) -> bool {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        match load(inner).await {
            Ok((items, revision)) => {
                let mut s = lock(state);
                s.items = items;
                s.revision = revision;
                s.events.clear();
                s.window_start = revision;
                s.live = broadcast::channel(LIVE_BUFFER).0;
                drop(s);
                applied.send_replace(revision);
                return true;
            }
            Err(e) => tracing::warn!(error = %e, "watch cache re-list failed; retrying"),
        }
    }
}

fn apply(s: &mut State, event: WatchEvent) {
    if event.revision() <= s.revision {
        return;
    }
    match &event {
        WatchEvent::Put { kv, .. } => {
            s.items.insert(kv.key.clone(), kv.clone());
        }
        WatchEvent::Delete { prev, .. } => {
            s.items.remove(&prev.key);
        }
    }
    s.revision = event.revision();
    s.events.push_back(event.clone());
    if s.events.len() > WINDOW {
        if let Some(old) = s.events.pop_front() {
            s.window_start = old.revision();
        }
    }
    // No receivers is fine: nobody is watching.
    let _ = s.live.send(event);
}

#[async_trait::async_trait]
impl Backend for WatchCache {
    async fn get(&self, key: &str, at: ReadAt) -> Result<Option<KeyValue>, Error> {
        if at == ReadAt::Latest && self.catch_up().await? {
            return Ok(self.lock().items.get(key).cloned());
        }
        self.inner.get(key, at).await
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>, limit: Option<NonZeroUsize>, at: ReadAt) -> Result<ListPage, Error> {
        let from_cache = match at {
            ReadAt::Latest => self.catch_up().await?,
            ReadAt::Exactly(rev) => self.lock().revision == rev,
        };
        if from_cache {
            let s = self.lock();
            if at == ReadAt::Latest || at == ReadAt::Exactly(s.revision) {
                let mut range = s
                    .items
                    .range(start_after.unwrap_or(prefix).to_string()..)
                    .skip_while(|(k, _)| Some(k.as_str()) == start_after)
                    .take_while(|(k, _)| k.starts_with(prefix));
                let want = limit.map_or(usize::MAX, NonZeroUsize::get);
                let items: Vec<KeyValue> = range.by_ref().take(want).map(|(_, kv)| kv.clone()).collect();
                let remaining = range.count() as u64;
                return Ok(ListPage { items, revision: s.revision, remaining });
            }
        }
        self.inner.list(prefix, start_after, limit, at).await
    }

    async fn count(&self, prefix: &str) -> Result<u64, Error> {
        if self.catch_up().await? {
            let s = self.lock();
            return Ok(s.items.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).count() as u64);
        }
        self.inner.count(prefix).await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision, Error> {
        self.inner.create(key, value).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision, Error> {
        self.inner.update(key, value, expected).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision), Error> {
        self.inner.delete(key, expected).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, Error> {
        let (replay, live, window_start) = {
            let s = self.lock();
            if after < s.window_start {
                (None, None, s.window_start)
            } else {
                let replay: Vec<WatchEvent> = s.events.iter().filter(|e| e.revision() > after && e.key().starts_with(prefix)).cloned().collect();
                (Some(replay), Some(s.live.subscribe()), s.window_start)
            }
        };
        let (Some(replay), Some(live)) = (replay, live) else {
            tracing::debug!(after = after.0, window_start = window_start.0, "watch starts before the cache window; using the backend");
            return self.inner.watch(prefix, after).await;
        };
        let last_replayed = replay.last().map_or(after, WatchEvent::revision);
        let prefix = prefix.to_string();
        let live = BroadcastStream::new(live).filter_map(move |e| {
            let item = match e {
                Ok(e) if e.revision() > last_replayed && e.key().starts_with(&prefix) => Some(Ok(e)),
                Ok(_) => None,
                Err(BroadcastStreamRecvError::Lagged(n)) => Some(Err(Error::Unavailable(format!("watcher fell {n} events behind and was closed").into()))),
            };
            std::future::ready(item)
        });
        // A lagged watcher gets its error and then nothing more.
        let mut failed = false;
        let live = live.take_while(move |item| {
            let keep = !failed;
            failed |= item.is_err();
            std::future::ready(keep)
        });
        Ok(Box::pin(futures::stream::iter(replay.into_iter().map(Ok)).chain(live)))
    }

    async fn current_revision(&self) -> Result<Revision, Error> {
        self.inner.current_revision().await
    }

    async fn compact(&self, through: Revision) -> Result<(), Error> {
        self.inner.compact(through).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts a cache over a store that already holds `keys`.
    async fn cache_over(keys: &[&str]) -> (Arc<dyn Backend>, WatchCache) {
        let dir = std::env::temp_dir().join(format!("corten-watch-cache-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        let store: Arc<dyn Backend> = Arc::new(corten_storage::embedded::EmbeddedBackend::open(&dir.join("db")).expect("open"));
        for k in keys {
            store.create(k, Bytes::from_static(b"v0")).await.expect("create");
        }
        let cache = WatchCache::start(store.clone(), CancellationToken::new()).await.expect("start");
        (store, cache)
    }

    #[tokio::test]
    async fn reads_see_writes_made_through_the_cache() {
        let (_, cache) = cache_over(&["/registry/a/1", "/registry/b/1"]).await;
        let rev = cache.create("/registry/a/2", Bytes::from_static(b"v1")).await.expect("create");
        let got = cache.get("/registry/a/2", ReadAt::Latest).await.expect("get").expect("present");
        assert_eq!(got.mod_revision, rev);
        let page = cache.list("/registry/a/", None, None, ReadAt::Latest).await.expect("list");
        assert_eq!(page.items.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(), ["/registry/a/1", "/registry/a/2"]);
        assert_eq!(page.revision, rev);
        assert_eq!(cache.count("/registry/").await.expect("count"), 3);
    }

    #[tokio::test]
    async fn paged_lists_report_what_remains() {
        let (_, cache) = cache_over(&["/r/1", "/r/2", "/r/3", "/r/4", "/s/1"]).await;
        let first = cache.list("/r/", None, NonZeroUsize::new(2), ReadAt::Latest).await.expect("list");
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.remaining, 2);
        let last = first.items.last().map(|kv| kv.key.clone());
        let second = cache.list("/r/", last.as_deref(), NonZeroUsize::new(2), ReadAt::Exactly(first.revision)).await.expect("list");
        assert_eq!(second.items.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(), ["/r/3", "/r/4"]);
        assert_eq!(second.remaining, 0);
    }

    #[tokio::test]
    async fn watch_replays_the_window_then_follows_live_changes() {
        let (_, cache) = cache_over(&[]).await;
        let r1 = cache.create("/registry/a/1", Bytes::from_static(b"1")).await.expect("create");
        let r2 = cache.update("/registry/a/1", Bytes::from_static(b"2"), r1).await.expect("update");
        cache.create("/registry/b/1", Bytes::from_static(b"x")).await.expect("create");
        cache.catch_up().await.expect("catch up");
        let mut stream = cache.watch("/registry/a/", r1).await.expect("watch");
        let first = stream.next().await.expect("event").expect("ok");
        assert_eq!(first.revision(), r2);
        let (_, r4) = cache.delete("/registry/a/1", None).await.expect("delete");
        let second = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("in time").expect("event").expect("ok");
        assert!(matches!(second, WatchEvent::Delete { revision, .. } if revision == r4), "{second:?}");
    }
}
