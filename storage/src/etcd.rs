//! The etcd backend: the trait mapped one-to-one onto etcd v3's KV, Txn, Watch and Compact calls.
//!
//! Why it is thin: the [`Backend`] contract *is* etcd's model (one global revision,
//! `mod_revision` compare-and-swap, history reads, replaying watches), so each call is one etcd
//! request and etcd does the real work:
//!
//! * `create`: a transaction "if `create_revision(key) == 0` then put, else get";
//! * `update` / `delete`: "if the key exists and `mod_revision(key) == expected` then write, else
//!   get", the failure branch's read telling `NotFound` from `Conflict`;
//! * reads use a range request at the chosen revision, with the prefix's range end;
//! * a watch starts at `after + 1` with previous values, and a compacted start revision (in the
//!   request or reported by the watch) becomes [`Error::Compacted`].

use std::collections::VecDeque;
use std::num::NonZeroUsize;

use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, DeleteOptions, EventType, GetOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions,
};

use crate::{Backend, Error, KeyValue, ListPage, ReadAt, Revision, WatchEvent, WatchStream};

/// etcd's message when a read or compaction names a revision compaction already removed.
const COMPACTED_MESSAGE: &str = "required revision has been compacted";
/// etcd's message when a read names a revision the store has not reached.
const FUTURE_MESSAGE: &str = "required revision is a future revision";

