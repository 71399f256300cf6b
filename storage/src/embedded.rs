//! The embedded backend: the whole store in one durable `redb` file, no external process.
//!
//! Why this shape:
//!
//! * **Tables.** `latest` maps each live key to its current record (fast `Latest` reads and
//!   counts). `history` maps `(key, revision)` to what that write did (a put with its value, or a
//!   delete marker); it serves `ReadAt::Exactly` (the newest entry at or before the revision) and
//!   the `prev` values of watch events. `log` maps each revision to the key it touched, so a watch
//!   can replay history in revision order without scanning every key. `meta` holds the current
//!   and the compacted revision.
//! * **Group commit.** Every write must be durable when the call returns, and an fsync is the
//!   expensive part. One writer thread owns all write transactions: it takes one request, drains
//!   whatever else is already queued, applies them in order inside one transaction (each request
//!   still sees the effect of the ones before it, so compare-and-swap stays exact), commits once
//!   with immediate durability and only then answers every caller. Under load, many writes share
//!   one fsync.
//! * **Watches.** After a commit, the writer publishes the batch's events on a broadcast channel.
//!   A watch subscribes *before* reading history, replays from the log, then forwards live events
//!   newer than the last replayed revision: no event is lost or duplicated at the seam. A watcher
//!   too slow for the channel gets an error and its stream ends (it must re-list), rather than
//!   silently missing events.
//! * **Crash safety** comes from redb: a commit is atomic and, with immediate durability, on disk
//!   when it returns; reopening after `kill -9` sees exactly the committed transactions.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use redb::{Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Backend, Error, KeyValue, ListPage, ReadAt, Revision, WatchEvent, WatchStream};

/// Live key → encoded [`LatestRecord`].
const LATEST: TableDefinition<&str, &[u8]> = TableDefinition::new("latest");
/// `(key, revision)` → encoded [`HistoryRecord`].
const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
/// Revision → the key written at that revision.
const LOG: TableDefinition<u64, &str> = TableDefinition::new("log");
/// Named counters: [`META_CURRENT`] and [`META_COMPACTED`].
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_CURRENT: &str = "current_revision";
const META_COMPACTED: &str = "compacted_revision";

/// How many queued writes one transaction may absorb.
const MAX_BATCH: usize = 1024;
/// How many committed batches a watcher may fall behind before its stream is ended.
const WATCH_CHANNEL_BATCHES: usize = 4096;
/// Capacity of the request queue in front of the writer thread.
const REQUEST_QUEUE: usize = 4096;

/// Wraps any failure of the storage engine as [`Error::Unavailable`].
fn unavailable<E: std::error::Error + Send + Sync + 'static>(error: E) -> Error {
    Error::Unavailable(Box::new(error))
}

/// A fixed-message failure (corrupt record, writer gone, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct EngineFailure(&'static str);

fn failure(message: &'static str) -> Error {
    Error::Unavailable(Box::new(EngineFailure(message)))
}

/// The value stored in `latest`: `create_revision`, `mod_revision` (both little-endian u64), then
/// the value bytes.
struct LatestRecord {
    create_revision: u64,
    mod_revision: u64,
    value: Bytes,
}

impl LatestRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.value.len());
        out.extend_from_slice(&self.create_revision.to_le_bytes());
        out.extend_from_slice(&self.mod_revision.to_le_bytes());
        out.extend_from_slice(&self.value);
        out
    }

    fn decode(raw: &[u8]) -> Result<Self, Error> {
        let create = raw.get(0..8).ok_or_else(|| failure("corrupt latest record"))?;
        let modified = raw.get(8..16).ok_or_else(|| failure("corrupt latest record"))?;
        Ok(Self {
            create_revision: u64::from_le_bytes(create.try_into().map_err(|_| failure("corrupt latest record"))?),
            mod_revision: u64::from_le_bytes(modified.try_into().map_err(|_| failure("corrupt latest record"))?),
            value: Bytes::copy_from_slice(&raw[16..]),
        })
    }

    fn into_key_value(self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: self.value,
            create_revision: Revision(self.create_revision),
            mod_revision: Revision(self.mod_revision),
        }
    }
}

