import { describe, expect, it } from 'vitest';
import { tunnelMtuFor } from '../../../harness/probe/checks.js';
import {
  buildProbeWorkloads,
  HOST_PROBE_PORT,
  PROBE_CONTAINERS,
  serviceDnsName,
} from '../../../harness/probe/workloads.js';

type Obj = { kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> };

describe('probe workloads', () => {
  const objs = buildProbeWorkloads({ namespace: 'cc-probes', nodes: ['cp', 'w1'] }) as unknown as Obj[];

  it('makes per node a server, a client, a hostNetwork pod and a Service, namespace first', () => {
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/cc-probes',
      'Pod/server-n0',
      'Pod/client-n0',
      'Pod/host-n0',
      'Service/svc-n0',
      'Pod/server-n1',
      'Pod/client-n1',
      'Pod/host-n1',
      'Service/svc-n1',
    ]);
  });

  it('pins pods to their node and serves TCP and UDP on 80 and 81 with netexec', () => {
    const server = objs.find((o) => o.metadata.name === 'server-n1');
    expect(server?.spec?.nodeName).toBe('w1');
    const containers = server?.spec?.containers as {
      args: string[];
      ports: { containerPort: number; protocol: string }[];
    }[];
    expect(containers.map((c) => c.args)).toEqual([
      ['netexec', '--http-port=80', '--udp-port=80'],
      ['netexec', '--http-port=81', '--udp-port=81'],
    ]);
    expect(containers.flatMap((c) => c.ports.map((p) => `${p.protocol}/${p.containerPort}`))).toEqual([
      'TCP/80',
      'UDP/80',
      'TCP/81',
      'UDP/81',
    ]);
    const host = objs.find((o) => o.metadata.name === 'host-n0');
    expect(host?.spec?.hostNetwork).toBe(true);
    expect(JSON.stringify(host?.spec)).toContain(`--http-port=${HOST_PROBE_PORT}`);
    const svc = objs.find((o) => o.metadata.name === 'svc-n0');
    expect(svc?.spec?.selector).toEqual({ pod: 'server-n0' });
    expect(svc?.spec?.type).toBe('ClusterIP');
  });

  it('binds the hostNetwork UDP server to the node IP (downward API status.hostIP), as the Kubernetes e2e does', () => {
    const host = objs.find((o) => o.metadata.name === 'host-n1');
    const [c] = (host?.spec?.containers ?? []) as {
      name: string;
      args: string[];
      env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    }[];
    expect(c?.name).toBe(PROBE_CONTAINERS.host);
    expect(c?.args).toEqual([
      'netexec',
      `--http-port=${HOST_PROBE_PORT}`,
      `--udp-port=${HOST_PROBE_PORT}`,
      '--udp-listen-addresses=$(HOST_IP)',
    ]);
    expect(c?.env).toEqual([{ name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }]);
    // pod-network servers keep the wildcard: their only address is the pod IP
    const server = objs.find((o) => o.metadata.name === 'server-n1');
    expect(JSON.stringify(server?.spec)).not.toContain('udp-listen-addresses');
  });

  it('names the containers the probes exec into, as the pods have them', () => {
    const containerNames = (name: string) =>
      ((objs.find((o) => o.metadata.name === name)?.spec?.containers ?? []) as { name: string }[]).map(
        (c) => c.name,
      );
    expect(containerNames('client-n0')).toEqual([PROBE_CONTAINERS.client]);
    expect(containerNames('host-n0')).toEqual([PROBE_CONTAINERS.host]);
    expect(containerNames('server-n0')).toEqual([PROBE_CONTAINERS.server(80), PROBE_CONTAINERS.server(81)]);
  });

  it('rejects a bad namespace or an empty node list, naming the field', () => {
    expect(() => buildProbeWorkloads({ namespace: 'Bad_NS', nodes: ['a'] })).toThrow(/namespace: "Bad_NS"/);
    expect(() => buildProbeWorkloads({ namespace: 'ok', nodes: [] })).toThrow(/nodes:/);
  });

  it('knows the Service DNS name and the tunnel MTU per encapsulation', () => {
    expect(serviceDnsName('svc-n0', 'cc-probes')).toBe('svc-n0.cc-probes.svc.cluster.local');
    expect(tunnelMtuFor(1500, 'IPIP')).toBe(1480);
    expect(tunnelMtuFor(1500, 'IPIPCrossSubnet')).toBe(1480);
    expect(tunnelMtuFor(1500, 'VXLAN')).toBe(1450);
    expect(tunnelMtuFor(1500, 'None')).toBe(1500);
  });
});
