import { describe, expect, it } from 'vitest';
import type { FlowContext, FlowEvent } from '../../../harness/calico/flows/context.js';
import { installCalico } from '../../../harness/calico/flows/install.js';
import { uninstallCalico } from '../../../harness/calico/flows/uninstall.js';
import type { RenderedCell } from '../../../harness/calico/render.js';
import { getVersion } from '../../../harness/config/catalogue.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { WaitTimeoutError } from '../../../harness/errors.js';
import { RecordingKube } from './recording-kube.js';

const cellOf = (install: 'manifest' | 'operator', version = 'v3.30.7') =>
  buildMatrix({ flags: { calicoVersion: version, install, encapsulation: 'VXLAN', workers: '2' } })[0]!;

const MANIFEST_RENDERED: RenderedCell = {
  files: [
    {
      name: 'calico.yaml',
      content: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ippools.crd.projectcalico.org}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: calico-cni-plugin}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: calico-kube-controllers, namespace: kube-system}
`,
    },
  ],
  // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
  applyPlan: [{ file: 'calico.yaml', serverSide: false, then: 'calico-node-ready' }],
  objects: [
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      name: 'ippools.crd.projectcalico.org',
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'calico-cni-plugin' },
    { apiVersion: 'apps/v1', kind: 'DaemonSet', namespace: 'kube-system', name: 'calico-node' },
    { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'kube-system', name: 'calico-kube-controllers' },
  ],
};

const OPERATOR_RENDERED: RenderedCell = {
  files: [
    {
      name: 'operator-crds.yaml',
      content:
        'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: installations.operator.tigera.io}\n',
    },
    {
      name: 'tigera-operator.yaml',
      content:
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: tigera-operator}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: tigera-operator, namespace: tigera-operator}\n',
    },
    {
      name: 'custom-resources.yaml',
      content:
        'apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata: {name: default}\n---\napiVersion: operator.tigera.io/v1\nkind: APIServer\nmetadata: {name: default}\n',
    },
  ],
  applyPlan: [
    {
      file: 'operator-crds.yaml',
      serverSide: true,
      // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
      then: 'crds-established',
      crds: ['installations.operator.tigera.io'],
    },
    // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
    { file: 'tigera-operator.yaml', serverSide: true, then: 'operator-available' },
    {
      file: 'custom-resources.yaml',
      serverSide: false,
      // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
      then: 'tigerastatus-available',
      tigeraStatuses: ['calico', 'apiserver', 'ippools'],
    },
  ],
  objects: [
    { apiVersion: 'operator.tigera.io/v1', kind: 'Installation', name: 'default' },
    { apiVersion: 'operator.tigera.io/v1', kind: 'APIServer', name: 'default' },
    { apiVersion: 'v1', kind: 'Namespace', name: 'tigera-operator' },
    { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'tigera-operator', name: 'tigera-operator' },
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      name: 'installations.operator.tigera.io',
    },
  ],
};

function ctxFor(
  kube: RecordingKube,
  install: 'manifest' | 'operator',
  rendered: RenderedCell,
  events?: FlowEvent[],
): FlowContext {
  const cell = cellOf(install);
  return {
    cell,
    kube,
    rendered,
    version: getVersion(cell.calicoVersion),
    ...(events ? { status: (e: FlowEvent) => events.push(e) } : {}),
  };
}

describe('installCalico', () => {
  it('manifest: apply calico.yaml, then calico-node, kube-controllers, nodes Ready, CoreDNS — in that order', async () => {
    const kube = new RecordingKube();
    const events: FlowEvent[] = [];
    await installCalico(ctxFor(kube, 'manifest', MANIFEST_RENDERED, events));
    expect(kube.calls).toEqual([
      'apply 4 objects [CustomResourceDefinition,ClusterRole,DaemonSet,Deployment]',
      'wait DaemonSet kube-system/calico-node',
      'wait Deployment kube-system/calico-kube-controllers',
      'wait nodes 3',
      'wait pods kube-system k8s-app=kube-dns',
    ]);
    expect(events.filter((e) => e.state === 'done')).toHaveLength(5);
    expect(events.every((e) => e.flow === 'install')).toBe(true);
  });

  it('operator: CRDs → Established → operator → Available → CRs → every TigeraStatus → nodes → CoreDNS', async () => {
    const kube = new RecordingKube();
    await installCalico(ctxFor(kube, 'operator', OPERATOR_RENDERED));
    expect(kube.calls).toEqual([
      'apply 1 objects [CustomResourceDefinition]',
      'wait CRDs Established (1)',
      'apply 2 objects [Namespace,Deployment]',
      'wait Deployment tigera-operator/tigera-operator',
      'apply 2 objects [Installation,APIServer]',
      'wait TigeraStatus calico,apiserver,ippools',
      'wait nodes 3',
      'wait pods kube-system k8s-app=kube-dns',
    ]);
  });

  it('operator: a plan without a TigeraStatus wait still waits for the catalogue statuses', async () => {
    const kube = new RecordingKube();
    const rendered = {
      ...OPERATOR_RENDERED,
      applyPlan: OPERATOR_RENDERED.applyPlan.map(({ then: _t, ...s }) => s),
    };
    await installCalico(ctxFor(kube, 'operator', rendered));
    expect(kube.calls).toContain(`wait TigeraStatus ${getVersion('v3.30.7').tigeraStatuses.join(',')}`);
  });

  it('operator: without a plan wait, Goldmane and Whisker the cell creates are waited for too', async () => {
    const kube = new RecordingKube();
    const cr = (kind: string) => ({ apiVersion: 'operator.tigera.io/v1', kind, name: 'default' });
    const rendered = {
      ...OPERATOR_RENDERED,
      applyPlan: OPERATOR_RENDERED.applyPlan.map(({ then: _t, ...s }) => s),
      objects: [cr('Goldmane'), cr('Whisker'), ...OPERATOR_RENDERED.objects],
    };
    await installCalico(ctxFor(kube, 'operator', rendered));
    expect(kube.calls).toContain('wait TigeraStatus calico,apiserver,ippools,goldmane,whisker');
  });

  it('stops at the first failed wait, reports it, and applies nothing after it', async () => {
    const kube = new RecordingKube();
    kube.failOn = (c) => {
      if (c.startsWith('wait Deployment tigera-operator'))
        throw new WaitTimeoutError(
          'Deployment tigera-operator/tigera-operator to be Available',
          1000,
          'available=0',
        );
    };
    const events: FlowEvent[] = [];
    await expect(installCalico(ctxFor(kube, 'operator', OPERATOR_RENDERED, events))).rejects.toThrow(
      /available=0/,
    );
    expect(kube.calls.at(-1)).toBe('wait Deployment tigera-operator/tigera-operator');
    expect(kube.calls.some((c) => c.includes('Installation'))).toBe(false);
    expect(events.at(-1)).toMatchObject({
      state: 'failed',
      step: 'wait for the tigera-operator Deployment Available',
    });
  });

  it('a plan that names a file the rendered cell lacks is an error naming both', async () => {
    const kube = new RecordingKube();
    const rendered = { ...MANIFEST_RENDERED, applyPlan: [{ file: 'calico-typo.yaml', serverSide: true }] };
    await expect(installCalico(ctxFor(kube, 'manifest', rendered))).rejects.toThrow(
      /calico-typo.yaml .*files: calico.yaml/,
    );
    expect(kube.calls).toEqual([]);
  });
});

describe('uninstallCalico', () => {
  it('manifest: workloads first (Foreground, waited), then the rest, then the CRDs', async () => {
    const kube = new RecordingKube();
    await uninstallCalico(ctxFor(kube, 'manifest', MANIFEST_RENDERED));
    expect(kube.calls).toEqual([
      'delete Foreground DaemonSet kube-system/calico-node, Deployment kube-system/calico-kube-controllers',
      'waitGone(300000) DaemonSet kube-system/calico-node, Deployment kube-system/calico-kube-controllers',
      'delete Background ClusterRole calico-cni-plugin',
      'waitGone(300000) ClusterRole calico-cni-plugin',
      'delete Background CustomResourceDefinition ippools.crd.projectcalico.org',
      'waitGone(300000) CustomResourceDefinition ippools.crd.projectcalico.org',
      'get CustomResourceDefinition ippools.crd.projectcalico.org',
    ]);
  });

  it('operator: CRs → wait Installation gone (5 min) → Calico namespaces gone → operator manifest → CRDs → IPPool check', async () => {
    const kube = new RecordingKube();
    await uninstallCalico(ctxFor(kube, 'operator', OPERATOR_RENDERED));
    expect(kube.calls).toEqual([
      'delete Background APIServer default, Goldmane default, Whisker default, Installation default',
      'waitGone(300000) APIServer default, Goldmane default, Whisker default, Installation default',
      'waitGone(300000) Namespace calico-system, Namespace calico-apiserver',
      'delete Background Deployment tigera-operator/tigera-operator, Namespace tigera-operator',
      'waitGone(300000) Deployment tigera-operator/tigera-operator, Namespace tigera-operator',
      'delete Background CustomResourceDefinition installations.operator.tigera.io',
      'waitGone(300000) CustomResourceDefinition installations.operator.tigera.io',
      'get CustomResourceDefinition ippools.crd.projectcalico.org',
    ]);
  });

  it('operator before v3.30: no Goldmane or Whisker', async () => {
    const kube = new RecordingKube();
    const ctx = { ...ctxFor(kube, 'operator', OPERATOR_RENDERED), version: getVersion('v3.29.7') };
    await uninstallCalico(ctx);
    expect(kube.calls[0]).toBe('delete Background APIServer default, Installation default');
  });

  it('operator: an Installation stuck on finalizers stops the uninstall before the operator is deleted', async () => {
    const kube = new RecordingKube();
    kube.failOn = (c) => {
      if (c.startsWith('waitGone') && c.includes('Installation'))
        throw new WaitTimeoutError(
          '4 objects to be deleted',
          300_000,
          'Installation default: finalizers blocking: [tigera.io/operator-cleanup]',
        );
    };
    await expect(uninstallCalico(ctxFor(kube, 'operator', OPERATOR_RENDERED))).rejects.toThrow(
      /finalizers blocking/,
    );
    expect(kube.calls.some((c) => c.includes('tigera-operator/tigera-operator'))).toBe(false);
    expect(kube.calls.some((c) => c.includes('CustomResourceDefinition'))).toBe(false);
  });

  it('removes leftover IPPools when their CRD survived', async () => {
    const kube = new RecordingKube();
    kube.present.add('CustomResourceDefinition ippools.crd.projectcalico.org');
    kube.lists.set('crd.projectcalico.org/v1 IPPool', [
      { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'default-ipv4-ippool' } },
    ]);
    await uninstallCalico(ctxFor(kube, 'operator', OPERATOR_RENDERED));
    expect(kube.calls.slice(-4)).toEqual([
      'get CustomResourceDefinition ippools.crd.projectcalico.org',
      'list IPPool',
      'delete Background IPPool default-ipv4-ippool',
      'waitGone(300000) IPPool default-ipv4-ippool',
    ]);
  });
});
