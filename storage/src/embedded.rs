//! scratch-only in-memory stub
#![allow(missing_docs)]
use std::collections::BTreeMap;
use std::sync::Mutex;
use crate::*;
pub struct EmbeddedBackend { inner: Mutex<(u64, BTreeMap<String, KeyValue>)>, tx: tokio::sync::broadcast::Sender<WatchEvent> }
impl EmbeddedBackend { pub fn open(_: &std::path::Path) -> Result<Self, Error> { Ok(Self { inner: Mutex::new((0, BTreeMap::new())), tx: tokio::sync::broadcast::channel(10000).0 }) } }
#[async_trait::async_trait]
impl Backend for EmbeddedBackend {
    async fn get(&self, k: &str, _: ReadAt) -> Result<Option<KeyValue>, Error> { Ok(self.inner.lock().unwrap().1.get(k).cloned()) }
    async fn list(&self, p: &str, sa: Option<&str>, l: Option<std::num::NonZeroUsize>, _: ReadAt) -> Result<ListPage, Error> {
        let g = self.inner.lock().unwrap();
        let all: Vec<KeyValue> = g.1.range(p.to_string()..).take_while(|(k, _)| k.starts_with(p)).filter(|(k, _)| sa.map_or(true, |s| k.as_str() > s)).map(|(_, v)| v.clone()).collect();
        let n = l.map_or(all.len(), |l| l.get().min(all.len()));
        Ok(ListPage { remaining: (all.len() - n) as u64, items: all[..n].to_vec(), revision: Revision(g.0) })
    }
    async fn count(&self, p: &str) -> Result<u64, Error> { Ok(self.inner.lock().unwrap().1.keys().filter(|k| k.starts_with(p)).count() as u64) }
    async fn create(&self, k: &str, v: bytes::Bytes) -> Result<Revision, Error> {
        let mut g = self.inner.lock().unwrap(); if g.1.contains_key(k) { return Err(Error::AlreadyExists { key: k.into() }); }
        g.0 += 1; let kv = KeyValue { key: k.into(), value: v, create_revision: Revision(g.0), mod_revision: Revision(g.0) }; g.1.insert(k.into(), kv.clone()); let _ = self.tx.send(WatchEvent::Put { kv, prev: None }); Ok(Revision(g.0)) }
    async fn update(&self, k: &str, v: bytes::Bytes, e: Revision) -> Result<Revision, Error> {
        let mut g = self.inner.lock().unwrap(); let Some(cur) = g.1.get(k).cloned() else { return Err(Error::NotFound { key: k.into() }) };
        if cur.mod_revision != e { return Err(Error::Conflict { key: k.into(), expected: e, current: cur.mod_revision }); }
        g.0 += 1; let kv = KeyValue { key: k.into(), value: v, create_revision: cur.create_revision, mod_revision: Revision(g.0) }; g.1.insert(k.into(), kv.clone()); let _ = self.tx.send(WatchEvent::Put { kv, prev: Some(cur) }); Ok(Revision(g.0)) }
    async fn delete(&self, k: &str, e: Option<Revision>) -> Result<(KeyValue, Revision), Error> {
        let mut g = self.inner.lock().unwrap(); let Some(cur) = g.1.get(k).cloned() else { return Err(Error::NotFound { key: k.into() }) };
        if e.is_some_and(|e| e != cur.mod_revision) { return Err(Error::Conflict { key: k.into(), expected: e.unwrap(), current: cur.mod_revision }); }
        g.0 += 1; g.1.remove(k); let _ = self.tx.send(WatchEvent::Delete { prev: cur.clone(), revision: Revision(g.0) }); Ok((cur, Revision(g.0))) }
    async fn watch(&self, p: &str, after: Revision) -> Result<WatchStream, Error> {
        let rx = self.tx.subscribe(); let p = p.to_string();
        Ok(Box::pin(futures::StreamExt::filter_map(tokio_stream::wrappers::BroadcastStream::new(rx), move |e| { let p = p.clone(); async move { e.ok().filter(|e| e.key().starts_with(&p) && e.revision() > after).map(Ok) } })))
    }
    async fn current_revision(&self) -> Result<Revision, Error> { Ok(Revision(self.inner.lock().unwrap().0)) }
    async fn compact(&self, _: Revision) -> Result<(), Error> { Ok(()) }
}