/// What one write did to a key, stored in `history` under `(key, revision)`: a tag byte
/// (`1` put, `0` delete); for puts, the `create_revision` (little-endian u64) and the value.
enum HistoryRecord {
    Put { create_revision: u64, value: Bytes },
    Delete,
}

impl HistoryRecord {
    fn encode(&self) -> Vec<u8> {
        match self {
            HistoryRecord::Delete => vec![0],
            HistoryRecord::Put { create_revision, value } => {
                let mut out = Vec::with_capacity(9 + value.len());
                out.push(1);
                out.extend_from_slice(&create_revision.to_le_bytes());
                out.extend_from_slice(value);
                out
            }
        }
    }

    fn decode(raw: &[u8]) -> Result<Self, Error> {
        match raw.first() {
            Some(0) => Ok(HistoryRecord::Delete),
            Some(1) => {
                let create = raw.get(1..9).ok_or_else(|| failure("corrupt history record"))?;
                Ok(HistoryRecord::Put {
                    create_revision: u64::from_le_bytes(create.try_into().map_err(|_| failure("corrupt history record"))?),
                    value: Bytes::copy_from_slice(&raw[9..]),
                })
            }
            _ => Err(failure("corrupt history record")),
        }
    }

    /// The key's value as of this entry written at `revision`, if it was a put.
    fn into_key_value(self, key: &str, revision: u64) -> Option<KeyValue> {
        match self {
            HistoryRecord::Delete => None,
            HistoryRecord::Put { create_revision, value } => Some(KeyValue {
                key: key.to_owned(),
                value,
                create_revision: Revision(create_revision),
                mod_revision: Revision(revision),
            }),
        }
    }
}

/// One request to the writer thread, with the channel its answer goes back on.
enum WriteRequest {
    Create { key: String, value: Bytes, reply: oneshot::Sender<Result<Revision, Error>> },
    Update { key: String, value: Bytes, expected: Revision, reply: oneshot::Sender<Result<Revision, Error>> },
    Delete { key: String, expected: Option<Revision>, reply: oneshot::Sender<Result<(KeyValue, Revision), Error>> },
    Compact { through: Revision, reply: oneshot::Sender<Result<(), Error>> },
}

/// The store in one redb file. See the module docs for the layout and the write path.
pub struct EmbeddedBackend {
    database: Arc<Database>,
    /// `None` only while dropping.
    requests: Option<mpsc::Sender<WriteRequest>>,
    events: broadcast::Sender<Arc<Vec<WatchEvent>>>,
    /// Joined on drop so that the file is released when the backend is gone.
    writer: Option<JoinHandle<()>>,
}

impl EmbeddedBackend {
    /// Opens (or creates) the store at `path` and starts its writer thread.
    pub fn open(path: &Path) -> Result<Self, Error> {
        Self::open_with_watch_capacity(path, WATCH_CHANNEL_BATCHES)
    }

    /// [`open`](Self::open) with a chosen live-event buffer (tests use a tiny one to provoke lag).
    fn open_with_watch_capacity(path: &Path, watch_batches: usize) -> Result<Self, Error> {
        let database = Database::create(path).map_err(unavailable)?;
        let mut txn = database.begin_write().map_err(unavailable)?;
        txn.set_durability(Durability::Immediate).map_err(unavailable)?;
        {
            txn.open_table(LATEST).map_err(unavailable)?;
            txn.open_table(HISTORY).map_err(unavailable)?;
            txn.open_table(LOG).map_err(unavailable)?;
            txn.open_table(META).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)?;

        let database = Arc::new(database);
        let (requests, queue) = mpsc::channel(REQUEST_QUEUE);
        let (events, _) = broadcast::channel(watch_batches);
        let writer_database = Arc::clone(&database);
        let writer_events = events.clone();
        let writer = std::thread::Builder::new()
            .name("corten-storage-writer".into())
            .spawn(move || run_writer(&writer_database, queue, &writer_events))
            .map_err(unavailable)?;
        Ok(Self { database, requests: Some(requests), events, writer: Some(writer) })
    }

