#!/bin/sh
# Builds the images a Corten node needs offline and imports them into containerd's CRI namespace:
#   - the sandbox ("pause") image, tagged with containerd's configured sandbox_image (registry.k8s.io/pause:3.6
#     for Debian's containerd 1.6 unless CORTEN_PAUSE_IMAGE says otherwise), holding only the static
#     `corten-pause` binary built from this repository (kubelet/src/bin/pause.rs);
#   - a busybox test image (docker.io/library/busybox:1.36) from Debian's busybox-static;
#   - agnhost (registry.k8s.io/e2e-test-images/agnhost:2.53) from testimages/src/agnhost.rs.
# Each image is an OCI image layout tar (oci-layout, index.json, one manifest, one config, one gzip layer),
# written with deterministic tar/gzip flags so rebuilding gives the same digests.
# Why a script and not Rust: it only needs tar, gzip and sha256sum (no new crates), and it is the
# "scripted, repeatable way" the images should be built; the kubelet only checks that the sandbox image exists.
# CORTEN_PAUSE_BINARY may point at a prebuilt static pause binary instead of building one with cargo.
#
# Usage: scripts/build-test-images.sh [--no-import] [OUT_DIR]
# Needs: busybox-static (/bin/busybox), tar, gzip, sha256sum, cargo; ctr (containerd) unless --no-import.
set -eu

import=1
if [ "${1:-}" = "--no-import" ]; then import=0; shift; fi
out=${1:-/var/lib/corten/images}
busybox=${BUSYBOX:-/bin/busybox}
pause_image=${CORTEN_PAUSE_IMAGE:-}
if [ -z "$pause_image" ]; then
    pause_image=$(containerd config dump 2>/dev/null | sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p' | head -n 1)
    pause_image=${pause_image:-registry.k8s.io/pause:3.6}
fi
arch=$(uname -m)
case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac

mkdir -p "$out"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c < "$1" | tr -d ' '; }

# build_image NAME REF ROOTFS_DIR ENTRYPOINT_JSON CMD_JSON
build_image() {
    name=$1 ref=$2 rootfs=$3 entrypoint=$4 cmd=$5
    work=$(mktemp -d)
    mkdir -p "$work/blobs/sha256"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$work/layer.tar" .
    diff_id=$(sha "$work/layer.tar")
    gzip -n -9 < "$work/layer.tar" > "$work/layer.tar.gz"
    layer=$(sha "$work/layer.tar.gz"); layer_size=$(size "$work/layer.tar.gz")
    mv "$work/layer.tar.gz" "$work/blobs/sha256/$layer"; rm "$work/layer.tar"

    printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$arch" "$entrypoint" "$cmd" "$diff_id" > "$work/config.json"
    config=$(sha "$work/config.json"); config_size=$(size "$work/config.json")
    mv "$work/config.json" "$work/blobs/sha256/$config"

    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
        "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest.json"
    manifest=$(sha "$work/manifest.json"); manifest_size=$(size "$work/manifest.json")
    mv "$work/manifest.json" "$work/blobs/sha256/$manifest"

    printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
        "$manifest" "$manifest_size" "$arch" "$ref" "$ref" > "$work/index.json"

    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf "$out/$name.tar" oci-layout index.json blobs
    rm -rf "$work"
    echo "built $out/$name.tar ($ref)"
    if [ "$import" = 1 ]; then
        ctr -n k8s.io images import "$out/$name.tar"
    fi
}

# A rootfs holding only the static busybox and its applet links under /bin.
busybox_rootfs() {
    dir=$1
    mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev"
    chmod 1777 "$dir/tmp"
    cp "$busybox" "$dir/bin/busybox"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' > "$dir/etc/group"
}

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT

busybox_rootfs "$rootfs/busybox"
build_image busybox docker.io/library/busybox:1.36 "$rootfs/busybox" 'null' '["sh"]'

# The pause binary, linked statically (the image has no libc). Copied right away because a plain
# `cargo build` of the crate later relinks target/debug/corten-pause dynamically.
mkdir -p "$rootfs/pause"
if [ -n "${CORTEN_PAUSE_BINARY:-}" ]; then
    cp "$CORTEN_PAUSE_BINARY" "$rootfs/pause/pause"
else
    repo=$(cd "$(dirname "$0")/.." && pwd)
    (cd "$repo" && cargo rustc -q -p corten-kubelet --bin corten-pause -- -C target-feature=+crt-static -C strip=symbols)
    target_dir=${CARGO_TARGET_DIR:-$repo/target}
    cp "$target_dir/debug/corten-pause" "$rootfs/pause/pause"
fi
if ! file "$rootfs/pause/pause" 2>/dev/null | grep -q 'static'; then
    echo "warning: the pause binary does not look statically linked" >&2
fi
build_image pause "$pause_image" "$rootfs/pause" '["/pause"]' 'null'

# agnhost (testimages/src/agnhost.rs), static, under upstream's name and version, with busybox
# beside it for `sh` (netexec's /shell).
busybox_rootfs "$rootfs/agnhost"
repo=$(cd "$(dirname "$0")/.." && pwd)
(cd "$repo" && cargo rustc -q --release -p corten-testimages --bin agnhost -- -C target-feature=+crt-static -C strip=symbols)
cp "${CARGO_TARGET_DIR:-$repo/target}/release/agnhost" "$rootfs/agnhost/agnhost"
build_image agnhost registry.k8s.io/e2e-test-images/agnhost:2.53 "$rootfs/agnhost" '["/agnhost"]' '["pause"]'
