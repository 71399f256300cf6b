#!/usr/bin/env bash
# Installs what Corten needs from Debian's packages (idempotent; quiet when all is present).
# Build: protoc. Tests and runtime: etcd (the HA datastore and its contract tests), kubectl is
# expected on PATH already. The node packages (containerd, runc, CNI plugins, nftables) are
# installed too so the machine is ready for the node agent.
set -euo pipefail
packages=(protobuf-compiler etcd-server etcd-client containerd runc containernetworking-plugins busybox-static nftables dnsutils hostname)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "kubectl is not on PATH; install kubectl v1.32 or newer" >&2; exit 1; }
command -v cargo >/dev/null || { echo "cargo is not on PATH; install a Rust toolchain (rustup)" >&2; exit 1; }
