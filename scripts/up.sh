#!/usr/bin/env bash
# One command from a fresh Debian machine to a running one-node Corten cluster:
#   installs the Debian packages, prepares containerd (scripts/setup-node.sh), builds the release
#   binaries, starts `corten server` (API server, controllers, scheduler, kubelet) in the
#   background (log: $DATA_DIR/corten.log) and waits until it answers.
# Usage: scripts/up.sh [extra `corten server` flags, e.g. --etcd-endpoints http://127.0.0.1:2379]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${CORTEN_DATA_DIR:-/var/lib/corten}
PORT=${CORTEN_PORT:-6443}
scripts/install-deps.sh
case " $* " in
  *" --disable-agent "*) ;;
  *) scripts/setup-node.sh ;;  # containerd settings + offline images for the node agent
esac
cargo build --release -p corten -p corten-conformance -p corten-bench
install -m 0755 target/release/corten target/release/corten-conformance target/release/corten-bench /usr/local/bin/
mkdir -p "$DATA_DIR"
if [ -f "$DATA_DIR/corten.pid" ] && kill -0 "$(cat "$DATA_DIR/corten.pid")" 2>/dev/null; then
  echo "corten server already running (pid $(cat "$DATA_DIR/corten.pid"))"
else
  nohup /usr/local/bin/corten server --data-dir "$DATA_DIR" --https-port "$PORT" "$@" >"$DATA_DIR/corten.log" 2>&1 &
  echo $! >"$DATA_DIR/corten.pid"
fi
for _ in $(seq 1 100); do
  if grep -q "API server ready" "$DATA_DIR/corten.log" 2>/dev/null; then
    echo "Corten is up. Use it with:"
    echo "  export KUBECONFIG=$DATA_DIR/admin.kubeconfig"
    echo "  kubectl get ns"
    echo "Check it with the conformance suite: corten-conformance --kubeconfig $DATA_DIR/admin.kubeconfig"
    echo "Stop it with: kill \$(cat $DATA_DIR/corten.pid)"
    exit 0
  fi
  kill -0 "$(cat "$DATA_DIR/corten.pid")" 2>/dev/null || break
  sleep 0.1
done
echo "corten server did not become ready; log follows:" >&2
cat "$DATA_DIR/corten.log" >&2
exit 1