    /// Runs a read-only closure on a blocking thread against a fresh snapshot.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&ReadTransaction) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let database = Arc::clone(&self.database);
        tokio::task::spawn_blocking(move || {
            let txn = database.begin_read().map_err(unavailable)?;
            work(&txn)
        })
        .await
        .map_err(unavailable)?
    }

    /// Queues a write and waits for the writer thread's answer.
    async fn write<T>(&self, request: WriteRequest, answer: oneshot::Receiver<Result<T, Error>>) -> Result<T, Error> {
        let requests = self.requests.as_ref().ok_or_else(|| failure("storage is shutting down"))?;
        requests.send(request).await.map_err(|_| failure("storage writer has stopped"))?;
        answer.await.map_err(|_| failure("storage writer has stopped"))?
    }
}

impl Drop for EmbeddedBackend {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and exit; joining it releases
        // the file lock, so the same path can be reopened right away.
        self.requests = None;
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("storage writer thread panicked");
            }
        }
    }
}

/// Reads a named counter from `meta` (0 when unset).
fn read_meta(txn: &ReadTransaction, name: &str) -> Result<u64, Error> {
    let meta = txn.open_table(META).map_err(unavailable)?;
    Ok(meta.get(name).map_err(unavailable)?.map(|guard| guard.value()).unwrap_or(0))
}

/// Resolves `at` to a concrete revision, checking it against the retained window.
fn resolve_read_revision(txn: &ReadTransaction, at: ReadAt) -> Result<(u64, bool), Error> {
    let current = read_meta(txn, META_CURRENT)?;
    match at {
        ReadAt::Latest => Ok((current, true)),
        ReadAt::Exactly(Revision(requested)) => {
            if requested > current {
                return Err(Error::FutureRevision { requested: Revision(requested), current: Revision(current) });
            }
            let compacted = read_meta(txn, META_COMPACTED)?;
            if requested < compacted {
                return Err(Error::Compacted { requested: Revision(requested), oldest: Revision(compacted) });
            }
            Ok((requested, requested == current))
        }
    }
}

