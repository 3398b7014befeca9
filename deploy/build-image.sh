#!/usr/bin/env bash
# Builds the Switchyard container image with podman (or docker: set
# CONTAINER=docker) from the Containerfile at the repository's root. The
# binary is compiled here, static, and laid out with the few files the
# image needs; nothing is pulled from a registry.
#
#   deploy/build-image.sh [TAG]     default tag: localhost/switchyard:<version>
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${CONTAINER:-podman}"
version="$(git describe --tags --always --dirty 2>/dev/null || echo devel)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
tag="${1:-localhost/switchyard:$version}"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp" "$ctx/data"
chmod 1777 "$ctx/rootfs/tmp"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/switchyardhq/switchyard/internal/version.Version=$version" \
  -o "$ctx/rootfs/switchyard" ./cmd/switchyard
cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
echo "switchyard:x:65532:65532:switchyard:/data:/sbin/nologin" >"$ctx/rootfs/etc/passwd"
echo "switchyard:x:65532:" >"$ctx/rootfs/etc/group"
cp Containerfile "$ctx/"

# podman writes OCI images unless told otherwise, and OCI has no
# HEALTHCHECK; docker's own format keeps it.
format=()
[ "$engine" = podman ] && format=(--format docker)
"$engine" build "${format[@]}" -f "$ctx/Containerfile" --build-arg VERSION="$version" --build-arg REVISION="$revision" -t "$tag" "$ctx" >&2
echo "$tag"
