/** A cluster double for the upgrade flow: components flip from A to B after the apply; every call is logged with its virtual time. */
import type { Finding } from '../../../harness/audit/finding.js';
import type { Cell } from '../../../harness/config/cell.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import type { ProbeKey, ProbeRecord } from '../../../harness/probe/types.js';
import type { PhaseResult } from '../../../harness/report/model.js';
import type {
  SuitePhase,
  UpgradeAction,
  UpgradeCluster,
  UpgradeDeps,
  WatchedPair,
  WorkloadSnapshot,
} from '../../../harness/upgrade/deps.js';
import type { UpgradePath } from '../../../harness/upgrade/timeline.js';
import { FakeClock } from './fake-clock.js';
import { workload } from './workloads.js';

export function cell(version: string, install: 'manifest' | 'operator'): Cell {
  return buildMatrix({ flags: { calicoVersion: version, install, encapsulation: 'IPIP' } })[0]!;
}

export const ALLOWED: WatchedPair = {
  key: { from: 'x/a', to: 'y/b', port: 80, protocol: 'TCP' },
  expect: 'allowed',
};
export const DENIED: WatchedPair = {
  key: { from: 'x/a', to: 'z/c', port: 80, protocol: 'TCP' },
  expect: 'denied',
};

export interface SimOptions {
  path: UpgradePath;
  from: string;
  to: string;
  /** ms after the last upgrade step until the components run B (Infinity: never) */
  rolloutMs?: number;
  /** a component that stays on A */
  stuck?: string;
  /** windows (ms after the upgrade began) in which the allowed pair fails / the denied pair connects */
  outage?: [number, number];
  failOpen?: [number, number];
  /** the denied pair connects before the upgrade too (policy never programmed) */
  neverConverges?: boolean;
  installFails?: boolean;
  /** what the audit after the upstream uninstall / after the complete uninstall finds */
  upstreamFindings?: Finding[];
  finalFindings?: Finding[];
}

/** A cluster double: the components flip from A to B `rolloutMs` after the upgrade; every call is logged. */
export function simulate(o: SimOptions) {
  const clock = new FakeClock();
  const calls: string[] = [];
  const log: string[] = [];
  let upgradedAt = Number.POSITIVE_INFINITY;
  let upgradeBegan = Number.POSITIVE_INFINITY;
  const rolloutMs = o.rolloutMs ?? 30_000;
  const at = (what: string) => calls.push(`${clock.now()} ${what}`);
  const inWindow = (w: [number, number] | undefined) => {
    const rel = clock.now() - upgradeBegan;
    return w !== undefined && rel >= w[0] && rel < w[1];
  };
  const verdict = (k: ProbeKey): ProbeRecord['verdict'] => {
    if (k.to === 'y/b') return inWindow(o.outage) ? 'timeout' : 'connected';
    return o.neverConverges || inWindow(o.failOpen) ? 'connected' : 'timeout';
  };
  const versionNow = (component: string) =>
    clock.now() >= upgradedAt && component !== o.stuck ? o.to : o.from;
  const components = (namespaces: readonly string[]): WorkloadSnapshot[] => {
    const onB = clock.now() >= upgradedAt;
    const operatorSide = o.path !== 'manifest';
    const out: WorkloadSnapshot[] = [];
    const kubeSystemGone = o.path === 'manifest-to-operator' && onB;
    if (
      namespaces.includes('kube-system') &&
      (o.path === 'manifest' || o.path === 'manifest-to-operator') &&
      !kubeSystemGone
    ) {
      const v = o.path === 'manifest' ? versionNow('calico-node') : o.from;
      out.push(workload('kube-system', 'DaemonSet', 'calico-node', [`quay.io/calico/node:${v}`]));
      out.push(
        workload(
          'kube-system',
          'Deployment',
          'calico-kube-controllers',
          [
            `quay.io/calico/kube-controllers:${o.path === 'manifest' ? versionNow('calico-kube-controllers') : o.from}`,
          ],
          1,
        ),
      );
    }
    if (operatorSide && namespaces.includes('calico-system') && (o.path === 'operator' || onB)) {
      out.push(
        workload(
          'tigera-operator',
          'Deployment',
          'tigera-operator',
          [`quay.io/tigera/operator:${onB ? 'v1.42.3' : 'v1.40.15'}`],
          1,
        ),
      );
      for (const [kind, name] of [
        ['DaemonSet', 'calico-node'],
        ['Deployment', 'calico-typha'],
        ['Deployment', 'calico-kube-controllers'],
        ['DaemonSet', 'csi-node-driver'],
      ] as const) {
        out.push(workload('calico-system', kind, name, [`quay.io/calico/${name}:${versionNow(name)}`]));
      }
    }
    return out;
  };
  const phase = (name: PhaseResult['name']): PhaseResult => ({
    name,
    outcome: 'passed',
    startedAt: clock.iso(),
    durationMs: 1,
    evidence: [],
    checks: [],
  });
  const deps: UpgradeDeps = {
    clock,
    log: (l) => log.push(l),
    async createCluster(c) {
      at(`createCluster ${c.calicoVersion}`);
      return { name: 'cc-upgrade-1' };
    },
    async install(_cl: UpgradeCluster, c) {
      at(`install ${c.calicoVersion} ${c.install}`);
      if (o.installFails) throw new Error('calico-node never became ready');
      await clock.sleep(60_000);
    },
    async startTraffic(_cl, c) {
      at(`startTraffic ${c.calicoVersion}`);
      return {
        pairs: [ALLOWED, DENIED],
        probeOnce: async (keys) => {
          const records = keys.map((k) => ({ ...k, verdict: verdict(k), durationMs: 5 }));
          await clock.sleep(50);
          return records;
        },
        dispose: async () => {
          at('disposeTraffic');
        },
      };
    },
    async applyUpgrade(_cl, a: UpgradeAction) {
      at(
        `apply ${a.kind} ${a.cell.calicoVersion}${a.kind === 'create-installation' ? ` ${JSON.stringify(a.spec)}` : ''}`,
      );
      upgradeBegan = Math.min(upgradeBegan, clock.now());
      upgradedAt = clock.now() + rolloutMs;
    },
    async readWorkloads(_cl, namespaces) {
      return components(namespaces);
    },
    async runSuite(_cl, p: SuitePhase, c) {
      at(`suite ${p} ${c.calicoVersion} ${c.install}`);
      return phase(p);
    },
    async uninstall(_cl, c) {
      at(`uninstall ${c.calicoVersion}`);
      return phase('uninstall');
    },
    async audit(_cl, _c, stage) {
      at(`audit ${stage}`);
      const findings = (stage === 'upstream' ? o.upstreamFindings : o.finalFindings) ?? [];
      return {
        report: { clean: findings.length === 0, findings, notChecked: [], complete: true },
        dumps: [],
        where: `node dumps of the ${stage} audit`,
      };
    },
    async completeUninstall() {
      at('completeUninstall');
      return ['cleaned every node'];
    },
    async deleteCluster(cl) {
      at(`deleteCluster ${cl.name}`);
    },
  };
  return { clock, calls, log, deps };
}
