#!/usr/bin/env bash
# Builds the docker-backed test bed's "node" image offline: a minimal Debian root made by debootstrap from
# the machine's own apt mirror, imported with `docker import` (no registry needed). The tag carries a hash
# of this script, so a changed package list builds a new image and an unchanged one is reused.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
packages=iproute2,iptables,nftables,ipset,procps,iputils-ping,curl,netcat-openbsd,socat,python3-minimal,kmod,ethtool,dnsutils,busybox
hash=$( (cat "$0"; echo "$packages") | sha256sum | cut -c1-12)
name=${TEST_NODE_IMAGE_NAME:-calico-conformance-testnode}
tag="$name:$hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "test node image $tag is present"
  docker tag "$tag" "$name:latest"
  exit 0
fi

# The mirror apt already uses on this machine, when this machine is Debian: the first URI of a "main" source.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ] && grep -qs '^ID=debian' /etc/os-release; then
  mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
fi

if [ -z "$mirror" ]; then
  # Not Debian (e.g. an Ubuntu CI runner with internet): build the same package set on Debian's base image.
  echo "no Debian mirror on this machine; building $tag from the debian:bookworm-slim base image"
  ctx=$(mktemp -d /tmp/cc-testnode-ctx.XXXXXX)
  trap 'rm -rf "$ctx"' EXIT
  printf 'FROM debian:bookworm-slim\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\nCMD ["sleep","infinity"]\n' \
    "${packages//,/ }" >"$ctx/Dockerfile"
  docker build -q -t "$tag" "$ctx" >/dev/null
  docker tag "$tag" "$name:latest"
  echo "built $tag"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is missing (apt-get install -y debootstrap)" >&2; exit 3; }

root=$(mktemp -d /tmp/cc-testnode.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building $tag with debootstrap from $mirror (about a minute)"
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  echo "debootstrap failed; last lines:" >&2; tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import -c 'CMD ["sleep","infinity"]' - "$tag" >/dev/null
docker tag "$tag" "$name:latest"
echo "built $tag"
