#!/usr/bin/env bash
# Prepares this machine to run pods: containerd from Debian with Corten's CRI settings, running,
# and the offline images (pause sandbox, busybox) imported. Idempotent.
#
# Corten uses the system containerd (not one of its own) so that `ctr`/`crictl` and the host's
# tooling see the same containers; the settings it needs are:
#   - CNI from Debian's containernetworking-plugins (/usr/lib/cni) with config in /etc/cni/net.d
#     (the kubelet writes 10-corten.conflist there);
#   - restrict_oom_score_adj = true: in containers and VMs without CAP_SYS_RESOURCE, runc cannot
#     lower a sandbox's oom_score_adj (-998) and every pod sandbox fails; clamping is harmless
#     elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
config=/etc/containerd/config.toml
if ! grep -q "restrict_oom_score_adj = true" "$config" 2>/dev/null; then
  mkdir -p /etc/containerd
  [ -f "$config" ] && cp "$config" "$config.before-corten"
  cat >"$config" <<'TOML'
version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    # Clamp oom_score_adj instead of failing where CAP_SYS_RESOURCE is missing (see scripts/setup-node.sh).
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
TOML
  restart=1
fi
mkdir -p /etc/cni/net.d
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  if [ "${restart:-0}" = 1 ]; then systemctl restart containerd; else systemctl start containerd; fi
else
  # No systemd (containers, CI sandboxes): run containerd in the background ourselves.
  if [ "${restart:-0}" = 1 ] && pgrep -x containerd >/dev/null; then pkill -x containerd; sleep 1; fi
  if ! pgrep -x containerd >/dev/null; then
    nohup containerd >/var/log/containerd.log 2>&1 &
  fi
fi
for _ in $(seq 1 100); do
  [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && break
  sleep 0.1
done
ctr version >/dev/null || { echo "containerd did not start; see /var/log/containerd.log" >&2; exit 1; }
scripts/build-test-images.sh
