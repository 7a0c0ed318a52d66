import { describe, expect, it } from 'vitest';
import { buildProbeTopology } from '../../../harness/probe/topology.js';
import { buildProbeWorkloads } from '../../../harness/probe/workloads.js';
import { FakeApiServer, type Obj } from '../kube/fake-apiserver.js';

const nodes = [
  { name: 'cc-control-plane', internalIP: '172.18.0.2' },
  { name: 'cc-worker', internalIP: '172.18.0.3' },
];

/** the probe workloads as the API would list them once scheduled and running */
function listed(namespace: string) {
  const objs = buildProbeWorkloads({ namespace, nodes: nodes.map((n) => n.name) });
  const pods = objs
    .filter((o) => o.kind === 'Pod')
    .map((o, i) => ({ ...(o as Obj), status: { podIP: `192.168.${i}.2` } }));
  const services = objs
    .filter((o) => o.kind === 'Service')
    .map((o, i) => ({ ...(o as Obj), spec: { ...(o.spec as object), clusterIP: `10.96.0.${i + 10}` } }));
  return { pods, services };
}

describe('the probe topology of a live cell', () => {
  it('names a container in every pod a probe execs into, and the API server accepts each', () => {
    const ns = 'cc-probes';
    const { pods, services } = listed(ns);
    const topo = buildProbeTopology({
      namespace: ns,
      nodes,
      pods,
      services,
      natOutgoing: true,
      tunnelMtu: 1480,
    });
    // the API server's own decision for an exec, on the pods as the workloads define them
    const api = new FakeApiServer();
    for (const p of pods) api.put(p);
    const sources = [...topo.clients, ...topo.servers, ...topo.nodes.map((n) => n.hostPod)];
    expect(sources).toHaveLength(6);
    for (const s of sources) {
      expect(s.pod.container, s.pod.name).toBeTruthy();
      expect(api.execLocation(s.pod.namespace, s.pod.name, s.pod.container ?? '')).toEqual({
        container: s.pod.container,
      });
    }
    // without the names, the two-container server pods would be refused
    expect(api.execLocation(ns, 'server-n0', '')).toMatchObject({
      refused: {
        code: 400,
        message: 'a container name must be specified for pod server-n0, choose one of: [serve-80 serve-81]',
      },
    });
  });

  it('answers as the pod name, the hostNetwork pod as its node; services map to their backend', () => {
    const ns = 'cc-probes';
    const { pods, services } = listed(ns);
    const topo = buildProbeTopology({
      namespace: ns,
      nodes,
      pods,
      services,
      natOutgoing: false,
      tunnelMtu: 1450,
    });
    expect(topo.nodes.map((n) => [n.name, n.internalIP, n.hostPod.answersAs])).toEqual([
      ['cc-control-plane', '172.18.0.2', 'cc-control-plane'],
      ['cc-worker', '172.18.0.3', 'cc-worker'],
    ]);
    expect(topo.clients.map((c) => [c.pod.name, c.node, c.answersAs])).toEqual([
      ['client-n0', 'cc-control-plane', 'client-n0'],
      ['client-n1', 'cc-worker', 'client-n1'],
    ]);
    expect(topo.services.map((s) => [s.name, s.backend, s.dnsName])).toEqual([
      ['svc-n0', 'server-n0', 'svc-n0.cc-probes.svc.cluster.local'],
      ['svc-n1', 'server-n1', 'svc-n1.cc-probes.svc.cluster.local'],
    ]);
    expect(() =>
      buildProbeTopology({
        namespace: ns,
        nodes,
        pods: pods.filter((p) => p.metadata.name !== 'client-n1'),
        services,
        natOutgoing: false,
        tunnelMtu: 1450,
      }),
    ).toThrow(/cc-probes\/client-n1 has no IP/);
  });
});
