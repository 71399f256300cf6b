//! Corten's conformance suite: end-to-end tests carrying the exact names of the upstream
//! Kubernetes `[Conformance]` tests, a runner that executes them against any cluster given a
//! kubeconfig, and the coverage table that lines our tests up with the upstream list.
//!
//! Tests speak only the public Kubernetes API, so running them against another cluster checks
//! the tests themselves against upstream behaviour.

pub mod context;
pub mod coverage;
pub mod junit;
pub mod runner;
pub mod suite;

pub use context::TestContext;
pub use runner::{Outcome, RunOptions, Skipped, TestCase, TestResult};
