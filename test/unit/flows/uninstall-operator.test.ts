/**
 * The operator uninstall against the real Kubernetes client and a fake API server whose controllers behave as
 * the operator and Kubernetes do (tigera/operator core_controller.go; docs/calico-facts.md, "Uninstall
 * order"): deleting the Installation only marks it; the operator drops its finalizers once it has torn its
 * components down; the `calico-system` Namespace is owned by the Installation and garbage-collected only when
 * the Installation is gone, then stays Terminating while the namespace controller deletes its pods
 * (calico-node, kube-controllers, Goldmane, Whisker, csi-node-driver); up to v3.30 the APIServer's
 * `calico-apiserver` Namespace is removed by the API server controller the same way. Every step takes time;
 * nothing is gone the moment it is deleted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlowEvent } from '../../../harness/calico/flows/context.js';
import { uninstallCalico } from '../../../harness/calico/flows/uninstall.js';
import type { RenderedCell } from '../../../harness/calico/render.js';
import { type CalicoVersion, getVersion } from '../../../harness/config/catalogue.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { WaitTimeoutError } from '../../../harness/errors.js';
import { ClientNodeKube } from '../../../harness/kube/client.js';
import { FakeApiServer, type Obj, RESOURCES, type Recorded } from '../kube/fake-apiserver.js';

// the operator.tigera.io kinds of v3.30+ that the shared fake does not list (installed by operator-crds.yaml)
for (const [kind, plural] of [
  ['Goldmane', 'goldmanes'],
  ['Whisker', 'whiskers'],
] as const)
  if (!RESOURCES.some((r) => r.kind === kind))
    RESOURCES.push({ apiVersion: 'operator.tigera.io/v1', kind, plural, namespaced: false });

const OP = 'operator.tigera.io/v1';

interface Timing {
  /** how long the operator takes to tear down its components and drop the Installation's finalizers */
  releaseMs: number;
  /** how long a Terminating namespace takes to empty; undefined: never (pods stuck on a failing CNI DEL) */
  terminatingMs: number | undefined;
}

/** The operator, the garbage collector and the namespace controller, advanced on every API request. */
class OperatorCluster {
  readonly namespaces: string[];
  /** the Calico namespaces present when the uninstall deleted the operator Deployment */
  atOperatorDelete: string[] | undefined;
  private installationDeletingSince: number | undefined;
  private readonly terminatingSince = new Map<string, number>();

  constructor(
    private readonly fake: FakeApiServer,
    private readonly version: CalicoVersion,
    private readonly timing: Timing,
  ) {
    this.namespaces = [...new Set(['calico-system', version.apiServerNamespace])];
  }

  seed(): void {
    this.fake.put({
      apiVersion: OP,
      kind: 'Installation',
      metadata: {
        name: 'default',
        finalizers: ['tigera.io/operator-cleanup', 'operator.tigera.io/installation-controller'],
      },
    });
    for (const kind of this.version.customResources.filter((k) => k !== 'Installation'))
      this.fake.put({ apiVersion: OP, kind, metadata: { name: 'default' } });
    for (const name of [...this.namespaces, 'tigera-operator'])
      this.fake.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
    this.fake.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'tigera-operator', namespace: 'tigera-operator' },
    });
    this.fake.put({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'installations.operator.tigera.io' },
    });
  }

  present(): string[] {
    return this.namespaces.filter((n) => this.fake.getObj('v1', 'Namespace', n));
  }

  react = (req: Recorded): undefined => {
    const now = Date.now();
    if (
      req.method === 'DELETE' &&
      req.path === '/apis/apps/v1/namespaces/tigera-operator/deployments/tigera-operator'
    )
      this.atOperatorDelete = this.present();
    // the API server controller (≤ v3.30): the APIServer CR deleted → its namespace is deleted
    if (
      req.method === 'DELETE' &&
      req.path === '/apis/operator.tigera.io/v1/apiservers/default' &&
      this.version.apiServerNamespace === 'calico-apiserver'
    )
      this.terminate('calico-apiserver', now);
    // the operator: a deleting Installation loses its finalizers once the components are torn down; then the
    // garbage collector deletes what the Installation owned, the calico-system Namespace among it
    const inst = this.fake.getObj(OP, 'Installation', 'default');
    if (inst?.metadata.deletionTimestamp) {
      this.installationDeletingSince ??= now;
      if (now - this.installationDeletingSince >= this.timing.releaseMs) {
        this.fake.store.delete(FakeApiServer.key(OP, 'Installation', 'default'));
        this.terminate('calico-system', now);
      }
    }
    // the namespace controller: a Terminating namespace is gone once its pods are
    for (const [name, since] of this.terminatingSince)
      if (this.timing.terminatingMs !== undefined && now - since >= this.timing.terminatingMs) {
        this.fake.store.delete(FakeApiServer.key('v1', 'Namespace', name));
        this.terminatingSince.delete(name);
      }
    return undefined;
  };

  private terminate(name: string, now: number): void {
    const ns = this.fake.getObj('v1', 'Namespace', name);
    if (!ns || ns.metadata.deletionTimestamp) return;
    const terminating: Obj = {
      ...ns,
      metadata: { ...ns.metadata, deletionTimestamp: new Date(now).toISOString() },
      spec: { finalizers: ['kubernetes'] },
      status: {
        phase: 'Terminating',
        conditions: [
          {
            type: 'NamespaceContentRemaining',
            status: 'True',
            reason: 'SomeResourcesRemain',
            message: 'Some resources are remaining: pods. has 4 resource instances',
          },
        ],
      },
    };
    this.fake.put(terminating);
    this.terminatingSince.set(name, now);
  }
}

