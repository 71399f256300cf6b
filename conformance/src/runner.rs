//! Selecting, running and reporting tests.
//!
//! Every test gets a fresh namespace `e2e-<short>-<random>`, runs under a timeout in its own task
//! (so a panic fails only that test), and the namespace is deleted afterwards whatever happened.
//! Tests whose name contains `[Serial]` run one at a time after all the parallel ones, as upstream
//! requires of tests that touch cluster-wide state.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::Client;
use regex::Regex;

use crate::context::{random_suffix, TestContext};

/// The future a test function returns.
pub type TestFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// One registered test: its exact upstream name and the function implementing it.
#[derive(Clone, Copy)]
pub struct TestCase {
    /// The exact upstream test name, e.g. `[sig-node] Secrets should patch a secret [Conformance]`.
    pub name: &'static str,
    /// The test body.
    pub run: fn(TestContext) -> TestFuture,
}

impl TestCase {
    /// True if the test must not run concurrently with others.
    pub fn is_serial(&self) -> bool {
        self.name.contains("[Serial]")
    }
}

/// Returned (as an `anyhow` error) by a test that cannot run on this cluster; reported as SKIP.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Skipped(pub String);

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The test passed.
    Passed,
    /// The test failed, with the reason.
    Failed(String),
    /// The test did not run, with the reason.
    Skipped(String),
}

/// A finished test.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The test name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time, namespace setup and teardown included.
    pub duration: Duration,
}

impl TestResult {
    /// The one-line report `PASS|FAIL|SKIP name (duration)`.
    pub fn report_line(&self) -> String {
        let verdict = match self.outcome {
            Outcome::Passed => "PASS",
            Outcome::Failed(_) => "FAIL",
            Outcome::Skipped(_) => "SKIP",
        };
        format!("{verdict} {} ({:.2}s)", self.name, self.duration.as_secs_f64())
    }
}

/// How the selected tests run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How many non-serial tests run at once (at least 1).
    pub parallel: usize,
    /// Time limit per test.
    pub timeout: Duration,
    /// The kubeconfig file the client was built from, if one was given explicitly.
    pub kubeconfig: Option<PathBuf>,
}

/// The tests selected by `focus` and `skip`, in registration order.
pub fn select<'a>(tests: &'a [TestCase], focus: Option<&Regex>, skip: Option<&Regex>) -> Vec<&'a TestCase> {
    tests
        .iter()
        .filter(|t| focus.is_none_or(|re| re.is_match(t.name)))
        .filter(|t| skip.is_none_or(|re| !re.is_match(t.name)))
        .collect()
}

/// Runs the selected tests (parallel ones first, then `[Serial]` ones alone), calling `on_result`
/// as each finishes, and returns all results.
pub async fn run(
    client: &Client,
    tests: &[&TestCase],
    options: &RunOptions,
    mut on_result: impl FnMut(&TestResult),
) -> Vec<TestResult> {
    let (serial, parallel): (Vec<&TestCase>, Vec<&TestCase>) = tests.iter().copied().partition(|t| t.is_serial());
    let mut results = Vec::with_capacity(tests.len());
    let mut running = futures::stream::iter(parallel.into_iter().map(|t| run_one(client.clone(), *t, options)))
        .buffer_unordered(options.parallel.max(1));
    while let Some(result) = running.next().await {
        on_result(&result);
        results.push(result);
    }
    for test in serial {
        let result = run_one(client.clone(), *test, options).await;
        on_result(&result);
        results.push(result);
    }
    results
}

