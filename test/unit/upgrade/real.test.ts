import { describe, expect, it } from 'vitest';
import { renderCell } from '../../../harness/calico/render.js';
import { LocalDirSource } from '../../../harness/calico/source.js';
import { ProbeInfrastructureError } from '../../../harness/probe/executor.js';
import { ProbeRoundError } from '../../../harness/probe/prober.js';
import { AGNHOST_IMAGE, LABEL_ROLE } from '../../../harness/probe/workloads.js';
import { assessComponents, targetComponents } from '../../../harness/upgrade/components.js';
import { upgradeActions } from '../../../harness/upgrade/phase.js';
import {
  applyAction,
  fileForAction,
  readWorkloadsFrom,
  recordsOfFailedRound,
  trafficWorkloads,
  workloadSnapshots,
} from '../../../harness/upgrade/real.js';
import { DENIED_PORT, planTraffic, trafficPolicy } from '../../../harness/upgrade/traffic.js';
import { describeFixtures, FIXTURES_DIR } from '../../support/fixtures.js';
import { cell } from './sim.js';

describe('workloadSnapshots (API objects → what the flow judges)', () => {
  const ds = {
    metadata: { name: 'calico-node', generation: 3 },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'calico-node' } },
      template: {
        spec: {
          initContainers: [{ image: 'quay.io/calico/cni:v3.32.1' }],
          containers: [{ image: 'quay.io/calico/node:v3.32.1' }],
        },
      },
    },
    status: { observedGeneration: 3, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 1 },
  };
  const pod = (name: string, version: string, ready: boolean, extra: Record<string, unknown> = {}) => ({
    metadata: { name, labels: { 'k8s-app': 'calico-node' }, ...extra },
    spec: {
      initContainers: [{ image: `quay.io/calico/cni:${version}` }],
      containers: [{ image: `quay.io/calico/node:${version}` }],
    },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  it('maps status fields, images (init containers too) and the pods the selector picks', () => {
    const [w] = workloadSnapshots(
      'kube-system',
      [ds],
      [],
      [
        pod('calico-node-a', 'v3.32.1', true),
        pod('calico-node-b', 'v3.31.7', false, { deletionTimestamp: '2026-11-25T21:00:00Z' }),
        { metadata: { name: 'coredns-1', labels: { 'k8s-app': 'kube-dns' } }, spec: { containers: [] } },
      ],
    );
    expect(w).toEqual({
      namespace: 'kube-system',
      kind: 'DaemonSet',
      name: 'calico-node',
      generation: 3,
      observedGeneration: 3,
      desired: 2,
      updated: 2,
      ready: 1,
      templateImages: ['quay.io/calico/cni:v3.32.1', 'quay.io/calico/node:v3.32.1'],
      pods: [
        {
          name: 'calico-node-a',
          images: ['quay.io/calico/cni:v3.32.1', 'quay.io/calico/node:v3.32.1'],
          ready: true,
          terminating: false,
        },
        {
          name: 'calico-node-b',
          images: ['quay.io/calico/cni:v3.31.7', 'quay.io/calico/node:v3.31.7'],
          ready: false,
          terminating: true,
        },
      ],
    });
    expect(assessComponents([w!], targetComponents('manifest', 'v3.32.1')).onTarget).toBe(false);
  });

  it('a Deployment without status counts nothing as ready', () => {
    const [d] = workloadSnapshots(
      'calico-system',
      [],
      [{ metadata: { name: 'calico-typha' }, spec: { replicas: 2 } }],
      [],
    );
    expect(d).toMatchObject({ kind: 'Deployment', desired: 2, updated: 0, ready: 0, pods: [] });
  });
});

