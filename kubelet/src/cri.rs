//! CRI v1 client: generated gRPC stubs plus a connection over the runtime's unix socket.
//!
//! containerd serves the CRI on a unix socket, so the tonic channel is built with a custom
//! connector that ignores the (dummy) URI and dials the socket path instead.

use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};

/// Generated CRI v1 messages and client stubs (`runtime.v1` package).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("runtime.v1");
}

use v1::image_service_client::ImageServiceClient;
use v1::runtime_service_client::RuntimeServiceClient;

/// Errors talking to the container runtime.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// The socket could not be dialled.
    #[error("connecting to the container runtime at {endpoint}: {source}")]
    Connect {
        /// The endpoint as configured.
        endpoint: String,
        /// The transport error.
        source: tonic::transport::Error,
    },
    /// A CRI call failed.
    #[error("CRI {call}: {status}")]
    Call {
        /// The RPC name.
        call: &'static str,
        /// The gRPC status returned by the runtime.
        status: tonic::Status,
    },
}

impl CriError {
    /// The runtime's own message (for pod status messages), without the RPC decoration.
    pub fn runtime_message(&self) -> String {
        match self {
            Self::Call { status, .. } => status.message().to_owned(),
            other => other.to_string(),
        }
    }
}

/// Strips an optional `unix://` scheme from a runtime endpoint such as
/// `unix:///run/containerd/containerd.sock`.
pub fn socket_path(endpoint: &str) -> PathBuf {
    PathBuf::from(endpoint.strip_prefix("unix://").unwrap_or(endpoint))
}

/// Both CRI services on one channel.
#[derive(Clone)]
pub struct CriClient {
    /// RuntimeService: sandboxes and containers.
    pub runtime: RuntimeServiceClient<Channel>,
    /// ImageService: image status and pulls.
    pub images: ImageServiceClient<Channel>,
}

impl CriClient {
    /// Connects to the runtime's unix socket (`unix:///path` or a bare path).
    pub async fn connect(endpoint: &str) -> Result<Self, CriError> {
        let path = socket_path(endpoint);
        // The URI is required by tonic but never used: the connector dials the socket.
        let channel = Endpoint::from_static("http://cri.invalid")
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .map_err(|source| CriError::Connect { endpoint: endpoint.to_owned(), source })?;
        Ok(Self {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// The runtime's name and version, e.g. `containerd` / `1.6.20~ds1`.
    pub async fn version(&self) -> Result<v1::VersionResponse, CriError> {
        let mut runtime = self.runtime.clone();
        runtime
            .version(v1::VersionRequest { version: "v1".to_owned() })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| CriError::Call { call: "Version", status })
    }
}

/// Maps a tonic result to [`CriError::Call`] with the RPC name, keeping call sites short.
pub(crate) fn call<T>(call: &'static str, result: Result<tonic::Response<T>, tonic::Status>) -> Result<T, CriError> {
    result.map(tonic::Response::into_inner).map_err(|status| CriError::Call { call, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_accepts_scheme_or_bare_path() {
        assert_eq!(socket_path("unix:///run/containerd/containerd.sock"), PathBuf::from("/run/containerd/containerd.sock"));
        assert_eq!(socket_path("/run/x.sock"), PathBuf::from("/run/x.sock"));
    }
}
