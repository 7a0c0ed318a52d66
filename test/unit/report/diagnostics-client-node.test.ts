/**
 * collectDiagnostics through @kubernetes/client-node against the fake API server on loopback (the kube
 * layer's test double): pods by label, container logs (current and previous), object dumps, and an operator
 * CRD group that the cluster does not serve (the manifest path).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clientNodeDiagnosticsKube } from '../../../harness/diagnostics/client-node.js';
import { collectDiagnostics } from '../../../harness/diagnostics/collect.js';
import type { ProcessRunner } from '../../../harness/exec/process.js';
import { FakeApiServer } from '../kube/fake-apiserver.js';

const noKind: ProcessRunner = {
  run: async (command, args) => ({
    command,
    args,
    exitCode: 127,
    stdout: '',
    stderr: `${command}: command not found`,
    timedOut: false,
    durationMs: 1,
  }),
};

describe('collectDiagnostics over client-node (fake API server)', () => {
  let api: FakeApiServer;
  let dir: string;

  beforeAll(async () => {
    api = await new FakeApiServer().start();
    dir = mkdtempSync(join(tmpdir(), 'cc-diag-api-'));
    const pod = (name: string, labels: Record<string, string>, containers: string[], restarts = 0) =>
      api.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'kube-system', labels },
        spec: { containers: containers.map((c) => ({ name: c })) },
        status: { containerStatuses: containers.map(() => ({ restartCount: restarts })) },
      });
    pod('calico-node-a', { 'k8s-app': 'calico-node' }, ['calico-node'], 1);
    pod('coredns-1', { 'k8s-app': 'kube-dns' }, ['coredns']);
    api.put({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
      spec: { cidr: '192.168.0.0/16', ipipMode: 'Always' },
    });
    api.unserved.add('operator.tigera.io/v1');
    api.reactors.push((req) => {
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(req.path);
      if (!m) return undefined;
      const previous = req.query.get('previous') === 'true';
      return {
        status: 200,
        body: `${previous ? 'previous ' : ''}log of ${m[1]}/${m[2]} ${req.query.get('container')} timestamps=${req.query.get('timestamps')}`,
      };
    });
  });

  afterAll(async () => {
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes logs and dumps, lists what is absent, and names the failed step', async () => {
    const out = join(dir, 'diagnostics');
    const r = await collectDiagnostics({
      clusterName: 'cc-api',
      kubeconfigPath: 'unused',
      outDir: out,
      runner: noKind,
      kube: clientNodeDiagnosticsKube(api.kubeConfig()),
    });
    expect(r.failed).toEqual(['kind export logs: exited 127\n  kind: command not found']);
    expect(r.written).toEqual([
      'logs/calico-node/kube-system_calico-node-a_calico-node.log',
      'logs/calico-node/kube-system_calico-node-a_calico-node.previous.log',
      'objects/pods.yaml',
      'objects/events.yaml',
      'objects/nodes.yaml',
      'objects/ippools.yaml',
    ]);
    expect(r.notPresent).toEqual([
      'calico-kube-controllers pods (kube-system, calico-system)',
      'tigera-operator pods (tigera-operator)',
      'tigerastatuses.operator.tigera.io (no such resource type)',
      'installations.operator.tigera.io (no such resource type)',
    ]);
    expect(
      readFileSync(join(out, 'logs/calico-node/kube-system_calico-node-a_calico-node.log'), 'utf8'),
    ).toBe('log of kube-system/calico-node-a calico-node timestamps=true');
    expect(
      readFileSync(join(out, 'logs/calico-node/kube-system_calico-node-a_calico-node.previous.log'), 'utf8'),
    ).toMatch(/^previous log of/);
    const pools = parse(readFileSync(join(out, 'objects/ippools.yaml'), 'utf8'));
    expect(pools.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual([
      'default-ipv4-ippool',
    ]);
    const pods = parse(readFileSync(join(out, 'objects/pods.yaml'), 'utf8'));
    expect(pods.items).toHaveLength(2);
    // the label selector went to the server
    expect(
      api.requests.some(
        (q) =>
          q.path === '/api/v1/namespaces/kube-system/pods' &&
          q.query.get('labelSelector') === 'k8s-app=calico-node',
      ),
    ).toBe(true);
  });
});
