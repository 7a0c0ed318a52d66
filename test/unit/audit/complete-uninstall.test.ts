/**
 * The complete uninstall's API part through the real @kubernetes/client-node against the fake API server,
 * whose node patches follow the API server's patch semantics here (JSON merge patch: null deletes a key, a
 * list is replaced, a stale resourceVersion is a 409; strategic merge patch of the status: conditions merge on
 * `type`), and the node part's step semantics on a scripted node (the real kernel state is in
 * test/docker/audit/complete-uninstall.docker.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientNodeStateReader, readClusterState } from '../../../harness/audit/cluster-state.js';
import {
  clientNodeApiCleaner,
  completeUninstallApi,
  completeUninstallCluster,
  completeUninstallNode,
} from '../../../harness/audit/complete-uninstall.js';
import { auditClusterState } from '../../../harness/audit/rules.js';
import type { NodeShell } from '../../../harness/cluster/node-shell.js';
import type { RunResult } from '../../../harness/exec/process.js';
import type { NodeDump } from '../../../harness/node-state/dump.js';
import { FakeApiServer, type Obj, type Recorded } from '../kube/fake-apiserver.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Json = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Node patches as the API server applies them (only what the cleaner sends; anything else is 415). */
function nodePatches(req: Recorded, fake: FakeApiServer): { status: number; body: unknown } | undefined {
  const m = /^\/api\/v1\/nodes\/([^/]+)(\/status)?$/.exec(req.path);
  if (req.method !== 'PATCH' || !m) return undefined;
  const node = fake.getObj('v1', 'Node', m[1]!) as (Obj & { status?: Json }) | undefined;
  if (!node) return { status: 404, body: { kind: 'Status', code: 404, reason: 'NotFound' } };
  const body = req.body as Json;
  let next: Obj;
  if (m[2]) {
    if (req.contentType !== 'application/strategic-merge-patch+json')
      return {
        status: 415,
        body: { kind: 'Status', code: 415, message: `status patch as ${req.contentType}` },
      };
    const conditions = [...((node.status?.conditions as Json[]) ?? [])];
    for (const c of ((body.status as Json)?.conditions as Json[]) ?? []) {
      const i = conditions.findIndex((x) => x.type === c.type);
      if (i >= 0) conditions[i] = { ...conditions[i], ...c };
      else conditions.push(c);
    }
    next = { ...node, status: { ...node.status, conditions } };
  } else {
    if (req.contentType !== 'application/merge-patch+json')
      return {
        status: 415,
        body: { kind: 'Status', code: 415, message: `node patch as ${req.contentType}` },
      };
    const rv = (body.metadata as Json | undefined)?.resourceVersion;
    if (rv !== undefined && rv !== node.metadata.resourceVersion)
      return {
        status: 409,
        body: { kind: 'Status', code: 409, reason: 'Conflict', message: 'the object has been modified' },
      };
    next = mergePatch(node, body) as Obj;
  }
  next.metadata.resourceVersion = String(Number(node.metadata.resourceVersion ?? '1') + 1);
  fake.put(next);
  return { status: 200, body: next };
}