/// The value of `key` as of `revision`, from `history`.
fn history_value_at<T: ReadableTable<(&'static str, u64), &'static [u8]>>(
    history: &T,
    key: &str,
    revision: u64,
) -> Result<Option<KeyValue>, Error> {
    let newest = history.range((key, 0u64)..=(key, revision)).map_err(unavailable)?.next_back();
    match newest {
        None => Ok(None),
        Some(entry) => {
            let (stored_key, stored_value) = entry.map_err(unavailable)?;
            let (_, written_at) = stored_key.value();
            Ok(HistoryRecord::decode(stored_value.value())?.into_key_value(key, written_at))
        }
    }
}

/// Keys under `prefix` strictly after `start_after`, as of `revision`, at most `limit`.
fn list_in(
    txn: &ReadTransaction,
    prefix: &str,
    start_after: Option<&str>,
    limit: Option<NonZeroUsize>,
    revision: u64,
    latest: bool,
) -> Result<ListPage, Error> {
    let limit = limit.map_or(usize::MAX, NonZeroUsize::get);
    let mut items = Vec::new();
    let mut remaining = 0u64;
    let mut accept = |kv: KeyValue| {
        if items.len() < limit {
            items.push(kv);
        } else {
            remaining += 1;
        }
    };
    let start = start_after.filter(|after| *after >= prefix).unwrap_or(prefix);
    if latest {
        let table = txn.open_table(LATEST).map_err(unavailable)?;
        for entry in table.range(start..).map_err(unavailable)? {
            let (key, value) = entry.map_err(unavailable)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            if start_after.is_some_and(|after| key <= after) {
                continue;
            }
            accept(LatestRecord::decode(value.value())?.into_key_value(key));
        }
    } else {
        let history = txn.open_table(HISTORY).map_err(unavailable)?;
        // Entries are sorted by (key, revision): for each key, remember the newest entry at or
        // before `revision` and emit it when the key changes.
        let mut pending: Option<(String, u64, Vec<u8>)> = None;
        let mut flush = |pending: Option<(String, u64, Vec<u8>)>| -> Result<(), Error> {
            if let Some((key, written_at, raw)) = pending {
                if let Some(kv) = HistoryRecord::decode(&raw)?.into_key_value(&key, written_at) {
                    accept(kv);
                }
            }
            Ok(())
        };
        for entry in history.range((start, 0u64)..).map_err(unavailable)? {
            let (stored_key, stored_value) = entry.map_err(unavailable)?;
            let (key, written_at) = stored_key.value();
            if !key.starts_with(prefix) {
                break;
            }
            if start_after.is_some_and(|after| key <= after) || written_at > revision {
                continue;
            }
            if pending.as_ref().is_some_and(|(pending_key, _, _)| pending_key != key) {
                flush(pending.take())?;
            }
            pending = Some((key.to_owned(), written_at, stored_value.value().to_vec()));
        }
        flush(pending)?;
    }
    Ok(ListPage { items, revision: Revision(revision), remaining })
}

/// Reads the events after `after` under `prefix` from the log, in revision order. Returns them
/// with the snapshot's current revision.
fn replay_history(txn: &ReadTransaction, prefix: &str, after: u64) -> Result<(Vec<WatchEvent>, u64), Error> {
    let current = read_meta(txn, META_CURRENT)?;
    let compacted = read_meta(txn, META_COMPACTED)?;
    if after < compacted {
        return Err(Error::Compacted { requested: Revision(after.saturating_add(1)), oldest: Revision(compacted) });
    }
    let log = txn.open_table(LOG).map_err(unavailable)?;
    let history = txn.open_table(HISTORY).map_err(unavailable)?;
    let mut events = Vec::new();
    for entry in log.range(after.saturating_add(1)..).map_err(unavailable)? {
        let (revision, key) = entry.map_err(unavailable)?;
        let (revision, key) = (revision.value(), key.value());
        if !key.starts_with(prefix) {
            continue;
        }
        let raw = history.get((key, revision)).map_err(unavailable)?.ok_or_else(|| failure("log entry without history"))?;
        let record = HistoryRecord::decode(raw.value())?;
        let prev = history_value_at(&history, key, revision - 1)?;
        events.push(match record.into_key_value(key, revision) {
            Some(kv) => WatchEvent::Put { kv, prev },
            None => WatchEvent::Delete {
                prev: prev.ok_or_else(|| failure("delete without a previous value"))?,
                revision: Revision(revision),
            },
        });
    }
    Ok((events, current))
}

/// The writer thread: group-commits queued requests until the queue is closed.
fn run_writer(database: &Database, mut queue: mpsc::Receiver<WriteRequest>, events: &broadcast::Sender<Arc<Vec<WatchEvent>>>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        commit_batch(database, batch, events);
    }
}

/// The outcome of one request inside a batch, held until the commit succeeds.
enum Outcome {
    Created(oneshot::Sender<Result<Revision, Error>>, Result<Revision, Error>),
    Deleted(oneshot::Sender<Result<(KeyValue, Revision), Error>>, Result<(KeyValue, Revision), Error>),
    Compacted(oneshot::Sender<Result<(), Error>>, Result<(), Error>),
}

impl Outcome {
    fn answer(self) {
        // A caller that gave up waiting is not an error of the store.
        match self {
            Outcome::Created(reply, result) => drop(reply.send(result)),
            Outcome::Deleted(reply, result) => drop(reply.send(result)),
            Outcome::Compacted(reply, result) => drop(reply.send(result)),
        }
    }

    fn fail(self, error: &str) {
        let unavailable = || Error::Unavailable(error.to_owned().into());
        match self {
            Outcome::Created(reply, _) => drop(reply.send(Err(unavailable()))),
            Outcome::Deleted(reply, _) => drop(reply.send(Err(unavailable()))),
            Outcome::Compacted(reply, _) => drop(reply.send(Err(unavailable()))),
        }
    }
}

/// Applies a batch in one transaction, commits durably, publishes events, answers callers.
fn commit_batch(database: &Database, batch: Vec<WriteRequest>, events: &broadcast::Sender<Arc<Vec<WatchEvent>>>) {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut published = Vec::new();
    let applied = apply_batch(database, batch, &mut outcomes, &mut published);
    match applied {
        Ok(()) => {
            if !published.is_empty() {
                // No receivers is fine: nobody is watching.
                drop(events.send(Arc::new(published)));
            }
            outcomes.into_iter().for_each(Outcome::answer);
        }
        Err(error) => {
            tracing::error!(%error, "storage write batch failed");
            let message = error.to_string();
            outcomes.into_iter().for_each(|outcome| outcome.fail(&message));
        }
    }
}

