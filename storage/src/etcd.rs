//! stub
#![allow(missing_docs)]
pub struct EtcdBackend;
impl EtcdBackend { pub async fn connect(_: &[String]) -> Result<Self, crate::Error> { todo!() } }
#[async_trait::async_trait]
impl crate::Backend for EtcdBackend {
    async fn get(&self, _: &str, _: crate::ReadAt) -> Result<Option<crate::KeyValue>, crate::Error> { todo!() }
    async fn list(&self, _: &str, _: Option<&str>, _: Option<std::num::NonZeroUsize>, _: crate::ReadAt) -> Result<crate::ListPage, crate::Error> { todo!() }
    async fn count(&self, _: &str) -> Result<u64, crate::Error> { todo!() }
    async fn create(&self, _: &str, _: bytes::Bytes) -> Result<crate::Revision, crate::Error> { todo!() }
    async fn update(&self, _: &str, _: bytes::Bytes, _: crate::Revision) -> Result<crate::Revision, crate::Error> { todo!() }
    async fn delete(&self, _: &str, _: Option<crate::Revision>) -> Result<(crate::KeyValue, crate::Revision), crate::Error> { todo!() }
    async fn watch(&self, _: &str, _: crate::Revision) -> Result<crate::WatchStream, crate::Error> { todo!() }
    async fn current_revision(&self) -> Result<crate::Revision, crate::Error> { todo!() }
    async fn compact(&self, _: crate::Revision) -> Result<(), crate::Error> { todo!() }
}
