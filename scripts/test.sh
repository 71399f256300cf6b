#!/usr/bin/env bash
# The test command (CI runs exactly this): installs what a fresh Debian machine lacks, builds,
# and runs every test: unit tests, the storage contract suite on the embedded store and on a real
# etcd, the API tests through kube-rs, the kubectl-driven end-to-end suite in conformance/
# against a real `corten server` (embedded store, then etcd), and finally the conformance runner
# against a freshly started `corten server`, with a JUnit report and the summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CARGO_TERM_COLOR=never
cargo build --workspace --all-targets
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast

# The conformance suite against a real server (single node, API-level tests for now).
data_dir=$(mktemp -d)
port=${CORTEN_TEST_PORT:-26443}
target/debug/corten server --data-dir "$data_dir" --https-port "$port" --bind-address 127.0.0.1 --disable-agent \
  >"$data_dir/corten.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data_dir"' EXIT
for _ in $(seq 1 100); do
  grep -q "API server ready" "$data_dir/corten.log" && break
  kill -0 $server || { cat "$data_dir/corten.log"; exit 1; }
  sleep 0.1
done
mkdir -p target
target/debug/corten-conformance --kubeconfig "$data_dir/admin.kubeconfig" \
  --known-failures conformance/known-failures.txt --junit target/conformance-junit.xml