function renderedFor(version: CalicoVersion): RenderedCell {
  return {
    files: [],
    applyPlan: [],
    objects: [
      ...version.customResources.map((kind) => ({ apiVersion: OP, kind, name: 'default' })),
      { apiVersion: 'v1', kind: 'Namespace', name: 'tigera-operator' },
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'tigera-operator', name: 'tigera-operator' },
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        name: 'installations.operator.tigera.io',
      },
    ],
  };
}

let fake: FakeApiServer;
beforeEach(async () => {
  fake = await new FakeApiServer().start();
});
afterEach(async () => {
  await fake.stop();
});

function setUp(versionName: string, timing: Timing) {
  const version = getVersion(versionName);
  const cluster = new OperatorCluster(fake, version, timing);
  cluster.seed();
  fake.reactors.push(cluster.react);
  const events: FlowEvent[] = [];
  const [cell] = buildMatrix({
    flags: { calicoVersion: versionName, install: 'operator', encapsulation: 'VXLAN' },
  });
  const ctx = {
    cell: cell!,
    kube: new ClientNodeKube(fake.kubeConfig()),
    rendered: renderedFor(version),
    version,
    pollIntervalMs: 20,
    status: (e: FlowEvent) => events.push(e),
  };
  return { cluster, ctx, events };
}

describe('operator uninstall waits for the Calico namespaces before the operator goes and the audit runs', () => {
  for (const [v, namespaces] of [
    ['v3.30.7', ['calico-system', 'calico-apiserver']],
    ['v3.32.1', ['calico-system']],
  ] as const) {
    it(`${v}: ${namespaces.join(' and ')} gone before the operator is deleted and when the uninstall returns`, async () => {
      const { cluster, ctx, events } = setUp(v, { releaseMs: 150, terminatingMs: 400 });
      expect(cluster.namespaces).toEqual(namespaces);
      await uninstallCalico(ctx);
      expect(cluster.atOperatorDelete).toEqual([]);
      expect(cluster.present()).toEqual([]);
      // every custom resource upstream's custom-resources.yaml creates (Goldmane and Whisker from v3.30) is gone
      for (const kind of ctx.version.customResources)
        expect(fake.getObj(OP, kind, 'default'), kind).toBeUndefined();
      const wait = events.find((e) => e.state === 'done' && /namespace/.test(e.step));
      expect(wait?.step).toBe(
        namespaces.length > 1
          ? `wait until namespaces ${namespaces.join(' and ')} are gone`
          : `wait until namespace ${namespaces[0]} is gone`,
      );
    });
  }

  it('a namespace stuck Terminating fails the uninstall with a timeout that names it and what it saw', async () => {
    const { cluster, ctx } = setUp('v3.32.1', { releaseMs: 50, terminatingMs: undefined });
    const err = await uninstallCalico({ ...ctx, timeouts: { namespacesGoneMs: 300 } }).catch((e) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.message).toMatch(
      /^timed out after .* waiting for namespace calico-system to be gone after the Installation \(Terminating until every pod in it is gone\); last seen: .*Namespace calico-system: deleting since .*phase=Terminating.*NamespaceContentRemaining/s,
    );
    // the operator stays: the uninstall stops where it is stuck
    expect(cluster.atOperatorDelete).toBeUndefined();
    expect(fake.getObj('apps/v1', 'Deployment', 'tigera-operator', 'tigera-operator')).toBeDefined();
  });
});
