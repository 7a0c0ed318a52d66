import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WaitTimeoutError } from '../../../harness/errors.js';
import { ClientNodeKube, KubeRequestError } from '../../../harness/kube/client.js';
import { parseManifest } from '../../../harness/kube/yaml.js';
import { FakeApiServer, type Obj } from './fake-apiserver.js';

let fake: FakeApiServer;
let kube: ClientNodeKube;

beforeAll(async () => {
  fake = await new FakeApiServer().start();
  kube = new ClientNodeKube(fake.kubeConfig(), { intervalMs: 10 });
});
afterAll(() => fake.stop());
afterEach(() => {
  fake.store.clear();
  fake.requests.length = 0;
  fake.reactors = [];
  fake.unserved.clear();
  fake.execCommands = [];
  fake.execRequests = [];
});

const CRD_YAML = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ippools.crd.projectcalico.org
spec:
  group: crd.projectcalico.org
  names: {kind: IPPool, plural: ippools}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`;

const MANIFEST = `# leading comment
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: calico-node}}
  template:
    metadata: {labels: {k8s-app: calico-node}}
    spec: {containers: [{name: calico-node, image: docker.io/calico/node:v3.24.0}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: calico-system}
---
${CRD_YAML}
---
# trailing comment-only document
`;

/** Establishes a CRD once the fake has seen it applied. */
function establishCrds(): void {
  fake.reactors.push((req, f) => {
    if (req.method === 'GET' && req.path.includes('customresourcedefinitions/')) {
      const name = req.path.split('/').pop() ?? '';
      const crd = f.getObj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', name);
      if (crd) crd.status = { conditions: [{ type: 'Established', status: 'True' }] };
    }
    return undefined;
  });
}

function pod(
  name: string,
  labels: Record<string, string>,
  status: Record<string, unknown>,
  image = 'docker.io/calico/node:v3.24.0',
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'kube-system', labels },
    spec: { nodeName: 'w1', containers: [{ name: 'calico-node', image }] },
    status,
  };
}

describe('parseManifest', () => {
  it('drops empty and comment-only documents (a trailing --- breaks loadAllYaml)', () => {
    const docs = parseManifest(MANIFEST);
    expect(docs.map((d) => d.kind)).toEqual(['DaemonSet', 'Namespace', 'CustomResourceDefinition']);
  });
  it('names the document that lacks a kind', () => {
    expect(() => parseManifest('apiVersion: v1\nmetadata: {name: x}\n', 'calico.yaml')).toThrow(
      /calico.yaml: document 1 lacks apiVersion, kind or metadata.name/,
    );
  });
});

describe('applyServerSide', () => {
  it('applies CRDs first, waits for Established, then Namespaces, then the rest, by SSA with our field manager', async () => {
    establishCrds();
    const applied = await kube.applyServerSide(parseManifest(MANIFEST));
    expect(applied.map((r) => r.kind)).toEqual(['CustomResourceDefinition', 'Namespace', 'DaemonSet']);
    const patches = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => p.path)).toEqual([
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.crd.projectcalico.org',
      '/api/v1/namespaces/calico-system',
      '/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node',
    ]);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query.get('fieldManager')).toBe('calico-conformance');
      expect(p.query.get('force')).toBe('true');
    }
    // The CRD's schema reached the server intact (the typed serializer drops unknown keys otherwise).
    expect(JSON.stringify(patches[0]?.body)).toContain('x-kubernetes-preserve-unknown-fields');
    // Established was read between the CRD patch and the Namespace patch.
    const order = fake.calls();
    const crdGet = order.findIndex((c) =>
      c.startsWith('GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/'),
    );
    expect(crdGet).toBeGreaterThan(order.indexOf(`PATCH ${patches[0]?.path}`));
    expect(crdGet).toBeLessThan(order.indexOf(`PATCH ${patches[1]?.path}`));
  });

  it('times out on a CRD that never becomes Established and says what it saw', async () => {
    const err = await kube
      .applyServerSide(parseManifest(CRD_YAML), { crdTimeoutMs: 80 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/ippools.crd.projectcalico.org: no conditions/);
    expect(fake.calls('PATCH')).toHaveLength(1);
  });

  it('reports a refused apply with the object and the server message (422)', async () => {
    fake.reactors.push((req) =>
      req.method === 'PATCH'
        ? {
            status: 422,
            body: { kind: 'Status', status: 'Failure', message: 'spec.selector: Required value', code: 422 },
          }
        : undefined,
    );
    const docs = parseManifest(MANIFEST).filter((d) => d.kind === 'DaemonSet');
    await expect(kube.applyServerSide(docs, { retryMs: 5000 })).rejects.toThrow(
      /server-side apply of DaemonSet kube-system\/calico-node: HTTP 422 spec.selector: Required value/,
    );
    // an invalid object is not transient: refused once, not retried
    expect(fake.calls('PATCH')).toHaveLength(1);
  });
});

describe('applyServerSide retries', () => {
  it('retries a webhook that is not serving yet (503) and then succeeds', async () => {
    let refusals = 0;
    fake.reactors.push((req) =>
      req.method === 'PATCH' && ++refusals <= 2
        ? {
            status: 503,
            body: {
              kind: 'Status',
              message: 'failed calling webhook "api.projectcalico.org": no endpoints available',
              code: 503,
            },
          }
        : undefined,
    );
    const docs = parseManifest(MANIFEST).filter((d) => d.kind === 'DaemonSet');
    await kube.applyServerSide(docs, { retryMs: 5000 });
    expect(fake.calls('PATCH')).toHaveLength(3);
    expect(fake.getObj('apps/v1', 'DaemonSet', 'calico-node', 'kube-system')).toBeDefined();
  });

  it('gives up after the retry budget with the last server message', async () => {
    fake.reactors.push((req) =>
      req.method === 'PATCH'
        ? { status: 503, body: { kind: 'Status', message: 'no endpoints available', code: 503 } }
        : undefined,
    );
    const docs = parseManifest(MANIFEST).filter((d) => d.kind === 'DaemonSet');
    await expect(kube.applyServerSide(docs, { retryMs: 60 })).rejects.toThrow(
      /HTTP 503 no endpoints available/,
    );
    expect(fake.calls('PATCH').length).toBeGreaterThan(1);
  });
});

describe('create, get, list, delete', () => {
  it('create treats 409 AlreadyExists as done', async () => {
    const ns = parseManifest('apiVersion: v1\nkind: Namespace\nmetadata: {name: probes}\n');
    await kube.create(ns);
    await kube.create(ns);
    expect(fake.calls('POST')).toHaveLength(2);
    expect(fake.getObj('v1', 'Namespace', 'probes')).toBeDefined();
  });

  it('get returns undefined on 404 and for a kind whose API group is not served', async () => {
    expect(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'nope' })).toBeUndefined();
    fake.unserved.add('operator.tigera.io/v1');
    const k2 = new ClientNodeKube(fake.kubeConfig(), { intervalMs: 10 });
    expect(
      await k2.get({ apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' }),
    ).toBeUndefined();
    expect(await k2.list('operator.tigera.io/v1', 'TigeraStatus')).toEqual([]);
  });

  it('delete sends the propagation policy and counts 404 as absent', async () => {
    fake.put({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a', namespace: 'x' } });
    const r = await kube.delete(
      [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'a', namespace: 'x' },
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'b', namespace: 'x' },
      ],
      { propagation: 'Foreground' },
    );
    expect(r.deleted.map((d) => d.name)).toEqual(['a']);
    expect(r.absent.map((d) => d.name)).toEqual(['b']);
    const del = fake.requests.find((q) => q.method === 'DELETE');
    expect(JSON.stringify(del?.body ?? '') + (del?.query.get('propagationPolicy') ?? '')).toContain(
      'Foreground',
    );
  });

  it('delete fails loudly on a 403 with the object named', async () => {
    fake.reactors.push((req) =>
      req.method === 'DELETE'
        ? { status: 403, body: { kind: 'Status', message: 'installations is forbidden', code: 403 } }
        : undefined,
    );
    const err = await kube
      .delete([{ apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeRequestError);
    expect((err as Error).message).toMatch(
      /deleting Installation default: HTTP 403 installations is forbidden/,
    );
  });

  it('waitGone reports the finalizers that block a deletion', async () => {
    fake.put({
      apiVersion: 'operator.tigera.io/v1',
      kind: 'Installation',
      metadata: { name: 'default', finalizers: ['tigera.io/operator-cleanup'] },
    });
    await kube.delete([{ apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' }]);
    const err = await kube
      .waitGone([{ apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' }], {
        timeoutMs: 60,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(
      /Installation default: deleting since .*finalizers blocking: \[tigera.io\/operator-cleanup\]/,
    );
  });

  it('waitGone on a namespace stuck Terminating shows the namespace conditions that say why', async () => {
    fake.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'calico-apiserver',
        deletionTimestamp: '2026-01-01T00:00:00Z',
        finalizers: ['kubernetes'],
      },
      status: {
        phase: 'Terminating',
        conditions: [
          {
            type: 'NamespaceDeletionDiscoveryFailure',
            status: 'True',
            reason: 'DiscoveryFailed',
            message: 'Discovery failed for some groups: projectcalico.org/v3: stale GroupVersion discovery',
          },
          { type: 'NamespaceContentRemaining', status: 'False' },
        ],
      },
    });
    const err = await kube
      .waitGone([{ apiVersion: 'v1', kind: 'Namespace', name: 'calico-apiserver' }], { timeoutMs: 40 })
      .catch((e: unknown) => e);
    const msg = (err as Error).message;
    expect(msg).toContain('Namespace calico-apiserver: deleting since');
    expect(msg).toContain('phase=Terminating');
    expect(msg).toContain(
      'NamespaceDeletionDiscoveryFailure=True (DiscoveryFailed: Discovery failed for some groups: projectcalico.org/v3: stale GroupVersion discovery)',
    );
    expect(msg).not.toContain('NamespaceContentRemaining');
  });

  it('waitGone returns once the finalizer clears', async () => {
    const inst = fake.put({
      apiVersion: 'operator.tigera.io/v1',
      kind: 'Installation',
      metadata: { name: 'default', finalizers: ['x'] },
    });
    await kube.delete([{ apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' }]);
    let reads = 0;
    fake.reactors.push((req, f) => {
      if (req.method === 'GET' && req.path.endsWith('/installations/default') && ++reads === 3) {
        inst.metadata.finalizers = [];
        f.store.clear();
      }
      return undefined;
    });
    await kube.waitGone([{ apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' }], {
      timeoutMs: 5000,
    });
    expect(reads).toBeGreaterThanOrEqual(3);
  });
});

describe('waiters', () => {
  const ds = (status: Record<string, unknown>): Obj => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'calico-node', namespace: 'kube-system', generation: 2 },
    spec: { selector: { matchLabels: { 'k8s-app': 'calico-node' } } },
    status,
  });

  it('waitDaemonSetRolledOut follows a slow rollout to the end', async () => {
    const d = fake.put(ds({ observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 0 }));
    let reads = 0;
    fake.reactors.push((req) => {
      if (req.method === 'GET' && req.path.endsWith('/daemonsets/calico-node')) {
        reads++;
        if (reads === 3)
          d.status = {
            observedGeneration: 2,
            desiredNumberScheduled: 3,
            updatedNumberScheduled: 1,
            numberReady: 1,
            numberAvailable: 1,
          };
        if (reads === 5)
          d.status = {
            observedGeneration: 2,
            desiredNumberScheduled: 3,
            updatedNumberScheduled: 3,
            numberReady: 3,
            numberAvailable: 3,
          };
      }
      return undefined;
    });
    await kube.waitDaemonSetRolledOut('kube-system', 'calico-node', { timeoutMs: 5000 });
    expect(reads).toBe(5);
  });

  it('a DaemonSet stuck on ImagePullBackOff times out naming the image, the reason and the events', async () => {
    fake.put(
      ds({
        observedGeneration: 2,
        desiredNumberScheduled: 2,
        updatedNumberScheduled: 2,
        numberReady: 1,
        numberAvailable: 1,
      }),
    );
    fake.put(
      pod(
        'calico-node-ok',
        { 'k8s-app': 'calico-node' },
        { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      ),
    );
    fake.put(
      pod(
        'calico-node-x1',
        { 'k8s-app': 'calico-node' },
        {
          phase: 'Pending',
          initContainerStatuses: [],
          containerStatuses: [
            {
              name: 'calico-node',
              ready: false,
              state: {
                waiting: {
                  reason: 'ImagePullBackOff',
                  message: 'Back-off pulling image "docker.io/calico/node:v3.24.0"',
                },
              },
            },
          ],
        },
      ),
    );
    fake.put({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'e1', namespace: 'kube-system' },
      type: 'Warning',
      reason: 'Failed',
      message: 'Failed to pull image "docker.io/calico/node:v3.24.0": toomanyrequests',
      involvedObject: { kind: 'Pod', name: 'calico-node-x1' },
      lastTimestamp: '2026-01-01T00:00:05Z',
    });
    const err = await kube
      .waitDaemonSetRolledOut('kube-system', 'calico-node', { timeoutMs: 60 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    const msg = (err as Error).message;
    expect(msg).toContain('waiting for DaemonSet kube-system/calico-node to roll out');
    expect(msg).toContain('desired=2 updated=2 ready=1 available=1');
    expect(msg).toContain(
      'container calico-node waiting: ImagePullBackOff (image docker.io/calico/node:v3.24.0)',
    );
    expect(msg).toContain('image pulls failing: docker.io/calico/node:v3.24.0: ImagePullBackOff');
    expect(msg).toContain('Warning Failed Pod/calico-node-x1');
    expect(msg).not.toContain('calico-node-ok');
  });

  it('waitDeploymentAvailable needs the Available condition and the replicas', async () => {
    fake.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'tigera-operator', namespace: 'tigera-operator', generation: 1 },
      spec: { replicas: 1, selector: { matchLabels: { name: 'tigera-operator' } } },
      status: {
        observedGeneration: 1,
        updatedReplicas: 1,
        availableReplicas: 0,
        conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }],
      },
    });
    const err = await kube
      .waitDeploymentAvailable('tigera-operator', 'tigera-operator', { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/Available=False \(MinimumReplicasUnavailable\)/);
    const d = fake.getObj('apps/v1', 'Deployment', 'tigera-operator', 'tigera-operator')!;
    d.status = {
      observedGeneration: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
      conditions: [{ type: 'Available', status: 'True' }],
    };
    await kube.waitDeploymentAvailable('tigera-operator', 'tigera-operator', { timeoutMs: 2000 });
  });

  it('waitTigeraStatusAvailable waits for every named status and reports the missing and degraded ones', async () => {
    fake.put({
      apiVersion: 'operator.tigera.io/v1',
      kind: 'TigeraStatus',
      metadata: { name: 'calico' },
      status: {
        conditions: [
          { type: 'Available', status: 'True' },
          { type: 'Degraded', status: 'False' },
        ],
      },
    });
    fake.put({
      apiVersion: 'operator.tigera.io/v1',
      kind: 'TigeraStatus',
      metadata: { name: 'apiserver' },
      status: {
        conditions: [
          { type: 'Available', status: 'False' },
          {
            type: 'Degraded',
            status: 'True',
            reason: 'ResourceNotReady',
            message: 'Waiting for calico-apiserver',
          },
        ],
      },
    });
    const err = await kube
      .waitTigeraStatusAvailable(['calico', 'apiserver', 'ippools'], { timeoutMs: 50 })
      .catch((e: unknown) => e);
    const msg = (err as Error).message;
    expect(msg).toContain(
      'apiserver: Available=False, Degraded=True (ResourceNotReady: Waiting for calico-apiserver)',
    );
    expect(msg).toContain('ippools: not created yet');
    await kube.waitTigeraStatusAvailable(['calico'], { timeoutMs: 1000 });
  });

  it("an operator install stuck on docker.io pulls (the user guide's failure) names the images in calico-system", async () => {
    fake.put({
      apiVersion: 'operator.tigera.io/v1',
      kind: 'TigeraStatus',
      metadata: { name: 'calico' },
      status: {
        conditions: [
          { type: 'Available', status: 'False' },
          {
            type: 'Progressing',
            status: 'True',
            reason: 'ResourceNotReady',
            message: 'DaemonSet "calico-system/calico-node" is not available',
          },
        ],
      },
    });
    fake.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'calico-node-abcde',
        namespace: 'calico-system',
        labels: { 'k8s-app': 'calico-node' },
      },
      spec: {
        initContainers: [{ name: 'install-cni', image: 'docker.io/calico/cni:v3.29.7' }],
        containers: [{ name: 'calico-node', image: 'docker.io/calico/node:v3.29.7' }],
      },
      status: {
        phase: 'Pending',
        initContainerStatuses: [
          {
            name: 'install-cni',
            state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } },
          },
        ],
        containerStatuses: [{ name: 'calico-node', state: { waiting: { reason: 'PodInitializing' } } }],
      },
    });
    const err = await kube.waitTigeraStatusAvailable(['calico'], { timeoutMs: 40 }).catch((e: unknown) => e);
    const msg = (err as Error).message;
    expect(msg).toContain(
      'calico: Available=False, Progressing=True (ResourceNotReady: DaemonSet "calico-system/calico-node" is not available)',
    );
    expect(msg).toContain(
      'calico-system/calico-node-abcde: phase=Pending; init container install-cni waiting: ImagePullBackOff (image docker.io/calico/cni:v3.29.7)',
    );
    expect(msg).toMatch(
      /image pulls failing: docker.io\/calico\/cni:v3.29.7: ImagePullBackOff \(try --image-registry/,
    );
  });

  it('waitPodsReady needs at least one pod and all of them Ready', async () => {
    await expect(kube.waitPodsReady('kube-system', 'k8s-app=kube-dns', { timeoutMs: 40 })).rejects.toThrow(
      /no pods match yet/,
    );
    fake.put(
      pod(
        'coredns-1',
        { 'k8s-app': 'kube-dns' },
        { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
        'coredns',
      ),
    );
    await kube.waitPodsReady('kube-system', 'k8s-app=kube-dns', { timeoutMs: 1000 });
    fake.put(
      pod(
        'coredns-2',
        { 'k8s-app': 'kube-dns' },
        {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
        },
        'coredns',
      ),
    );
    await expect(kube.waitPodsReady('kube-system', 'k8s-app=kube-dns', { timeoutMs: 40 })).rejects.toThrow(
      /1\/2 Ready; kube-system\/coredns-2: phase=Pending; node=w1; PodScheduled=False \(Unschedulable\)/,
    );
  });

  it('waitNodesReady reports the NotReady nodes with the kubelet reason', async () => {
    fake.put({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'cp' },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
    fake.put({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'w1' },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'KubeletNotReady',
            message: 'cni plugin not initialized',
          },
        ],
      },
    });
    await expect(kube.waitNodesReady({ timeoutMs: 40 })).rejects.toThrow(
      /1\/2 Ready; w1: Ready=False \(KubeletNotReady: cni plugin not initialized\)/,
    );
    await expect(kube.waitNodesReady({ timeoutMs: 40, count: 3 })).rejects.toThrow(/3 nodes to be Ready/);
  });

  it('a waiter stops at once when its signal aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('interrupted')), 30);
    const started = Date.now();
    await expect(kube.waitNodesReady({ timeoutMs: 60_000, count: 9, signal: ac.signal })).rejects.toThrow(
      /interrupted/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('exec', () => {
  beforeEach(() => {
    fake.putPod('p', 'client', ['client']);
    fake.putPod('p', 'c', ['probe']);
  });

  it('returns the real exit code from the status channel and wraps the command in an in-pod timeout', async () => {
    fake.execHandler = () => ({ stdout: 'hello\n', stderr: 'warn\n', code: 3 });
    const r = await kube.exec({ namespace: 'p', name: 'client' }, ['nc', '-z', '10.0.0.1', '80'], {
      timeoutMs: 4000,
    });
    expect(r).toMatchObject({ exitCode: 3, stdout: 'hello\n', stderr: 'warn\n', timedOut: false });
    expect(fake.execCommands[0]).toEqual(['timeout', '4', 'nc', '-z', '10.0.0.1', '80']);
  });

  it('inPodTimeout: false sends the command as given', async () => {
    fake.execHandler = () => ({ code: 0 });
    await kube.exec({ namespace: 'p', name: 'c' }, ['/probe', '--x'], { inPodTimeout: false });
    expect(fake.execCommands.at(-1)).toEqual(['/probe', '--x']);
  });

  it('exit 0 on Success; the in-pod timeout is reported as timedOut: coreutils 124, busybox 143 (TERM) and 137 (KILL)', async () => {
    fake.execHandler = () => ({ stdout: 'ok' });
    expect((await kube.exec({ namespace: 'p', name: 'c' }, ['true'])).exitCode).toBe(0);
    for (const code of [124, 143, 137]) {
      fake.execHandler = () => ({ code });
      expect(
        await kube.exec({ namespace: 'p', name: 'c' }, ['sleep', '9'], { timeoutMs: 1000 }),
      ).toMatchObject({ exitCode: code, timedOut: true });
    }
    // other exits are the command's own; without the in-pod wrapper a 143 is not a timeout of ours
    fake.execHandler = () => ({ code: 1 });
    expect((await kube.exec({ namespace: 'p', name: 'c' }, ['false'])).timedOut).toBe(false);
    fake.execHandler = () => ({ code: 143 });
    expect(
      (await kube.exec({ namespace: 'p', name: 'c' }, ['/probe'], { inPodTimeout: false })).timedOut,
    ).toBe(false);
  });

  it('the API server refuses an exec without a container into a two-container pod (HTTP 400), as strategy.go does', async () => {
    fake.putPod('x', 'a', ['cont-80', 'cont-81']);
    fake.execHandler = () => ({ code: 0 });
    const r = await kube.exec({ namespace: 'x', name: 'a' }, ['true']);
    expect(r.exitCode).toBe(-1);
    expect(r.timedOut).toBe(false);
    expect(r.failure).toMatch(/HTTP 400/);
    expect(fake.execRequests.at(-1)).toMatchObject({
      pod: 'a',
      container: '',
      refused: 'a container name must be specified for pod a, choose one of: [cont-80 cont-81]',
    });
    expect(fake.execCommands).toEqual([]);
    // named, it runs in that container
    const seen: string[] = [];
    fake.execHandler = (_argv, _pod, container) => {
      seen.push(container);
      return { code: 0 };
    };
    expect((await kube.exec({ namespace: 'x', name: 'a', container: 'cont-81' }, ['true'])).exitCode).toBe(0);
    expect(seen).toEqual(['cont-81']);
    // a one-container pod needs no name: the API server takes its only container
    expect((await kube.exec({ namespace: 'p', name: 'client' }, ['true'])).exitCode).toBe(0);
    expect(seen).toEqual(['cont-81', 'client']);
  });

  it('a wrong container name (400) and a missing pod (404) are failures, not exit codes', async () => {
    fake.putPod('x', 'a', ['cont-80', 'cont-81']);
    const wrong = await kube.exec({ namespace: 'x', name: 'a', container: 'client' }, ['true']);
    expect(wrong).toMatchObject({ exitCode: -1, timedOut: false });
    expect(wrong.failure).toMatch(/HTTP 400/);
    expect(fake.execRequests.at(-1)?.refused).toBe('container client is not valid for pod a');
    const gone = await kube.exec({ namespace: 'x', name: 'nope' }, ['true']);
    expect(gone).toMatchObject({ exitCode: -1, timedOut: false });
    expect(gone.failure).toMatch(/HTTP 404/);
  });

  it('an exec that fails to start is -1 with the reason, not a command exit code', async () => {
    fake.execHandler = () => ({ failure: 'container not found ("probe")' });
    const r = await kube.exec({ namespace: 'p', name: 'c', container: 'probe' }, ['true']);
    expect(r).toMatchObject({ exitCode: -1, failure: 'container not found ("probe")' });
  });

  it('a stream that closes without a status is a failure, not a success', async () => {
    fake.execHandler = () => ({ stdout: 'partial', noStatus: true });
    const r = await kube.exec({ namespace: 'p', name: 'c' }, ['true']);
    expect(r.exitCode).toBe(-1);
    expect(r.failure).toMatch(/closed without an exit status/);
  });
});

describe('fromFile', () => {
  it('loads a kubeconfig file and talks to its server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-kube-'));
    try {
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, fake.kubeconfigYaml(), { mode: 0o600 });
      fake.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } });
      const k = ClientNodeKube.fromFile(path);
      expect(
        (await k.get({ apiVersion: 'v1', kind: 'Namespace', name: 'kube-system' }))?.metadata?.name,
      ).toBe('kube-system');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
