//! What a test gets to work with: a client, its own namespace, a deadline, and small helpers
//! for the few things `kube::Api` cannot express (raw bodies, exact status codes, headers).
//!
//! Tests only speak the public Kubernetes API through these helpers, so the same test runs
//! unchanged against Corten or any other cluster.

use std::path::PathBuf;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use kube::api::{Api, ObjectMeta};
use kube::core::Status;
use kube::{Client, Resource};
use rand::Rng;
use serde::de::DeserializeOwned;

use crate::runner::Skipped;

/// Characters allowed in generated DNS-1123 names.
const NAME_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Per-test environment handed to every test function.
#[derive(Clone)]
pub struct TestContext {
    /// Client for the cluster under test.
    pub client: Client,
    /// A namespace created for this test only; deleted by the runner afterwards.
    pub namespace: String,
    /// How long the whole test may take; waits inside a test should stay well below it.
    pub timeout: Duration,
    /// The kubeconfig file given to the runner, passed on to `kubectl` by tests that run it.
    pub kubeconfig: Option<PathBuf>,
}

/// A raw HTTP response: status, content type and body text.
#[derive(Debug)]
pub struct RawResponse {
    /// HTTP status code.
    pub status: StatusCode,
    /// The `Content-Type` header, empty if absent.
    pub content_type: String,
    /// The `Warning` headers, in order.
    pub warnings: Vec<String>,
    /// The body as text.
    pub body: String,
}

impl RawResponse {
    /// Parses the body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_str(&self.body)
            .map_err(|e| anyhow::anyhow!("response body is not the expected JSON ({e}): {}", self.body))
    }
}

impl TestContext {
    /// An `Api` for a namespaced kind in the test namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// An `Api` for a cluster-scoped kind.
    pub fn cluster_api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::ClusterResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::all(self.client.clone())
    }

    /// An `Api` listing a namespaced kind across all namespaces.
    pub fn all_namespaces_api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::all(self.client.clone())
    }

    /// A name that is unique enough for objects created by one test: `prefix-xxxxx`.
    pub fn unique_name(&self, prefix: &str) -> String {
        format!("{prefix}-{}", random_suffix(5))
    }

    /// Metadata with a name and the given labels.
    pub fn meta(&self, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            labels: (!labels.is_empty())
                .then(|| labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..ObjectMeta::default()
        }
    }

    /// Sends a request with an exact method, path (with query), headers and body, and returns the
    /// response whatever its status code.
    pub async fn raw(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<RawResponse> {
        let mut builder = Request::builder().method(method).uri(path_and_query);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(kube::client::Body::from(body.unwrap_or_default()))?;
        let response = self.client.send(request).await?;
        let status = response.status();
        let content_type = header_values(response.headers(), "content-type").into_iter().next().unwrap_or_default();
        let warnings = header_values(response.headers(), "warning");
        let bytes = response.into_body().collect_bytes().await?;
        Ok(RawResponse { status, content_type, warnings, body: String::from_utf8_lossy(&bytes).into_owned() })
    }

    /// Runs the `kubectl` on PATH against the cluster under test and returns its stdout; a missing
    /// kubectl makes the test a SKIP, a non-zero exit a failure.
    pub async fn kubectl(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = tokio::process::Command::new("kubectl");
        if let Some(path) = &self.kubeconfig {
            command.arg("--kubeconfig").arg(path);
        }
        command.args(args).kill_on_drop(true);
        let output = match command.output().await {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Skipped("kubectl is not on PATH".into()).into());
            }
            other => other?,
        };
        anyhow::ensure!(
            output.status.success(),
            "kubectl {} exited with {}: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// GETs a path and parses the JSON answer, failing on any non-2xx status.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.raw(Method::GET, path, &[("Accept", "application/json")], None).await?;
        anyhow::ensure!(response.status.is_success(), "GET {path}: status {}: {}", response.status, response.body);
        response.json()
    }
}

/// All values of one header, as text.
fn header_values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect()
}

/// `len` random lowercase alphanumerics.
pub fn random_suffix(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())])).collect()
}

/// The API `Status` carried by an error, if the server answered with one.
pub fn api_status(error: &kube::Error) -> Option<&Status> {
    match error {
        kube::Error::Api(status) => Some(status),
        _ => None,
    }
}

/// Asserts that `result` failed with the given HTTP code, returning the server's `Status`.
pub fn expect_api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>, code: u16, what: &str) -> anyhow::Result<Status> {
    match result {
        Ok(value) => anyhow::bail!("{what}: expected HTTP {code}, but the request succeeded: {value:?}"),
        Err(error) => match api_status(&error) {
            Some(status) if status.code == code => Ok(status.clone()),
            Some(status) => anyhow::bail!("{what}: expected HTTP {code}, got {}: {}", status.code, status.message),
            None => anyhow::bail!("{what}: expected HTTP {code}, got a non-API error: {error}"),
        },
    }
}

/// True if `error` is a 404 from the server.
pub fn is_not_found(error: &kube::Error) -> bool {
    api_status(error).is_some_and(|s| s.code == 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_suffix_is_a_dns_label_fragment() {
        let suffix = random_suffix(8);
        assert_eq!(suffix.len(), 8);
        assert!(suffix.bytes().all(|b| NAME_ALPHABET.contains(&b)));
    }
}