fn apply_batch(
    database: &Database,
    batch: Vec<WriteRequest>,
    outcomes: &mut Vec<Outcome>,
    published: &mut Vec<WatchEvent>,
) -> Result<(), Error> {
    let mut txn = match database.begin_write() {
        Ok(txn) => txn,
        Err(error) => {
            // Still record the callers so they get an answer.
            for request in batch {
                outcomes.push(placeholder_outcome(request));
            }
            return Err(unavailable(error));
        }
    };
    let mut batch = batch.into_iter();
    let result = (|| {
        txn.set_durability(Durability::Immediate).map_err(unavailable)?;
        let mut writer = BatchWriter::new(&txn)?;
        for request in batch.by_ref() {
            outcomes.push(writer.apply(request, published)?);
        }
        writer.finish()
    })();
    if let Err(error) = result {
        // The request being applied when the error hit was consumed; the rest still need answers.
        for request in batch {
            outcomes.push(placeholder_outcome(request));
        }
        return Err(error);
    }
    txn.commit().map_err(unavailable)
}

/// An outcome for a request that never ran; only its reply channel matters (it will be failed).
fn placeholder_outcome(request: WriteRequest) -> Outcome {
    match request {
        WriteRequest::Create { reply, .. } | WriteRequest::Update { reply, .. } => Outcome::Created(reply, Err(not_applied())),
        WriteRequest::Delete { reply, .. } => Outcome::Deleted(reply, Err(not_applied())),
        WriteRequest::Compact { reply, .. } => Outcome::Compacted(reply, Err(not_applied())),
    }
}

fn not_applied() -> Error {
    failure("write not applied")
}

/// The open tables of one write transaction and the revision counter it advances.
struct BatchWriter<'txn> {
    latest: redb::Table<'txn, &'static str, &'static [u8]>,
    history: redb::Table<'txn, (&'static str, u64), &'static [u8]>,
    log: redb::Table<'txn, u64, &'static str>,
    meta: redb::Table<'txn, &'static str, u64>,
    current: u64,
    compacted: u64,
}

impl<'txn> BatchWriter<'txn> {
    fn new(txn: &'txn WriteTransaction) -> Result<Self, Error> {
        let meta = txn.open_table(META).map_err(unavailable)?;
        let current = meta.get(META_CURRENT).map_err(unavailable)?.map(|guard| guard.value()).unwrap_or(0);
        let compacted = meta.get(META_COMPACTED).map_err(unavailable)?.map(|guard| guard.value()).unwrap_or(0);
        Ok(Self {
            latest: txn.open_table(LATEST).map_err(unavailable)?,
            history: txn.open_table(HISTORY).map_err(unavailable)?,
            log: txn.open_table(LOG).map_err(unavailable)?,
            meta,
            current,
            compacted,
        })
    }

    fn finish(mut self) -> Result<(), Error> {
        self.meta.insert(META_CURRENT, self.current).map_err(unavailable)?;
        self.meta.insert(META_COMPACTED, self.compacted).map_err(unavailable)?;
        Ok(())
    }

    /// Applies one request. `Err` only for engine failures (which abort the batch); a rejected
    /// request (conflict, missing key, ...) is an `Ok` outcome carrying its error.
    fn apply(&mut self, request: WriteRequest, published: &mut Vec<WatchEvent>) -> Result<Outcome, Error> {
        Ok(match request {
            WriteRequest::Create { key, value, reply } => {
                let result = match self.current_value(&key)? {
                    Some(_) => Err(Error::AlreadyExists { key }),
                    None => self.put(&key, value, None, published).map(|kv| kv.mod_revision),
                };
                Outcome::Created(reply, result)
            }
            WriteRequest::Update { key, value, expected, reply } => {
                let result = match self.current_value(&key)? {
                    None => Err(Error::NotFound { key }),
                    Some(current) if current.mod_revision != expected => {
                        Err(Error::Conflict { key, expected, current: current.mod_revision })
                    }
                    Some(current) => self.put(&key, value, Some(current), published).map(|kv| kv.mod_revision),
                };
                Outcome::Created(reply, result)
            }
            WriteRequest::Delete { key, expected, reply } => {
                let result = match self.current_value(&key)? {
                    None => Err(Error::NotFound { key }),
                    Some(current) => match expected {
                        Some(expected) if expected != current.mod_revision => {
                            Err(Error::Conflict { key, expected, current: current.mod_revision })
                        }
                        _ => self.remove(current, published),
                    },
                };
                Outcome::Deleted(reply, result)
            }
            WriteRequest::Compact { through, reply } => {
                let result = if through.0 > self.current {
                    Err(Error::FutureRevision { requested: through, current: Revision(self.current) })
                } else {
                    self.compact(through.0)
                };
                Outcome::Compacted(reply, result)
            }
        })
    }

