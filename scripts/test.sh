#!/usr/bin/env bash
# The test command (CI runs exactly this): installs what a fresh Debian machine lacks, builds,
# and runs every test: unit tests, the storage contract suite on the embedded store and on a real
# etcd, the API tests through kube-rs, and the kubectl-driven end-to-end suite in conformance/
# against a real `corten server` (embedded store, then etcd).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CARGO_TERM_COLOR=never
cargo build --workspace --all-targets
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast
