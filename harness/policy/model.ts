/**
 * The standard model of the Kubernetes netpol e2e (test/e2e/network/netpol): namespaces x, y, z labelled
 * `ns: <name>`, pods a, b, c labelled `pod: <name>`, every pod serving 80 and 81 over TCP and UDP with the
 * container port names `serve-<port>-<proto>` (the e2e/cyclonus naming, so named-port policies read the
 * same). Pure builders: the catalogue and the tests use synthetic IPs; the live suite builds the same
 * shape with real namespace names and pod IPs.
 */
import { availableParallelism } from 'node:os';
import type { Protocol } from '../model/connectivity.js';
import type { ModelPort, PolicyModel } from './types.js';

export const MODEL_NAMESPACES = ['x', 'y', 'z'] as const;
export const MODEL_PODS = ['a', 'b', 'c'] as const;
export const MODEL_PORTS: readonly ModelPort[] = [80, 81].flatMap((port) =>
  (['TCP', 'UDP'] as Protocol[]).map((protocol) => ({
    port,
    protocol,
    name: portName(port, protocol),
  })),
);

export function portName(port: number, protocol: Protocol): string {
  return `serve-${port}-${protocol.toLowerCase()}`;
}

export interface StandardModelOptions {
  /** real namespace name for each model namespace (the live suite prefixes them); default the same */
  namespaceName?: (ns: string) => string;
  /** the pod IP; default 10.0.<ns index + 1>.<pod index + 10> */
  podIp?: (ns: string, pod: string) => string;
  ports?: readonly ModelPort[];
  /** labels every namespace carries besides `ns` (the live suite's namespace-set label) */
  namespaceLabels?: Record<string, string>;
}

/** x,y,z × a,b,c. Namespaces keep the label `ns: x` even when their real name differs. */
export function standardModel(opts: StandardModelOptions = {}): PolicyModel {
  const nsName = opts.namespaceName ?? ((ns: string) => ns);
  const ip =
    opts.podIp ??
    ((ns: string, pod: string) =>
      `10.0.${MODEL_NAMESPACES.indexOf(ns as 'x') + 1}.${MODEL_PODS.indexOf(pod as 'a') + 10}`);
  return {
    namespaces: MODEL_NAMESPACES.map((ns) => ({
      name: nsName(ns),
      labels: { ...(opts.namespaceLabels ?? {}), ns },
    })),
    pods: MODEL_NAMESPACES.flatMap((ns) =>
      MODEL_PODS.map((pod) => ({ namespace: nsName(ns), name: pod, labels: { pod }, ip: ip(ns, pod) })),
    ),
    ports: [...(opts.ports ?? MODEL_PORTS)],
  };
}

/**
 * Policy scenarios at once (namespace sets) when `--policy-concurrency` is not given: two per node, at most
 * one per CPU of this machine (kind's nodes share its CPUs), at most 8 — 2 on the 2-core lab. Measured
 * there (1 control plane + 1 worker): a round's cost grows with every set (1.6 s for one, 3.8 s for two,
 * 7.8 s for four: bench:probe-floor); the whole catalogue four at a time took 530 s against 973 s one at a
 * time with the same verdicts (bench:policy), but the real tier's cell four at a time, with another lab
 * cell beside it, had 10 s rounds and failed deny-all-ingress on allowed probes timing out: four sets on
 * two cores leave no headroom for load.
 */
export function defaultPolicyConcurrency(nodes: number, cpus = availableParallelism()): number {
  return Math.max(1, Math.min(8, 2 * Math.max(1, nodes), Math.max(1, cpus)));
}