    fn current_value(&self, key: &str) -> Result<Option<KeyValue>, Error> {
        match self.latest.get(key).map_err(unavailable)? {
            None => Ok(None),
            Some(raw) => Ok(Some(LatestRecord::decode(raw.value())?.into_key_value(key))),
        }
    }

    /// Writes `value` at the next revision. Engine errors abort the batch via `?` in the caller,
    /// so they are returned as `Err` here only to be propagated.
    fn put(&mut self, key: &str, value: Bytes, prev: Option<KeyValue>, published: &mut Vec<WatchEvent>) -> Result<KeyValue, Error> {
        let revision = self.current + 1;
        let create_revision = prev.as_ref().map_or(revision, |prev| prev.create_revision.0);
        let latest = LatestRecord { create_revision, mod_revision: revision, value: value.clone() };
        self.latest.insert(key, latest.encode().as_slice()).map_err(unavailable)?;
        let record = HistoryRecord::Put { create_revision, value };
        self.history.insert((key, revision), record.encode().as_slice()).map_err(unavailable)?;
        self.log.insert(revision, key).map_err(unavailable)?;
        self.current = revision;
        let kv = latest.into_key_value(key);
        published.push(WatchEvent::Put { kv: kv.clone(), prev });
        Ok(kv)
    }

    fn remove(&mut self, prev: KeyValue, published: &mut Vec<WatchEvent>) -> Result<(KeyValue, Revision), Error> {
        let revision = self.current + 1;
        let key = prev.key.as_str();
        self.latest.remove(key).map_err(unavailable)?;
        self.history.insert((key, revision), HistoryRecord::Delete.encode().as_slice()).map_err(unavailable)?;
        self.log.insert(revision, key).map_err(unavailable)?;
        self.current = revision;
        published.push(WatchEvent::Delete { prev: prev.clone(), revision: Revision(revision) });
        Ok((prev, Revision(revision)))
    }

    /// Drops history at and before `through`, keeping for each key its newest entry at or
    /// before `through` when that entry is a put (the key's value as of `through`).
    fn compact(&mut self, through: u64) -> Result<(), Error> {
        if through <= self.compacted {
            return Ok(());
        }
        // Only keys written since the last compaction can have more than one old entry.
        let mut touched = Vec::new();
        for entry in self.log.range(..=through).map_err(unavailable)? {
            let (_, key) = entry.map_err(unavailable)?;
            touched.push(key.value().to_owned());
        }
        touched.sort_unstable();
        touched.dedup();
        for key in &touched {
            let mut old: Vec<(u64, bool)> = Vec::new();
            for entry in self.history.range((key.as_str(), 0u64)..=(key.as_str(), through)).map_err(unavailable)? {
                let (stored_key, stored_value) = entry.map_err(unavailable)?;
                let is_put = matches!(HistoryRecord::decode(stored_value.value())?, HistoryRecord::Put { .. });
                old.push((stored_key.value().1, is_put));
            }
            let keep = old.last().filter(|(_, is_put)| *is_put).map(|(revision, _)| *revision);
            for (revision, _) in old {
                if Some(revision) != keep {
                    self.history.remove((key.as_str(), revision)).map_err(unavailable)?;
                }
            }
        }
        self.log.retain_in(..=through, |_, _| false).map_err(unavailable)?;
        self.compacted = through;
        Ok(())
    }
}