describe('the complete uninstall, API part (client-node against the fake API server)', () => {
  let fake: FakeApiServer;
  beforeEach(async () => {
    fake = await new FakeApiServer().start();
    fake.reactors.push(nodePatches);
    for (const name of ['kind-control-plane', 'kind-worker'])
      fake.put({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          resourceVersion: '7',
          annotations: {
            'projectcalico.org/IPv4Address': '172.18.0.3/16',
            'projectcalico.org/IPv4VXLANTunnelAddr': '192.168.110.128',
            'node.alpha.kubernetes.io/ttl': '0',
          },
        },
        spec: {
          taints: [
            { key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' },
            ...(name === 'kind-control-plane'
              ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]
              : []),
          ],
        },
        status: {
          conditions: [
            {
              type: 'NetworkUnavailable',
              status: 'True',
              reason: 'CalicoIsDown',
              message: 'Calico is shutting down on this node',
            },
            { type: 'Ready', status: 'True', reason: 'KubeletReady' },
          ],
        },
      });
    const pod = (namespace: string, name: string, annotations: Record<string, string>, hostNetwork = false) =>
      fake.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { namespace, name, annotations },
        spec: { nodeName: 'kind-worker', hostNetwork, containers: [{ name: 'c', image: 'i' }] },
      });
    pod('kube-system', 'coredns-7db6d8ff4d-2xk5q', { 'cni.projectcalico.org/podIP': '192.168.110.130/32' });
    pod('local-path-storage', 'local-path-provisioner-57c5987fd4-wh6tq', {
      'cni.projectcalico.org/podIPs': '192.168.110.131/32',
    });
    pod('kube-system', 'kube-proxy-8hx2v', {}, true);
    pod('default', 'other-cni-pod', { 'k8s.v1.cni.cncf.io/network-status': '[]' });
  });
  afterEach(async () => fake.stop());

  it("strips Calico's node annotations, clears CalicoIsDown and its taint, force-deletes the pods Calico wired; other state stays", async () => {
    const steps = await completeUninstallApi(await clientNodeApiCleaner(fake.kubeConfig()));
    expect(steps.filter((s) => s.outcome !== 'done')).toEqual([]);
    expect(steps.map((s) => s.action)).toEqual([
      'force-delete pod kube-system/coredns-7db6d8ff4d-2xk5q on kind-worker',
      'force-delete pod local-path-storage/local-path-provisioner-57c5987fd4-wh6tq on kind-worker',
      'node kind-control-plane: remove 2 projectcalico.org/* annotation(s)',
      'node kind-control-plane: NetworkUnavailable=CalicoIsDown → False',
      'node kind-control-plane: remove taint node.kubernetes.io/network-unavailable',
      'node kind-worker: remove 2 projectcalico.org/* annotation(s)',
      'node kind-worker: NetworkUnavailable=CalicoIsDown → False',
      'node kind-worker: remove taint node.kubernetes.io/network-unavailable',
    ]);
    const cp = fake.getObj('v1', 'Node', 'kind-control-plane') as Obj & { spec: Json; status: Json };
    expect(cp.metadata.annotations).toEqual({ 'node.alpha.kubernetes.io/ttl': '0' });
    expect(cp.spec.taints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    expect(cp.status.conditions).toEqual([
      expect.objectContaining({ type: 'NetworkUnavailable', status: 'False', reason: 'CalicoUninstalled' }),
      { type: 'Ready', status: 'True', reason: 'KubeletReady' },
    ]);
    const deletes = fake.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((r) => `${r.path}?gracePeriodSeconds=${r.query.get('gracePeriodSeconds')}`)).toEqual([
      '/api/v1/namespaces/kube-system/pods/coredns-7db6d8ff4d-2xk5q?gracePeriodSeconds=0',
      '/api/v1/namespaces/local-path-storage/pods/local-path-provisioner-57c5987fd4-wh6tq?gracePeriodSeconds=0',
    ]);
    expect(fake.getObj('v1', 'Pod', 'kube-proxy-8hx2v', 'kube-system')).toBeDefined();
    expect(fake.getObj('v1', 'Pod', 'other-cni-pod', 'default')).toBeDefined();
    // the audit of the API state afterwards has nothing by design left
    const state = await readClusterState(await clientNodeStateReader(fake.kubeConfig()));
    expect(auditClusterState(state).findings).toEqual([]);
  });

  it('retries a taint removal once when the node changed in between (409), and says so when it keeps failing', async () => {
    let conflicts = 1;
    fake.reactors.unshift((req) =>
      req.method === 'PATCH' && req.path === '/api/v1/nodes/kind-worker' && conflicts-- > 0
        ? { status: 409, body: { kind: 'Status', code: 409, reason: 'Conflict' } }
        : undefined,
    );
    const steps = await completeUninstallApi(await clientNodeApiCleaner(fake.kubeConfig()));
    // the first PATCH of kind-worker (the annotations) got the 409: that step failed, the taint step succeeded
    expect(
      steps.find((s) => s.action === 'node kind-worker: remove 2 projectcalico.org/* annotation(s)')?.outcome,
    ).toBe('failed');
    expect(
      steps.find((s) => s.action === 'node kind-worker: remove taint node.kubernetes.io/network-unavailable')
        ?.outcome,
    ).toBe('done');
    conflicts = 5;
    fake.put({
      ...(fake.getObj('v1', 'Node', 'kind-worker') as Obj),
      spec: { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] },
    });
    const again = await completeUninstallApi(await clientNodeApiCleaner(fake.kubeConfig()));
    const taint = again.find(
      (s) => s.action === 'node kind-worker: remove taint node.kubernetes.io/network-unavailable',
    )!;
    expect(taint.outcome).toBe('failed');
  });
});

/** A node that answers from a script: argv → result; records what ran. */
class ScriptedNode implements NodeShell {
  readonly ran: string[] = [];
  constructor(
    readonly node: string,
    private readonly answer: (argv: readonly string[]) => Partial<RunResult>,
  ) {}
  async exec(argv: readonly string[]): Promise<RunResult> {
    this.ran.push(argv.join(' '));
    return {
      command: argv[0]!,
      args: argv.slice(1),
      exitCode: 0,
      stdout: '',
      stderr: '',
      timedOut: false,
      durationMs: 1,
      ...this.answer(argv),
    };
  }
}

const DUMP: NodeDump = {
  node: 'kind-worker',
  files: {
    'ip-link.json': JSON.stringify([
      { ifname: 'vxlan.calico', flags: ['UP'], linkinfo: { info_kind: 'vxlan', info_data: { id: 4096 } } },
      {
        ifname: 'calie5a9b8a4c01',
        flags: ['UP'],
        address: 'ee:ee:ee:ee:ee:ee',
        linkinfo: { info_kind: 'veth' },
      },
    ]),
    'ip-route.json': JSON.stringify([
      { dst: '192.168.2.0/26', gateway: '192.168.2.0', dev: 'vxlan.calico', flags: ['onlink'] },
    ]),
    'ipset-list.txt': 'cali40all-ipam-pools\n',
    'files.txt': 'd /var/lib/calico\nf /var/lib/calico/nodename\n',
  },
  notes: {},
};