describe('traffic workloads image', () => {
  const images = (objs: ReturnType<typeof trafficWorkloads>) =>
    objs.flatMap((o) => {
      const spec = (o as { spec?: { containers?: { image?: string }[] } }).spec;
      return (spec?.containers ?? []).map((c) => c.image);
    });

  it('every traffic pod runs the image given (upgrade --lab gives the lab agnhost)', () => {
    const objs = trafficWorkloads(['n0', 'n1'], 'registry.k8s.io/e2e-test-images/agnhost:2.56');
    expect(images(objs).length).toBeGreaterThanOrEqual(4);
    expect(new Set(images(objs))).toEqual(new Set(['registry.k8s.io/e2e-test-images/agnhost:2.56']));
  });

  it('the environment set after import does not reach the default: the lab run had agnhost 2.53 pulled from a registry', () => {
    const prev = process.env.CALICO_CONFORMANCE_AGNHOST_IMAGE;
    process.env.CALICO_CONFORMANCE_AGNHOST_IMAGE = 'lab/agnhost:set-after-import';
    try {
      expect(new Set(images(trafficWorkloads(['n0'])))).toEqual(new Set([AGNHOST_IMAGE]));
      expect(AGNHOST_IMAGE).not.toBe('lab/agnhost:set-after-import');
    } finally {
      if (prev === undefined) delete process.env.CALICO_CONFORMANCE_AGNHOST_IMAGE;
      else process.env.CALICO_CONFORMANCE_AGNHOST_IMAGE = prev;
    }
  });
});

describe('a probe round that threw', () => {
  const key = (to: string) => ({ from: 'ns/c', to, port: 80, protocol: 'TCP' as const });
  const done = { ...key('ns/s0'), verdict: 'connected' as const, durationMs: 3 };
  const err = new ProbeRoundError([new ProbeInfrastructureError('ns/c', 'exec aborted')], [done]);

  it('keeps what finished and records the rest as infrastructure errors', () => {
    const out = recordsOfFailedRound(err, [key('ns/s0'), key('ns/s1')], 'T');
    expect(out[0]).toEqual(done);
    expect(out[1]).toMatchObject({
      ...key('ns/s1'),
      verdict: 'error',
      detail: 'probe exec in ns/c failed: exec aborted',
    });
  });

  it('cut short by the probers stopping (signal aborted): thrown again, so nothing is recorded (the lab run had 4 errored probes per pair from it)', () => {
    const stop = new AbortController();
    stop.abort();
    expect(() => recordsOfFailedRound(err, [key('ns/s0')], 'T', stop.signal)).toThrow(err);
  });

  it('anything but a probe round error is thrown', () => {
    expect(() => recordsOfFailedRound(new Error('boom'), [key('ns/s0')], 'T')).toThrow('boom');
  });
});

describe('traffic plan', () => {
  const ns = 'cc-upgrade-traffic';
  it('probes same-node and cross-node servers on the allowed and the denied port, TCP and UDP', () => {
    const plan = planTraffic(
      ns,
      [
        { name: 'client-n0', node: 'w1', ip: '192.168.1.2' },
        { name: 'client-n1', node: 'w2', ip: '192.168.2.2' },
      ],
      [
        { name: 'server-n0', node: 'w1', ip: '192.168.1.3' },
        { name: 'server-n1', node: 'w2', ip: '192.168.2.3' },
      ],
    );
    expect(plan.pairs.map((p) => `${p.key.to} ${p.key.protocol}/${p.key.port} ${p.expect}`)).toEqual([
      `${ns}/server-n0 TCP/80 allowed`,
      `${ns}/server-n0 UDP/80 allowed`,
      `${ns}/server-n0 TCP/81 denied`,
      `${ns}/server-n0 UDP/81 denied`,
      `${ns}/server-n1 TCP/80 allowed`,
      `${ns}/server-n1 UDP/80 allowed`,
      `${ns}/server-n1 TCP/81 denied`,
      `${ns}/server-n1 UDP/81 denied`,
    ]);
    expect(plan.requests[4]).toMatchObject({
      from: `${ns}/client-n0`,
      source: { namespace: ns, name: 'client-n0', container: 'client' },
      host: '192.168.2.3',
      expectName: 'server-n1',
    });
  });

  it('fails clearly without pods', () => {
    expect(() => planTraffic(ns, [], [])).toThrow(/no client pod/);
  });

  it('the policy admits only port 80 into the servers', () => {
    const p = trafficPolicy(ns) as {
      spec: { podSelector: unknown; ingress: { ports: { port: number }[] }[] };
    };
    expect(p.spec.podSelector).toEqual({ matchLabels: { [LABEL_ROLE]: 'server' } });
    expect(p.spec.ingress.flatMap((r) => r.ports.map((x) => x.port))).not.toContain(DENIED_PORT);
  });
});

