#!/usr/bin/env bash
# A stand-in for the kind CLI in tests: "nodes" are containers of the test node image carrying kind's labels
# (io.x-k8s.kind.cluster / io.x-k8s.kind.role) and the test's label, named like kind names them. Only the
# subcommands the harness uses: create cluster, delete cluster, get clusters. Nodes join the docker network
# the test created (FAKE_KIND_NETWORK), never the shared default bridge.
set -euo pipefail
image="${TEST_NODE_IMAGE:-calico-conformance-testnode:latest}"
test_label="calico-conformance.test=${FAKE_KIND_TAG:?FAKE_KIND_TAG is required}"
cmd="$1 $2"; shift 2
name=""; kubeconfig=""; config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="$2"; shift 2 ;;
    --kubeconfig) kubeconfig="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --image|--wait) shift 2 ;;
    --retain) shift ;;  # real kind keeps a failed cluster's nodes; this fake never fails half-way
    *) echo "fake kind: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$cmd" in
  "create cluster")
    [ -s "$config" ] || { echo "ERROR: no config" >&2; exit 1; }
    if [ -n "$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$name")" ]; then
      echo "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"$name\"" >&2; exit 1
    fi
    for node in control-plane worker; do
      docker run -d --name "$name-$node" --hostname "$name-$node" \
        --label "io.x-k8s.kind.cluster=$name" --label "io.x-k8s.kind.role=$node" --label "$test_label" \
        --network "${FAKE_KIND_NETWORK:?FAKE_KIND_NETWORK is required}" --cap-add NET_ADMIN "$image" sleep infinity >/dev/null
    done
    printf 'apiVersion: v1\nkind: Config\ncurrent-context: kind-%s\n' "$name" > "$kubeconfig"
    echo " ✓ Preparing nodes" >&2 ;;
  "delete cluster")
    ids="$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$name")"
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
    echo "Deleting cluster \"$name\" ..." >&2 ;;
  "get clusters")
    docker ps -a --filter "label=$test_label" --format '{{.Label "io.x-k8s.kind.cluster"}}' | sort -u ;;
  *) echo "fake kind: unsupported $cmd" >&2; exit 2 ;;
esac
