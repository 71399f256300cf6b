//! The registered tests, grouped by upstream SIG. Each test checks the observable behaviour the
//! upstream test of the same name checks (see `test/conformance/testdata/conformance.yaml`).

use crate::runner::TestCase;

mod api_machinery;
mod architecture;
mod auth;
mod cli;
mod common;
mod flowcontrol;
mod instrumentation;
mod network;
mod node;
mod scheduling;
mod storage;
mod workloads;

/// Registers `function` under an exact upstream test name.
macro_rules! test_case {
    ($name:expr, $function:path) => {
        $crate::runner::TestCase { name: $name, run: |context| Box::pin($function(context)) }
    };
}
pub(crate) use test_case;

/// Every registered test, in a stable order.
pub fn all() -> Vec<TestCase> {
    let mut tests = Vec::new();
    tests.extend(api_machinery::tests());
    tests.extend(node::tests());
    tests.extend(network::tests());
    tests.extend(storage::tests());
    tests.extend(instrumentation::tests());
    tests.extend(scheduling::tests());
    tests.extend(auth::tests());
    tests.extend(cli::tests());
    tests.extend(flowcontrol::tests());
    tests.extend(architecture::tests());
    tests.extend(workloads::tests());
    tests
}

/// Fails with `message` unless `condition` holds; `anyhow::ensure!` with a clearer name for tests.
macro_rules! check {
    ($condition:expr, $($message:tt)+) => {
        anyhow::ensure!($condition, $($message)+)
    };
}
pub(crate) use check;