describeFixtures('upgrade actions against the real rendered files', () => {
  const source = new LocalDirSource(FIXTURES_DIR);
  const cases = [
    ['manifest', 'v3.31.7', 'v3.32.1'],
    ['operator', 'v3.31.7', 'v3.32.1'],
    ['operator', 'v3.28.5', 'v3.29.7'],
    ['manifest-to-operator', 'v3.32.1', 'v3.32.1'],
  ] as const;
  for (const [path, from, to] of cases) {
    it(`${path} ${from} → ${to}: every applied file exists in B's render, and B's images carry B's tags`, async () => {
      const b = cell(to, path === 'manifest' ? 'manifest' : 'operator');
      const rendered = await renderCell(b, source);
      const target = targetComponents(path, to);
      for (const action of upgradeActions(path, b)) {
        const name = fileForAction(action);
        if (name === undefined) continue;
        const file = rendered.files.find((f) => f.name === name);
        expect(file, `${name} in the render of ${b.id}`).toBeDefined();
        if (name === 'calico.yaml') expect(file!.content).toContain(`calico/node:${target.calicoTag}`);
        if (name === 'tigera-operator.yaml')
          expect(file!.content).toContain(`tigera/operator:${target.operatorTag}`);
      }
    });
  }
});

describe('applyAction and readWorkloadsFrom against a Kubernetes client double', () => {
  const rendered = {
    files: [
      {
        name: 'operator-crds.yaml',
        content:
          'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: installations.operator.tigera.io\n',
      },
      {
        name: 'tigera-operator.yaml',
        content:
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tigera-operator\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: tigera-operator\n  namespace: tigera-operator\n',
      },
    ],
    applyPlan: [],
    objects: [],
  };
  function kubeDouble() {
    const calls: string[] = [];
    return {
      calls,
      async applyServerSide(
        docs: readonly { kind?: string; metadata?: { name?: string } }[],
        opts?: { force?: boolean },
      ) {
        calls.push(
          `apply ${docs.map((d) => `${d.kind}/${d.metadata?.name}`).join(',')} force=${opts?.force}`,
        );
        return [];
      },
      async create(docs: readonly { kind?: string; metadata?: { name?: string }; spec?: unknown }[]) {
        calls.push(
          `create ${docs.map((d) => `${d.kind}/${d.metadata?.name} ${JSON.stringify(d.spec)}`).join(',')}`,
        );
        return [];
      },
      async list(apiVersion: string, kind: string, o?: { namespace?: string }) {
        calls.push(`list ${apiVersion} ${kind} ${o?.namespace}`);
        return [];
      },
    };
  }

  it('applies B’s files server-side with force, and creates the Installation with the given spec', async () => {
    const kube = kubeDouble();
    const b = cell('v3.32.1', 'operator');
    for (const action of upgradeActions('manifest-to-operator', b))
      await applyAction(kube as never, action, rendered);
    expect(kube.calls).toEqual([
      'apply CustomResourceDefinition/installations.operator.tigera.io force=true',
      'apply Namespace/tigera-operator,Deployment/tigera-operator force=true',
      'create Installation/default {}',
    ]);
  });

  it('names the missing file when the render lacks it', async () => {
    await expect(
      applyAction(
        kubeDouble() as never,
        { kind: 'apply-manifest', cell: cell('v3.32.1', 'manifest') },
        rendered,
      ),
    ).rejects.toThrow(/has no calico\.yaml \(files: operator-crds\.yaml, tigera-operator\.yaml\)/);
  });

  it('reads DaemonSets, Deployments and Pods of every namespace', async () => {
    const kube = kubeDouble();
    expect(await readWorkloadsFrom(kube as never, ['kube-system', 'calico-system'])).toEqual([]);
    expect(kube.calls).toEqual([
      'list apps/v1 DaemonSet kube-system',
      'list apps/v1 Deployment kube-system',
      'list v1 Pod kube-system',
      'list apps/v1 DaemonSet calico-system',
      'list apps/v1 Deployment calico-system',
      'list v1 Pod calico-system',
    ]);
  });
});
