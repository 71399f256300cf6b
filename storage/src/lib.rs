//! Keys, bytes and revisions: the storage seam under the API server.
//!
//! This crate never sees a Kubernetes object. It stores opaque values under string keys
//! (`/registry/<resource>/<namespace>/<name>`) with etcd's revision semantics:
//!
//! * one global revision counter, bumped by every successful write (create, update, delete);
//! * an object's `resourceVersion` is the revision of its last write (`mod_revision`);
//! * writes are compare-and-swap on that revision, so optimistic concurrency is exact;
//! * watches start *after* a revision and replay history until caught up, unless that history was
//!   compacted away, in which case they fail with [`Error::Compacted`] (the API's `410 Expired`).
//!
//! Two backends implement [`Backend`]: [`embedded::EmbeddedBackend`] (one durable file, the default)
//! and [`etcd::EtcdBackend`] (a real etcd cluster). Both pass the one contract suite in [`testing`].
#![warn(missing_docs)]

use std::num::NonZeroUsize;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

pub mod embedded;
pub mod etcd;
pub mod testing;

/// etcd's global, monotonically increasing revision. Revision 0 means "before anything".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision(pub u64);

/// One stored value and the revisions that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: String,
    /// The opaque value.
    pub value: Bytes,
    /// Revision of the write that created this key (its current incarnation).
    pub create_revision: Revision,
    /// Revision of the last write to this key: the object's resourceVersion.
    pub mod_revision: Revision,
}

/// Which revision a read observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAt {
    /// The newest state.
    Latest,
    /// The state as of exactly this revision (fails with [`Error::Compacted`] if compacted, or
    /// [`Error::FutureRevision`] if the store has not reached it).
    Exactly(Revision),
}

/// One page of a range read. `revision` is the store revision the page was read at; continuing
/// a list must read at that same revision so that pages are consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The values, sorted by key.
    pub items: Vec<KeyValue>,
    /// The revision the read observed.
    pub revision: Revision,
    /// How many more keys under the prefix come after the last item (0 when complete).
    pub remaining: u64,
}

/// A change delivered by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was created (`prev` is `None`) or updated (`prev` is the value before).
    Put {
        /// The new value; its `mod_revision` is the event's revision.
        kv: KeyValue,
        /// The value before this write, if the key existed.
        prev: Option<KeyValue>,
    },
    /// A key was deleted at `revision`; `prev` is the value it had.
    Delete {
        /// The last value of the deleted key.
        prev: KeyValue,
        /// The revision of the delete.
        revision: Revision,
    },
}

impl WatchEvent {
    /// The revision at which this event happened.
    pub fn revision(&self) -> Revision {
        match self {
            WatchEvent::Put { kv, .. } => kv.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
        }
    }

    /// The key this event is about.
    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Put { kv, .. } => &kv.key,
            WatchEvent::Delete { prev, .. } => &prev.key,
        }
    }
}

/// A stream of watch events in revision order. It ends (or yields an error) when the backend
/// can no longer deliver events, and the consumer is expected to re-list.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, Error>> + Send>>;

/// What can go wrong in a storage call. These are neutral codes: the API server translates them
/// into `Status` errors that name the resource.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `update`/`delete`/`get` of a key that does not exist.
    #[error("key {key} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// `create` of a key that already exists.
    #[error("key {key} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// A compare-and-swap failed: the key's current revision is not the expected one.
    #[error("key {key}: expected revision {expected:?}, current is {current:?}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The key's current revision.
        current: Revision,
    },
    /// A read or watch asked for history that compaction removed.
    #[error("revision {requested:?} has been compacted; oldest available is {oldest:?}")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The oldest revision still available.
        oldest: Revision,
    },
    /// A read asked for a revision newer than the store's current one.
    #[error("revision {requested:?} is newer than the current revision {current:?}")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The backend cannot be reached or failed to do its work (I/O, network, etcd errors).
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The storage seam. Object-safe: the API server holds an `Arc<dyn Backend>`.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Reads one key. `Ok(None)` when absent.
    async fn get(&self, key: &str, at: ReadAt) -> Result<Option<KeyValue>, Error>;

    /// Reads keys that start with `prefix`, in key order, strictly after `start_after` when given,
    /// at most `limit` of them, all as of one revision.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<NonZeroUsize>,
        at: ReadAt,
    ) -> Result<ListPage, Error>;

    /// Counts the keys under `prefix` at the latest revision.
    async fn count(&self, prefix: &str) -> Result<u64, Error>;

    /// Creates `key` if absent ([`Error::AlreadyExists`] otherwise). Returns the new revision;
    /// when it returns, the write is durable.
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision, Error>;

    /// Replaces `key` if its `mod_revision` equals `expected` ([`Error::Conflict`] otherwise,
    /// [`Error::NotFound`] if absent). Returns the new revision; durable on return.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision, Error>;

    /// Deletes `key`, if `expected` is given only when its `mod_revision` equals it. Returns the
    /// deleted value and the revision of the delete.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision), Error>;

    /// Watches keys under `prefix` for events with revision strictly greater than `after`.
    /// Replays retained history first, then delivers live events, in revision order.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, Error>;

    /// The store's current revision.
    async fn current_revision(&self) -> Result<Revision, Error>;

    /// Forgets history at and before `through` (the latest value of each key is kept).
    async fn compact(&self, through: Revision) -> Result<(), Error>;
}