describe('the complete uninstall, node part (step semantics)', () => {
  it("runs each finding's fix in the rules' order, records a failure with the command's answer and goes on", async () => {
    const node = new ScriptedNode('kind-worker', (argv) =>
      argv[0] === 'ip' && argv[1] === 'link' && argv[3] === 'calie5a9b8a4c01'
        ? { exitCode: 1, stderr: 'RTNETLINK answers: Operation not permitted' }
        : argv[0] === 'systemctl'
          ? { exitCode: 0 }
          : {},
    );
    const r = await completeUninstallNode(node, { collect: async () => DUMP });
    expect(r.steps.map((s) => `${s.action}: ${s.outcome}`)).toEqual([
      'remove route 192.168.2.0/26 dev vxlan.calico: done',
      'remove interface calie5a9b8a4c01: failed',
      'remove interface vxlan.calico: done',
      'remove ipset cali40all-ipam-pools: done',
      'remove file /var/lib/calico: done',
      'restart kubelet: done',
    ]);
    expect(r.steps[1]!.detail).toBe(
      'ip link del calie5a9b8a4c01: exit 1: RTNETLINK answers: Operation not permitted',
    );
    expect(r.complete).toBe(false);
    expect(node.ran).toContain('rm -rf --one-file-system /var/lib/calico');
    expect(node.ran).toContain('ipset destroy cali40all-ipam-pools');
  });

  it('destroys ipsets with the helper when the node has no ipset, and says unavailable when there is none', async () => {
    const noIpset = (argv: readonly string[]) =>
      argv[0] === 'ipset'
        ? { exitCode: 127, stderr: 'exec: "ipset": executable file not found in $PATH' }
        : {};
    const helper: string[][] = [];
    const withHelper = await completeUninstallNode(new ScriptedNode('kind-worker', noIpset), {
      collect: async () => DUMP,
      ipset: async (args) => {
        helper.push([...args]);
        return {
          command: 'docker',
          args: [],
          exitCode: 0,
          stdout: '',
          stderr: '',
          timedOut: false,
          durationMs: 1,
        };
      },
    });
    expect(helper).toEqual([['destroy', 'cali40all-ipam-pools']]);
    expect(withHelper.steps.find((s) => s.action === 'remove ipset cali40all-ipam-pools')?.outcome).toBe(
      'done',
    );
    const without = await completeUninstallNode(new ScriptedNode('kind-worker', noIpset), {
      collect: async () => DUMP,
    });
    expect(without.steps.find((s) => s.action === 'remove ipset cali40all-ipam-pools')).toMatchObject({
      outcome: 'unavailable',
      detail: expect.stringMatching(/no ipset binary in the node/),
    });
  });

  it('a node where nothing could be collected is one failed step, and nothing is run on it', async () => {
    const node = new ScriptedNode('kind-worker', () => ({}));
    const r = await completeUninstallNode(node, {
      collect: async () => ({
        node: 'kind-worker',
        files: {},
        notes: {
          unavailable: { 'ip-link.json': 'exited 1: Error response from daemon: container is not running' },
        },
      }),
    });
    expect(r.steps).toEqual([
      { action: 'read the node state', outcome: 'failed', detail: expect.stringMatching(/not running/) },
    ]);
    expect(node.ran).toEqual([]);
  });
});

describe('the complete uninstall of a cluster: passes until nothing is left to remove', () => {
  const api = {
    listNodes: async () => [],
    removeNodeAnnotations: async () => {},
    clearNetworkUnavailable: async () => {},
    removeNodeTaint: async () => {},
    listCalicoWiredPods: async () => [],
    forceDeletePod: async () => {},
  };

  it('repeats the node pass while a pass still removed something, at most settlePasses more', async () => {
    let collected = 0;
    const node = new ScriptedNode('kind-worker', () => ({}));
    const lines = await completeUninstallCluster({
      kubeconfigPath: '/unused',
      api,
      nodes: [{ name: 'kind-worker', shell: node }],
      baseline: () => undefined,
      settlePasses: 2,
      settleMs: 1,
      // every pass finds the same leftovers again (as a CNI DEL that keeps writing would)
      collect: async () => {
        collected++;
        return DUMP;
      },
    }).catch((e: Error) => e.message.split('\n'));
    expect(collected).toBe(3);
    expect(lines.filter((l) => l.includes('remove interface vxlan.calico: done'))).toHaveLength(3);
  });

  it('an interrupt ends the wait between passes at once', async () => {
    const ac = new AbortController();
    const node = new ScriptedNode('kind-worker', () => ({}));
    const started = Date.now();
    const run = completeUninstallCluster({
      kubeconfigPath: '/unused',
      api,
      nodes: [{ name: 'kind-worker', shell: node }],
      baseline: () => undefined,
      settleMs: 600_000,
      signal: ac.signal,
      collect: async () => {
        setTimeout(() => ac.abort(new Error('SIGINT (test)')), 10);
        return DUMP;
      },
    });
    await expect(run).rejects.toThrow('SIGINT (test)');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
