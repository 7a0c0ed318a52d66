/**
 * Both flows for both paths and every catalogued version, on cells rendered from the real upstream manifests
 * (fixtures): the orderings and waits hold for each, whatever the version's files look like (CRDs inline in
 * tigera-operator.yaml up to v3.29, operator-crds.yaml from v3.30; Goldmane/Whisker from v3.30).
 */
import { beforeAll, expect, it } from 'vitest';
import { installCalico } from '../../../harness/calico/flows/install.js';
import { uninstallCalico } from '../../../harness/calico/flows/uninstall.js';
import { type RenderedCell, renderCell } from '../../../harness/calico/render.js';
import { LocalDirSource } from '../../../harness/calico/source.js';
import type { Cell } from '../../../harness/config/cell.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { describeFixtures, FIXTURE_CATALOGUE, manifestsDirFor } from '../../support/fixtures.js';
import { RecordingKube } from './recording-kube.js';

const index = (calls: string[], pred: (c: string) => boolean) => {
  const i = calls.findIndex(pred);
  if (i < 0) throw new Error(`no call matched in:\n${calls.join('\n')}`);
  return i;
};

describeFixtures('install and uninstall flows for every catalogued version', () => {
  const rendered = new Map<string, { cell: Cell; r: RenderedCell }>();
  beforeAll(async () => {
    for (const v of FIXTURE_CATALOGUE) {
      // a version built from the Calico Go module (the lab's) has its manifests in the lab, not the fixtures
      const source = new LocalDirSource(manifestsDirFor(v.version));
      for (const install of ['manifest', 'operator'] as const) {
        const cell = buildMatrix({
          flags: { calicoVersion: v.version, install, encapsulation: 'VXLAN' },
        })[0]!;
        rendered.set(`${v.version} ${install}`, { cell, r: await renderCell(cell, source) });
      }
    }
  }, 120_000);

  for (const v of FIXTURE_CATALOGUE) {
    it(`${v.version} manifest: apply, calico-node, kube-controllers, nodes, CoreDNS; uninstall workloads → rest → CRDs`, async () => {
      const { cell, r } = rendered.get(`${v.version} manifest`)!;
      const kube = new RecordingKube();
      await installCalico({ cell, kube, rendered: r, version: v });
      expect(kube.calls[0]).toMatch(/^apply \d+ objects \[.*CustomResourceDefinition.*DaemonSet.*\]/);
      expect(kube.calls.slice(1)).toEqual([
        'wait DaemonSet kube-system/calico-node',
        'wait Deployment kube-system/calico-kube-controllers',
        `wait nodes ${cell.workers + 1}`,
        'wait pods kube-system k8s-app=kube-dns',
      ]);
      const un = new RecordingKube();
      await uninstallCalico({ cell, kube: un, rendered: r, version: v });
      const workloads = index(
        un.calls,
        (c) => c.startsWith('delete Foreground') && c.includes('DaemonSet kube-system/calico-node'),
      );
      const workloadsGone = index(
        un.calls,
        (c) => c.startsWith('waitGone') && c.includes('DaemonSet kube-system/calico-node'),
      );
      const rbac = index(
        un.calls,
        (c) => c.startsWith('delete Background') && c.includes('ClusterRole calico-node'),
      );
      const crds = index(un.calls, (c) => c.startsWith('delete Background CustomResourceDefinition'));
      expect(workloads).toBeLessThan(workloadsGone);
      expect(workloadsGone).toBeLessThan(rbac);
      expect(rbac).toBeLessThan(crds);
      // every object of the rendered manifest is deleted exactly once
      const deleted = un.calls.filter((c) => c.startsWith('delete ')).join(', ');
      for (const o of r.objects)
        expect(deleted).toContain(`${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`);
    });

    it(`${v.version} operator: CRDs → operator → CRs → TigeraStatus ${v.tigeraStatuses.join('/')}; uninstall in the documented order`, async () => {
      const { cell, r } = rendered.get(`${v.version} operator`)!;
      const kube = new RecordingKube();
      await installCalico({ cell, kube, rendered: r, version: v });
      const c = kube.calls;
      const operatorWait = index(c, (x) => x === 'wait Deployment tigera-operator/tigera-operator');
      const crApply = index(c, (x) => x.startsWith('apply') && x.includes('Installation'));
      const statusWait = index(c, (x) => x.startsWith('wait TigeraStatus'));
      expect(index(c, (x) => x.startsWith('apply') && x.includes('CustomResourceDefinition'))).toBeLessThan(
        operatorWait,
      );
      expect(operatorWait).toBeLessThan(crApply);
      expect(crApply).toBeLessThan(statusWait);
      for (const s of v.tigeraStatuses) expect(c[statusWait]).toContain(s);
      expect(c.slice(-2)).toEqual([
        `wait nodes ${cell.workers + 1}`,
        'wait pods kube-system k8s-app=kube-dns',
      ]);

      const un = new RecordingKube();
      await uninstallCalico({ cell, kube: un, rendered: r, version: v });
      const u = un.calls;
      const crDelete = index(u, (x) => x.startsWith('delete') && x.includes('Installation default'));
      const instGone = index(
        u,
        (x) => x.startsWith('waitGone(300000)') && x.includes('Installation default'),
      );
      const operatorDelete = index(
        u,
        (x) => x.startsWith('delete') && x.includes('Deployment tigera-operator/tigera-operator'),
      );
      const crdDelete = index(
        u,
        (x) =>
          x.startsWith('delete') && x.includes('CustomResourceDefinition installations.operator.tigera.io'),
      );
      // calico-system, and calico-apiserver where the version runs the API server there (≤ v3.30)
      const nsGone = index(u, (x) => x.startsWith('waitGone') && x.includes('Namespace calico-system'));
      expect(u[nsGone]).toBe(
        `waitGone(300000) Namespace calico-system${v.apiServerNamespace === 'calico-apiserver' ? ', Namespace calico-apiserver' : ''}`,
      );
      expect(crDelete).toBeLessThan(instGone);
      expect(instGone).toBeLessThan(nsGone);
      expect(nsGone).toBeLessThan(operatorDelete);
      expect(operatorDelete).toBeLessThan(crdDelete);
      expect(u.at(-1)).toBe('get CustomResourceDefinition ippools.crd.projectcalico.org');
      expect(u[crDelete]!.includes('Goldmane default')).toBe(v.goldmaneWhisker);
    });
  }
});
