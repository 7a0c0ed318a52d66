import { describe, expect, it } from 'vitest';
import { assessComponents, targetComponents } from '../../../harness/upgrade/components.js';
import { workload } from './workloads.js';

describe('targetComponents', () => {
  it('manifest path: kube-system calico-node and kube-controllers at the version tag', () => {
    const t = targetComponents('manifest', 'v3.32.1');
    expect(t.namespaces).toEqual(['kube-system']);
    expect(t.required.map((r) => `${r.namespace}/${r.name}`)).toEqual([
      'kube-system/calico-node',
      'kube-system/calico-kube-controllers',
    ]);
    expect(t.calicoTag).toBe('v3.32.1');
  });

  it('operator path: the operator at its catalogued release and calico-system', () => {
    const t = targetComponents('operator', 'v3.32.1');
    expect(t.operatorTag).toBe('v1.42.3');
    expect(t.required.map((r) => `${r.namespace}/${r.name}`)).toEqual([
      'tigera-operator/tigera-operator',
      'calico-system/calico-node',
      'calico-system/calico-typha',
      'calico-system/calico-kube-controllers',
    ]);
    expect(t.absent).toEqual([]);
  });

  it('migration: kube-system components must be gone', () => {
    const t = targetComponents('manifest-to-operator', 'v3.31.7');
    expect(t.namespaces).toContain('kube-system');
    expect(t.absent.map((r) => `${r.namespace}/${r.name}`)).toEqual([
      'kube-system/calico-node',
      'kube-system/calico-kube-controllers',
    ]);
  });
});

describe('assessComponents', () => {
  const t = targetComponents('manifest', 'v3.32.1');
  const onB = () => [
    workload('kube-system', 'DaemonSet', 'calico-node', [
      'quay.io/calico/cni:v3.32.1',
      'quay.io/calico/node:v3.32.1',
    ]),
    workload(
      'kube-system',
      'Deployment',
      'calico-kube-controllers',
      ['quay.io/calico/kube-controllers:v3.32.1'],
      1,
    ),
    workload('kube-system', 'Deployment', 'coredns', ['registry.k8s.io/coredns/coredns:v1.12.0'], 2, {
      ready: 0,
    }),
  ];

  it('is on target when every Calico workload runs B and is ready (other workloads are not judged)', () => {
    const a = assessComponents(onB(), t);
    expect(a.lagging).toEqual([]);
    expect(a.onTarget).toBe(true);
    expect(a.summary).toHaveLength(2);
  });

  it('names a pod still on A, a rollout not observed yet and unready pods', () => {
    const w = onB();
    w[0]!.pods[1] = {
      name: 'calico-node-1',
      images: ['docker.io/calico/node:v3.31.7'],
      ready: false,
      terminating: true,
    };
    w[0]!.ready = 2;
    w[1]!.observedGeneration = 1;
    const a = assessComponents(w, t);
    expect(a.onTarget).toBe(false);
    expect(a.lagging).toEqual([
      'kube-system/DaemonSet/calico-node: 2/3 ready; pod calico-node-1 runs docker.io/calico/node:v3.31.7, not ready, terminating',
      'kube-system/Deployment/calico-kube-controllers: generation 2 not observed yet (observed 1)',
    ]);
  });

  it('a required component that is missing is not on target', () => {
    const a = assessComponents(onB().slice(1), t);
    expect(a.lagging).toEqual(['kube-system/DaemonSet/calico-node: absent']);
  });

  it('migration: the kube-system install still present blocks completion', () => {
    const m = targetComponents('manifest-to-operator', 'v3.32.1');
    const calicoSystem = [
      workload('tigera-operator', 'Deployment', 'tigera-operator', ['quay.io/tigera/operator:v1.42.3'], 1),
      workload('calico-system', 'DaemonSet', 'calico-node', ['quay.io/calico/node:v3.32.1']),
      workload('calico-system', 'Deployment', 'calico-typha', ['quay.io/calico/typha:v3.32.1'], 2),
      workload(
        'calico-system',
        'Deployment',
        'calico-kube-controllers',
        ['quay.io/calico/kube-controllers:v3.32.1'],
        1,
      ),
      workload('calico-system', 'DaemonSet', 'csi-node-driver', ['quay.io/calico/csi:v3.32.1']),
    ];
    const old = workload('kube-system', 'DaemonSet', 'calico-node', ['quay.io/calico/node:v3.31.7'], 0);
    expect(assessComponents([...calicoSystem, old], m).lagging).toEqual([
      'kube-system/DaemonSet/calico-node: still present (the operator has not finished the migration)',
    ]);
    expect(assessComponents(calicoSystem, m).onTarget).toBe(true);
  });

  it('an optional component that exists (csi-node-driver) must run B too', () => {
    const o = targetComponents('operator', 'v3.32.1');
    const w = [
      workload('tigera-operator', 'Deployment', 'tigera-operator', ['quay.io/tigera/operator:v1.42.3'], 1),
      workload('calico-system', 'DaemonSet', 'calico-node', ['quay.io/calico/node:v3.32.1']),
      workload('calico-system', 'Deployment', 'calico-typha', ['quay.io/calico/typha:v3.32.1'], 2),
      workload(
        'calico-system',
        'Deployment',
        'calico-kube-controllers',
        ['quay.io/calico/kube-controllers:v3.32.1'],
        1,
      ),
    ];
    expect(assessComponents(w, o).onTarget).toBe(true);
    const csi = workload('calico-system', 'DaemonSet', 'csi-node-driver', ['quay.io/calico/csi:v3.31.7'], 1);
    expect(assessComponents([...w, csi], o).lagging).toEqual([
      'calico-system/DaemonSet/csi-node-driver: template runs quay.io/calico/csi:v3.31.7; pod csi-node-driver-0 runs quay.io/calico/csi:v3.31.7',
    ]);
  });

  it('the operator image must carry the operator release of B', () => {
    const o = targetComponents('operator', 'v3.32.1');
    const w = [
      workload('tigera-operator', 'Deployment', 'tigera-operator', ['quay.io/tigera/operator:v1.40.15'], 1),
    ];
    expect(assessComponents(w, o).lagging).toContain(
      'tigera-operator/Deployment/tigera-operator: template runs quay.io/tigera/operator:v1.40.15; pod tigera-operator-0 runs quay.io/tigera/operator:v1.40.15',
    );
    const onB = [
      workload('tigera-operator', 'Deployment', 'tigera-operator', ['quay.io/tigera/operator:v1.42.3'], 1),
    ];
    expect(assessComponents(onB, o).lagging.filter((l) => l.startsWith('tigera-operator/'))).toEqual([]);
  });
});