/// State of a watch stream: replayed events first, then live batches from the broadcast.
struct WatchState {
    pending: VecDeque<WatchEvent>,
    live: broadcast::Receiver<Arc<Vec<WatchEvent>>>,
    prefix: String,
    /// Events at or before this revision were already delivered (or are not wanted).
    delivered_through: u64,
    ended: bool,
}

/// Returned (once) when a watcher fell too far behind the live event channel.
#[derive(Debug, thiserror::Error)]
#[error("watcher fell behind by {0} batches of events and must restart from a fresh list")]
struct WatcherLagged(u64);

impl WatchState {
    async fn next_event(mut self) -> Option<(Result<WatchEvent, Error>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.ended {
                return None;
            }
            match self.live.recv().await {
                Ok(batch) => {
                    for event in batch.iter() {
                        let revision = event.revision().0;
                        if revision > self.delivered_through && event.key().starts_with(&self.prefix) {
                            self.pending.push_back(event.clone());
                        }
                    }
                    if let Some(last) = batch.last() {
                        self.delivered_through = self.delivered_through.max(last.revision().0);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    self.ended = true;
                    return Some((Err(Error::Unavailable(Box::new(WatcherLagged(missed)))), self));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[async_trait::async_trait]
impl Backend for EmbeddedBackend {
    async fn get(&self, key: &str, at: ReadAt) -> Result<Option<KeyValue>, Error> {
        let key = key.to_owned();
        self.read(move |txn| {
            let (revision, latest) = resolve_read_revision(txn, at)?;
            if latest {
                let table = txn.open_table(LATEST).map_err(unavailable)?;
                let found = table.get(key.as_str()).map_err(unavailable)?;
                found.map(|raw| LatestRecord::decode(raw.value()).map(|record| record.into_key_value(&key))).transpose()
            } else {
                let history = txn.open_table(HISTORY).map_err(unavailable)?;
                history_value_at(&history, &key, revision)
            }
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<NonZeroUsize>,
        at: ReadAt,
    ) -> Result<ListPage, Error> {
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        self.read(move |txn| {
            let (revision, latest) = resolve_read_revision(txn, at)?;
            list_in(txn, &prefix, start_after.as_deref(), limit, revision, latest)
        })
        .await
    }

    async fn count(&self, prefix: &str) -> Result<u64, Error> {
        let prefix = prefix.to_owned();
        self.read(move |txn| {
            let table = txn.open_table(LATEST).map_err(unavailable)?;
            let mut count = 0u64;
            for entry in table.range(prefix.as_str()..).map_err(unavailable)? {
                let (key, _) = entry.map_err(unavailable)?;
                if !key.value().starts_with(prefix.as_str()) {
                    break;
                }
                count += 1;
            }
            Ok(count)
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision, Error> {
        let (reply, answer) = oneshot::channel();
        self.write(WriteRequest::Create { key: key.to_owned(), value, reply }, answer).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision, Error> {
        let (reply, answer) = oneshot::channel();
        self.write(WriteRequest::Update { key: key.to_owned(), value, expected, reply }, answer).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision), Error> {
        let (reply, answer) = oneshot::channel();
        self.write(WriteRequest::Delete { key: key.to_owned(), expected, reply }, answer).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, Error> {
        // Subscribe before reading history: anything committed after the snapshot is then
        // guaranteed to arrive live, and the revision filter drops what the replay already had.
        let live = self.events.subscribe();
        let replay_prefix = prefix.to_owned();
        let (replayed, snapshot) = self.read(move |txn| replay_history(txn, &replay_prefix, after.0)).await?;
        let state = WatchState {
            pending: replayed.into(),
            live,
            prefix: prefix.to_owned(),
            delivered_through: snapshot.max(after.0),
            ended: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, WatchState::next_event)))
    }

    async fn current_revision(&self) -> Result<Revision, Error> {
        self.read(|txn| read_meta(txn, META_CURRENT).map(Revision)).await
    }

    async fn compact(&self, through: Revision) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.write(WriteRequest::Compact { through, reply }, answer).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use futures::StreamExt;
    use redb::ReadableTableMetadata;

    use super::*;
    use crate::testing::next_event;

    fn open(dir: &tempfile::TempDir) -> EmbeddedBackend {
        EmbeddedBackend::open(&dir.path().join("store.redb")).expect("open")
    }

    #[tokio::test]
    async fn a_lagging_watcher_gets_an_error_and_its_stream_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedBackend::open_with_watch_capacity(&dir.path().join("store.redb"), 2).expect("open");
        let mut watch = store.watch("/k/", Revision(0)).await.expect("watch");
        for index in 0..5 {
            store.create(&format!("/k/{index}"), Bytes::from_static(b"v")).await.expect("create");
        }
        let first = watch.next().await.expect("an item");
        assert!(matches!(first, Err(Error::Unavailable(_))), "lag must surface as an error, got {first:?}");
        assert!(watch.next().await.is_none(), "after reporting lag the stream ends");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_get_distinct_revisions_and_watches_see_each_once_in_order() {
        const WRITES: u64 = 300;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(open(&dir));
        let early = store.watch("/k/", Revision(0)).await.expect("early watch");
        let writers: Vec<_> = (0..WRITES)
            .map(|index| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.create(&format!("/k/{index:04}"), Bytes::from(index.to_string())).await })
            })
            .collect();
        // Started while writes are in flight: replay and live delivery meet somewhere in the middle.
        tokio::task::yield_now().await;
        let late = store.watch("/k/", Revision(0)).await.expect("late watch");
        let mut revisions = HashSet::new();
        for writer in writers {
            let revision = writer.await.expect("join").expect("create");
            assert!(revisions.insert(revision), "revision {revision:?} handed out twice");
        }
        assert_eq!(store.current_revision().await.expect("revision"), Revision(WRITES));
        for mut watch in [early, late] {
            let mut keys = HashSet::new();
            for expected in 1..=WRITES {
                let event = next_event(&mut watch).await;
                assert_eq!(event.revision(), Revision(expected), "events arrive in revision order without gaps or repeats");
                assert!(keys.insert(event.key().to_owned()));
            }
        }
    }

    #[tokio::test]
    async fn compaction_removes_superseded_history_but_keeps_live_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let a = store.create("/k/a", Bytes::from_static(b"1")).await.expect("create");
        let a = store.update("/k/a", Bytes::from_static(b"2"), a).await.expect("update");
        store.create("/k/b", Bytes::from_static(b"1")).await.expect("create");
        let (_, through) = store.delete("/k/b", None).await.expect("delete");
        store.compact(through).await.expect("compact");
        let (history, log) = store
            .read(|txn| {
                let history = txn.open_table(HISTORY).map_err(unavailable)?;
                let log = txn.open_table(LOG).map_err(unavailable)?;
                let mut rows = Vec::new();
                for entry in history.range::<(&str, u64)>(..).map_err(unavailable)? {
                    let (key, _) = entry.map_err(unavailable)?;
                    let (name, revision) = key.value();
                    rows.push((name.to_owned(), revision));
                }
                Ok((rows, log.len().map_err(unavailable)?))
            })
            .await
            .expect("read tables");
        assert_eq!(history, [("/k/a".to_owned(), a.0)], "only the live value of a survives; b's history is gone");
        assert_eq!(log, 0, "the log is empty through the compacted revision");
        // Compacting again, or through an older revision, is a no-op.
        store.compact(Revision(1)).await.expect("older compaction is a no-op");
        let future = store.compact(Revision(through.0 + 10)).await;
        assert!(matches!(future, Err(Error::FutureRevision { .. })), "compacting the future fails, got {future:?}");
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        assert!(LatestRecord::decode(&[1, 2, 3]).is_err());
        assert!(HistoryRecord::decode(&[]).is_err());
        assert!(HistoryRecord::decode(&[7]).is_err());
        assert!(HistoryRecord::decode(&[1, 0]).is_err());
        let record = HistoryRecord::Put { create_revision: 9, value: Bytes::from_static(b"v") };
        let decoded = HistoryRecord::decode(&record.encode()).expect("round trip").into_key_value("/k", 12);
        assert_eq!(decoded.map(|kv| (kv.create_revision, kv.mod_revision, kv.value)), Some((Revision(9), Revision(12), Bytes::from_static(b"v"))));
    }
}
