import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mirrorHostsToml, renderKindConfig } from '../../../harness/cluster/kind-config.js';
import { DEFAULT_NODE_IMAGE } from '../../../harness/config/cell.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { ConfigError } from '../../../harness/errors.js';

const cellWith = (flags: Record<string, string>) =>
  buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN', ...flags } })[0]!;

describe('renderKindConfig', () => {
  it('writes a kind v1alpha4 Cluster: CNI disabled, the cell subnets, 1 control plane + N workers on the pinned image', () => {
    const cell = cellWith({ podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16', workers: '3' });
    const cfg = parse(renderKindConfig(cell, { clusterName: 'cc-one' }));
    expect(cfg.kind).toBe('Cluster');
    expect(cfg.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
    expect(cfg.name).toBe('cc-one');
    expect(cfg.networking).toMatchObject({
      disableDefaultCNI: true,
      podSubnet: '10.244.0.0/16',
      serviceSubnet: '10.96.0.0/16',
      ipFamily: 'ipv4',
    });
    expect(cfg.nodes.map((n: { role: string }) => n.role)).toEqual([
      'control-plane',
      'worker',
      'worker',
      'worker',
    ]);
    for (const n of cfg.nodes) expect(n.image).toBe(DEFAULT_NODE_IMAGE);
    expect(cfg.containerdConfigPatches).toBeUndefined();
  });

  it('labels nodes with their split-subnet range, alternating from the control plane', () => {
    const cfg = parse(
      renderKindConfig(cellWith({ topology: 'split-subnet', workers: '2' }), { clusterName: 'cc-split' }),
    );
    expect(
      cfg.nodes.map((n: { labels: Record<string, string> }) => n.labels['calico-conformance/subnet']),
    ).toEqual(['a', 'b', 'a']);
  });

  it('a registry mirror makes containerd read /etc/containerd/certs.d', () => {
    const cfg = parse(
      renderKindConfig(cellWith({}), { clusterName: 'cc-m', registryMirror: 'kind-registry:5000' }),
    );
    expect(cfg.containerdConfigPatches).toHaveLength(1);
    expect(cfg.containerdConfigPatches[0]).toContain('config_path = "/etc/containerd/certs.d"');
    expect(mirrorHostsToml('docker.io', 'kind-registry:5000')).toEqual({
      path: '/etc/containerd/certs.d/docker.io/hosts.toml',
      content: '[host."http://kind-registry:5000"]\n  capabilities = ["pull", "resolve"]\n',
    });
  });

  it('a bad cluster name is a ConfigError naming the field', () => {
    expect(() => renderKindConfig(cellWith({}), { clusterName: 'Bad_Name' })).toThrow(ConfigError);
    expect(() => renderKindConfig(cellWith({}), { clusterName: 'Bad_Name' })).toThrow(
      /clusterName: "Bad_Name"/,
    );
  });
});
