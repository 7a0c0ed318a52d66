/**
 * harness/kube against the fake API server: only what a real API server cannot be made to do on demand —
 * injected 5xx answers (the apply retries), the exact order of requests on the wire (the Established wait
 * between the CRDs and the rest, which a real server's retried 404s would hide), and an exec accepted and
 * answered on the status channel (exit codes, the in-pod timeout, a missing status: a kubelet's part, and the
 * real tier runs none). Everything else harness/kube does — server-side apply of the real manifests, CRD
 * establishment, 409/403/404/422, finalizers, owner references and propagation, namespace termination,
 * every waiter, the exec refusals, a kubeconfig with client certificates, an API server that stops answering
 * — is tested against a real kube-apiserver + etcd in test/real/kube-apiserver.test.ts (the lab's binaries).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientNodeKube } from '../../../harness/kube/client.js';
import { parseManifest } from '../../../harness/kube/yaml.js';
import { FakeApiServer } from './fake-apiserver.js';

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
