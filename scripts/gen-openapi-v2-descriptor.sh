#!/usr/bin/env bash
# Regenerates apimachinery/proto/openapi_v2.desc: the compiled schema (a FileDescriptorSet) of the
# gnostic `openapi.v2.Document` message, which corten-apimachinery uses to serve `/openapi/v2` as
# protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), the only encoding
# kubectl accepts for client-side validation.
#
# Why a binary descriptor: the encoder builds the message reflectively (prost-reflect), so it needs
# the wire schema, but the upstream .proto is not stored in this repo.
#
# Usage: scripts/gen-openapi-v2-descriptor.sh GNOSTIC_MODELS_DIR
#
# GNOSTIC_MODELS_DIR is a checkout of https://github.com/google/gnostic-models (the file read is
# `openapiv2/OpenAPIv2.proto`). Its import `google/protobuf/any.proto` is taken from protoc's own
# include directory (Debian package protobuf-compiler installs it under /usr/include).
#
# Source info is left out on purpose, so the descriptor carries only the schema, none of the
# upstream comments.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 GNOSTIC_MODELS_DIR" >&2
  exit 2
fi
gnostic_dir=$1
out="$(cd "$(dirname "$0")/.." && pwd)/apimachinery/proto/openapi_v2.desc"
protoc_include=${PROTOC_INCLUDE:-/usr/include}

if [[ ! -f "$gnostic_dir/openapiv2/OpenAPIv2.proto" ]]; then
  echo "$gnostic_dir/openapiv2/OpenAPIv2.proto not found" >&2
  exit 1
fi

mkdir -p "$(dirname "$out")"
protoc --proto_path="$gnostic_dir" --proto_path="$protoc_include" --include_imports \
  --descriptor_set_out="$out" openapiv2/OpenAPIv2.proto
echo "wrote $out ($(wc -c <"$out") bytes)"