/// A response that does not have the shape etcd promises.
#[derive(Debug, thiserror::Error)]
#[error("unexpected etcd response: {0}")]
struct UnexpectedResponse(&'static str);

fn unexpected(what: &'static str) -> Error {
    Error::Unavailable(Box::new(UnexpectedResponse(what)))
}

/// A watch that etcd cancelled for a reason other than compaction.
#[derive(Debug, thiserror::Error)]
#[error("etcd cancelled the watch: {0}")]
struct WatchCancelled(String);

/// A store backed by an etcd cluster.
pub struct EtcdBackend {
    /// The client multiplexes over one channel; clones are cheap and share it.
    client: Client,
}

impl EtcdBackend {
    /// Connects to the cluster at `endpoints` (for example `http://127.0.0.1:2379`).
    pub async fn connect(endpoints: &[String]) -> Result<Self, Error> {
        let client = Client::connect(endpoints, None).await.map_err(|error| Error::Unavailable(Box::new(error)))?;
        Ok(Self { client })
    }

    fn client(&self) -> Client {
        self.client.clone()
    }

    /// Maps an etcd error for a read at `requested`: compaction and future-revision errors
    /// become their own codes, everything else is `Unavailable`.
    async fn read_error(&self, error: etcd_client::Error, requested: i64) -> Error {
        let message = error.to_string();
        let requested = Revision(u64::try_from(requested).unwrap_or(0));
        if message.contains(COMPACTED_MESSAGE) {
            // etcd does not say how far it compacted; the revision after the requested one is
            // the tightest lower bound known here.
            Error::Compacted { requested, oldest: Revision(requested.0 + 1) }
        } else if message.contains(FUTURE_MESSAGE) {
            match self.current_revision().await {
                Ok(current) => Error::FutureRevision { requested, current },
                Err(error) => error,
            }
        } else {
            Error::Unavailable(Box::new(error))
        }
    }
}

fn unavailable(error: etcd_client::Error) -> Error {
    Error::Unavailable(Box::new(error))
}

/// etcd revisions are `i64`; ours are `u64`.
fn to_etcd(revision: Revision) -> Result<i64, Error> {
    i64::try_from(revision.0).map_err(|_| unexpected("revision out of etcd's range"))
}

fn from_etcd(revision: i64) -> Revision {
    Revision(u64::try_from(revision).unwrap_or(0))
}

/// The first key after every key that starts with `prefix` (etcd's "range end" for a prefix).
/// An empty prefix, or one of only `0xff` bytes, ranges to the end of the keyspace (`\0`).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The key a range under `prefix` starts from: the prefix itself, or just after `start_after`.
fn range_start(prefix: &str, start_after: Option<&str>) -> Vec<u8> {
    match start_after {
        Some(after) if after >= prefix => {
            let mut start = after.as_bytes().to_vec();
            start.push(0);
            start
        }
        _ if prefix.is_empty() => vec![0],
        _ => prefix.as_bytes().to_vec(),
    }
}

fn convert(kv: &etcd_client::KeyValue) -> Result<KeyValue, Error> {
    Ok(KeyValue {
        key: kv.key_str().map_err(unavailable)?.to_owned(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: from_etcd(kv.create_revision()),
        mod_revision: from_etcd(kv.mod_revision()),
    })
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision, Error> {
    header.map(|header| from_etcd(header.revision())).ok_or_else(|| unexpected("response without header"))
}

/// The key's current value from the read in a failed transaction's `else` branch.
fn current_from_else_branch(responses: &[TxnOpResponse]) -> Result<Option<KeyValue>, Error> {
    match responses.first() {
        Some(TxnOpResponse::Get(get)) => get.kvs().first().map(convert).transpose(),
        _ => Err(unexpected("transaction else-branch without a read")),
    }
}

impl EtcdBackend {
    /// Runs "if the key exists (and is at `expected`) then `write` else get" and sorts the
    /// failure into `NotFound` / `Conflict`.
    async fn guarded_write(
        &self,
        key: &str,
        expected: Option<Revision>,
        write: TxnOp,
    ) -> Result<etcd_client::TxnResponse, Error> {
        let mut compares = vec![Compare::create_revision(key, CompareOp::Greater, 0)];
        if let Some(expected) = expected {
            compares.push(Compare::mod_revision(key, CompareOp::Equal, to_etcd(expected)?));
        }
        let txn = Txn::new().when(compares).and_then(vec![write]).or_else(vec![TxnOp::get(key, None)]);
        let response = self.client().txn(txn).await.map_err(unavailable)?;
        if response.succeeded() {
            return Ok(response);
        }
        match current_from_else_branch(&response.op_responses())? {
            None => Err(Error::NotFound { key: key.to_owned() }),
            Some(current) => Err(Error::Conflict {
                key: key.to_owned(),
                expected: expected.unwrap_or_default(),
                current: current.mod_revision,
            }),
        }
    }
}

#[async_trait::async_trait]
impl Backend for EtcdBackend {
    async fn get(&self, key: &str, at: ReadAt) -> Result<Option<KeyValue>, Error> {
        let mut options = GetOptions::new();
        let mut requested = 0;
        if let ReadAt::Exactly(revision) = at {
            requested = to_etcd(revision)?;
            options = options.with_revision(requested);
        }
        match self.client().get(key, Some(options)).await {
            Ok(response) => response.kvs().first().map(convert).transpose(),
            Err(error) => Err(self.read_error(error, requested).await),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<NonZeroUsize>,
        at: ReadAt,
    ) -> Result<ListPage, Error> {
        let mut options = GetOptions::new().with_range(prefix_end(prefix));
        let mut requested = 0;
        if let ReadAt::Exactly(revision) = at {
            requested = to_etcd(revision)?;
            options = options.with_revision(requested);
        }
        if let Some(limit) = limit {
            options = options.with_limit(i64::try_from(limit.get()).unwrap_or(i64::MAX));
        }
        let response = match self.client().get(range_start(prefix, start_after), Some(options)).await {
            Ok(response) => response,
            Err(error) => return Err(self.read_error(error, requested).await),
        };
        let items = response.kvs().iter().map(convert).collect::<Result<Vec<_>, _>>()?;
        // `count` is every key in the range, not just the returned ones.
        let total = u64::try_from(response.count()).unwrap_or(0);
        let remaining = total.saturating_sub(items.len() as u64);
        let revision = match at {
            ReadAt::Latest => header_revision(response.header())?,
            ReadAt::Exactly(revision) => revision,
        };
        Ok(ListPage { items, revision, remaining })
    }

    async fn count(&self, prefix: &str) -> Result<u64, Error> {
        let options = GetOptions::new().with_range(prefix_end(prefix)).with_count_only();
        let response = self.client().get(range_start(prefix, None), Some(options)).await.map_err(unavailable)?;
        Ok(u64::try_from(response.count()).unwrap_or(0))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision, Error> {
        let txn = Txn::new()
            .when(vec![Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then(vec![TxnOp::put(key, value.to_vec(), None)]);
        let response = self.client().txn(txn).await.map_err(unavailable)?;
        if !response.succeeded() {
            return Err(Error::AlreadyExists { key: key.to_owned() });
        }
        header_revision(response.header())
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision, Error> {
        let response = self.guarded_write(key, Some(expected), TxnOp::put(key, value.to_vec(), None)).await?;
        header_revision(response.header())
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision), Error> {
        let response =
            self.guarded_write(key, expected, TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()))).await?;
        let revision = header_revision(response.header())?;
        let prev = match response.op_responses().first() {
            Some(TxnOpResponse::Delete(deleted)) => deleted.prev_kvs().first().map(convert).transpose()?,
            _ => None,
        };
        let prev = prev.ok_or_else(|| unexpected("delete without the previous value"))?;
        Ok((prev, revision))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, Error> {
        // etcd reports a compacted start revision asynchronously, on the stream; a read at
        // `after` surfaces it synchronously, the way callers expect.
        let after_etcd = to_etcd(after)?;
        if after_etcd > 0 {
            let probe = GetOptions::new().with_revision(after_etcd).with_count_only();
            if let Err(error) = self.client().get(range_start(prefix, None), Some(probe)).await {
                match self.read_error(error, after_etcd).await {
                    // Watching from a revision not reached yet is fine: events arrive when it is.
                    Error::FutureRevision { .. } => {}
                    other => return Err(other),
                }
            }
        }
        let options = WatchOptions::new()
            .with_range(prefix_end(prefix))
            .with_start_revision(after_etcd + 1)
            .with_prev_key();
        let stream = self.client().watch(range_start(prefix, None), Some(options)).await.map_err(unavailable)?;
        let state = EtcdWatch { stream, pending: VecDeque::new(), after, ended: false };
        Ok(Box::pin(futures::stream::unfold(state, EtcdWatch::next_event)))
    }

    async fn current_revision(&self) -> Result<Revision, Error> {
        let response = self.client().get(vec![0], Some(GetOptions::new().with_count_only())).await.map_err(unavailable)?;
        header_revision(response.header())
    }

    async fn compact(&self, through: Revision) -> Result<(), Error> {
        let revision = to_etcd(through)?;
        match self.client().compact(revision, Some(CompactionOptions::new().with_physical())).await {
            Ok(_) => Ok(()),
            // Compacting again through an already compacted revision changes nothing.
            Err(error) if error.to_string().contains(COMPACTED_MESSAGE) => Ok(()),
            Err(error) => Err(self.read_error(error, revision).await),
        }
    }
}

/// State of one etcd watch, turned into a stream of [`WatchEvent`]s.
struct EtcdWatch {
    /// Kept whole: dropping its request half would end the watch.
    stream: etcd_client::WatchStream,
    pending: VecDeque<Result<WatchEvent, Error>>,
    after: Revision,
    ended: bool,
}

impl EtcdWatch {
    async fn next_event(mut self) -> Option<(Result<WatchEvent, Error>, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.is_err() {
                    self.ended = true;
                    self.pending.clear();
                }
                return Some((item, self));
            }
            if self.ended {
                return None;
            }
            match self.stream.message().await {
                Ok(Some(response)) => self.absorb(&response),
                Ok(None) => return None,
                Err(error) => self.pending.push_back(Err(unavailable(error))),
            }
        }
    }

    fn absorb(&mut self, response: &etcd_client::WatchResponse) {
        if response.compact_revision() > 0 {
            self.pending.push_back(Err(Error::Compacted {
                requested: Revision(self.after.0 + 1),
                oldest: from_etcd(response.compact_revision()),
            }));
            return;
        }
        if response.canceled() {
            let reason = response.cancel_reason().to_owned();
            self.pending.push_back(Err(Error::Unavailable(Box::new(WatchCancelled(reason)))));
            return;
        }
        for event in response.events() {
            self.pending.push_back(convert_event(event));
        }
    }
}

fn convert_event(event: &etcd_client::Event) -> Result<WatchEvent, Error> {
    let kv = event.kv().ok_or_else(|| unexpected("watch event without a key"))?;
    let prev = event.prev_kv().map(convert).transpose()?;
    match event.event_type() {
        EventType::Put => Ok(WatchEvent::Put { kv: convert(kv)?, prev }),
        EventType::Delete => Ok(WatchEvent::Delete {
            prev: prev.ok_or_else(|| unexpected("delete event without the previous value"))?,
            revision: from_etcd(kv.mod_revision()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end("/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
        assert_eq!(prefix_end(""), vec![0], "an empty prefix ranges over every key");
    }

    #[test]
    fn range_start_skips_past_start_after_within_the_prefix() {
        assert_eq!(range_start("/p/", Some("/p/b")), b"/p/b\0".to_vec());
        assert_eq!(range_start("/p/", None), b"/p/".to_vec());
        assert_eq!(range_start("/p/", Some("/a")), b"/p/".to_vec(), "a start_after before the prefix is ignored");
        assert_eq!(range_start("", None), vec![0]);
    }
}