/// Runs one test in a fresh namespace.
async fn run_one(client: Client, test: TestCase, options: &RunOptions) -> TestResult {
    let timeout = options.timeout;
    let started = Instant::now();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = format!("e2e-{}-{}", short_name(test.name), random_suffix(5));
    let outcome = match namespaces
        .create(&PostParams::default(), &Namespace { metadata: ObjectMeta { name: Some(namespace.clone()), ..ObjectMeta::default() }, ..Namespace::default() })
        .await
    {
        Err(error) => Outcome::Failed(format!("creating test namespace {namespace}: {error}")),
        Ok(_) => {
            let context = TestContext { client: client.clone(), namespace: namespace.clone(), timeout, kubeconfig: options.kubeconfig.clone() };
            let outcome = match tokio::time::timeout(timeout, tokio::spawn((test.run)(context))).await {
                Err(_) => Outcome::Failed(format!("timed out after {}s", timeout.as_secs())),
                Ok(Err(join_error)) => Outcome::Failed(format!("test panicked: {join_error}")),
                Ok(Ok(Ok(()))) => Outcome::Passed,
                Ok(Ok(Err(error))) => match error.downcast_ref::<Skipped>() {
                    Some(skipped) => Outcome::Skipped(skipped.0.clone()),
                    None => Outcome::Failed(format!("{error:#}")),
                },
            };
            if let Err(error) = namespaces.delete(&namespace, &DeleteParams::default()).await {
                tracing::warn!(%namespace, %error, "could not delete test namespace");
            }
            outcome
        }
    };
    TestResult { name: test.name.to_string(), outcome, duration: started.elapsed() }
}

/// A DNS-label-safe short form of a test name: the first word after the `[sig-...]` tag.
fn short_name(test_name: &str) -> String {
    let rest = test_name.split_once("] ").map_or(test_name, |(_, rest)| rest);
    let word: String = rest
        .split_whitespace()
        .next()
        .unwrap_or("test")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(20)
        .collect();
    if word.is_empty() { "test".to_string() } else { word }
}

/// The summary: counts, failures repeated, and the final line `N passed, M failed, K skipped`.
pub fn summary(results: &[TestResult]) -> String {
    let passed = results.iter().filter(|r| r.outcome == Outcome::Passed).count();
    let failed: Vec<&TestResult> = results.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_))).collect();
    let skipped = results.iter().filter(|r| matches!(r.outcome, Outcome::Skipped(_))).count();
    let mut text = String::new();
    if !failed.is_empty() {
        text.push_str("Failures:\n");
        for result in &failed {
            text.push_str(&format!("  {}\n", result.name));
        }
    }
    text.push_str(&format!("{passed} passed, {} failed, {skipped} skipped", failed.len()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &'static str) -> TestCase {
        TestCase { name, run: |_| Box::pin(async { Ok(()) }) }
    }

    #[test]
    fn focus_and_skip_filter_by_name() {
        let tests = [case("[sig-node] A one"), case("[sig-node] B two [Serial]"), case("[sig-apps] C three")];
        let focus = Regex::new("sig-node").ok();
        let skip = Regex::new("Serial").ok();
        let names: Vec<&str> = select(&tests, focus.as_ref(), skip.as_ref()).iter().map(|t| t.name).collect();
        assert_eq!(names, ["[sig-node] A one"]);
        assert_eq!(select(&tests, None, None).len(), 3);
        assert!(tests[1].is_serial());
        assert!(!tests[0].is_serial());
    }

    #[test]
    fn short_name_is_first_word_after_tag() {
        assert_eq!(short_name("[sig-node] ConfigMap should x"), "configmap");
        assert_eq!(short_name("[sig-api-machinery] server version should"), "server");
        assert_eq!(short_name("[sig-x] ***"), "test");
    }

    #[test]
    fn summary_ends_with_counts() {
        let results = vec![
            TestResult { name: "a".into(), outcome: Outcome::Passed, duration: Duration::ZERO },
            TestResult { name: "b".into(), outcome: Outcome::Failed("x".into()), duration: Duration::ZERO },
            TestResult { name: "c".into(), outcome: Outcome::Skipped("y".into()), duration: Duration::ZERO },
            TestResult { name: "d".into(), outcome: Outcome::Passed, duration: Duration::ZERO },
        ];
        let text = summary(&results);
        assert_eq!(text.lines().last(), Some("2 passed, 1 failed, 1 skipped"));
        assert!(text.contains("  b\n"));
        assert_eq!(results[1].report_line(), "FAIL b (0.00s)");
    }
}
