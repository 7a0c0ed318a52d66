/**
 * The kind cluster config of a cell, from the template in kind-configs/cluster.yaml: default CNI disabled,
 * the cell's pod and service subnets, one control plane plus `cell.workers` workers, every node on the
 * cell's pinned node image. Field names and rules: kind's v1alpha4 `Cluster` types and defaults
 * (kubernetes-sigs/kind pkg/apis/config/v1alpha4/types.go, default.go) and its private-registries recipe
 * (site/content/docs/user/private-registries.md).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, YAMLSeq } from 'yaml';
import type { Cell } from '../config/cell.js';
import { ConfigError } from '../errors.js';
import { parseIpv4Cidr } from '../net/cidr.js';

export const KIND_CONFIG_TEMPLATE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'kind-configs',
  'cluster.yaml',
);

/** kind's cluster-name rule (lower-case DNS label characters; it names containers and the kubeconfig context). */
export const KIND_CLUSTER_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/** Node label naming the split-subnet range a node's address comes from (SPLIT_SUBNET_RANGES order). */
export const SUBNET_LABEL = 'calico-conformance/subnet';

export interface KindConfigOptions {
  clusterName: string;
  /**
   * A registry mirror host (e.g. `kind-registry:5000`). The nodes then read registry hosts from
   * /etc/containerd/certs.d: set here for node images older than kind v0.27 (newer ones already do);
   * `render --registry-mirror` writes `certs.d/<registry>/hosts.toml` (mirrorHostsToml) for the user to copy
   * onto every node, as kind's kind-with-registry.sh does. The old inline `mirrors` table is not used: containerd rejects it when
   * config_path is set, which is the case on every current node image.
   */
  registryMirror?: string;
}

export function renderKindConfig(cell: Cell, opts: KindConfigOptions): string {
  if (!KIND_CLUSTER_NAME.test(opts.clusterName) || opts.clusterName.length > 50) {
    throw new ConfigError(
      'clusterName',
      opts.clusterName,
      'allowed: lower-case letters, digits, "-" and "." (starting and ending with a letter or digit), at most 50 characters',
    );
  }
  for (const [field, cidr] of [
    ['podCIDR', cell.podCIDR],
    ['serviceCIDR', cell.serviceCIDR],
  ] as const) {
    const r = parseIpv4Cidr(cidr);
    if (!r.ok) throw new ConfigError(field, cidr, `it ${r.reason}; allowed: an IPv4 CIDR`);
  }
  if (!Number.isInteger(cell.workers) || cell.workers < 0) {
    throw new ConfigError('workers', cell.workers, 'allowed: a non-negative integer');
  }
  if (cell.nodeImage.trim() === '' || /\s/.test(cell.nodeImage)) {
    throw new ConfigError(
      'nodeImage',
      cell.nodeImage,
      'allowed: a kind node image such as kindest/node:v1.35.0@sha256:…',
    );
  }

  const doc = parseDocument(readFileSync(KIND_CONFIG_TEMPLATE, 'utf8'));
  if (doc.errors.length > 0) throw new Error(`${KIND_CONFIG_TEMPLATE}: ${doc.errors[0]!.message}`);
  doc.set('name', opts.clusterName);
  doc.setIn(['networking', 'disableDefaultCNI'], true);
  doc.setIn(['networking', 'podSubnet'], cell.podCIDR);
  doc.setIn(['networking', 'serviceSubnet'], cell.serviceCIDR);

  const nodes = new YAMLSeq();
  const roles = ['control-plane', ...Array.from({ length: cell.workers }, () => 'worker')];
  roles.forEach((role, i) => {
    const node: Record<string, unknown> = { role, image: cell.nodeImage };
    // split-subnet: control plane in range A, then workers B, A, B… (cell.ts SPLIT_SUBNET_RANGES)
    if (cell.topology === 'split-subnet') node.labels = { [SUBNET_LABEL]: i % 2 === 0 ? 'a' : 'b' };
    nodes.items.push(doc.createNode(node));
  });
  doc.set('nodes', nodes);

  if (opts.registryMirror) {
    const patch = new YAMLSeq();
    patch.items.push(
      doc.createNode(
        '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n',
      ),
    );
    doc.set('containerdConfigPatches', patch);
  }
  return doc.toString({ lineWidth: 0 });
}

/**
 * `/etc/containerd/certs.d/<registry>/hosts.toml` that sends pulls of `registry` to `mirror` (plain HTTP,
 * as a local registry container on the kind network serves): kind's private-registries recipe
 * (site/content/docs/user/private-registries.md, site/static/examples/kind-with-registry.sh).
 */
export function mirrorHostsToml(registry: string, mirror: string): { path: string; content: string } {
  const url = /^https?:\/\//.test(mirror) ? mirror : `http://${mirror}`;
  return {
    path: join('/etc/containerd/certs.d', registry, 'hosts.toml'),
    content: `[host."${url}"]\n  capabilities = ["pull", "resolve"]\n`,
  };
}
