/**
 * A cluster double for the upgrade: the run pipeline's deps (cluster, install, suites, uninstall, audits)
 * and the upgrade phase's own (traffic, steps, workload reads) over one fake clock. The components flip
 * from A to B `rolloutMs` after the upgrade; every call is logged with its virtual time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cell } from '../../../harness/config/cell.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import type { Finding } from '../../../harness/model/audit.js';
import type { ProbeKey, ProbeRecord } from '../../../harness/model/connectivity.js';
import type { CellResult, CheckResult } from '../../../harness/model/results.js';
import { type CellRunOptions, runCell } from '../../../harness/pipeline/cell.js';
import {
  type ClusterHandle,
  type PipelineDeps,
  type StepContext,
  type SuiteRun,
  silentProgress,
} from '../../../harness/pipeline/deps.js';
import type {
  UpgradeAction,
  UpgradeDeps,
  WatchedPair,
  WorkloadSnapshot,
} from '../../../harness/upgrade/deps.js';
import { type UpgradeOptions, upgradeCell, upgradeStage } from '../../../harness/upgrade/phase.js';
import type { UpgradePath } from '../../../harness/upgrade/timeline.js';
import { okPreflight, okShell, twoNodes } from '../pipeline/doubles.js';
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

export type SuiteName = 'verify' | 'connectivity' | 'policy';

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
  /** the audit after the upstream uninstall cannot finish */
  auditThrows?: boolean;
  /** what the audit after the upstream uninstall / after the complete uninstall finds */
  upstreamFindings?: Finding[];
  finalFindings?: Finding[];
  /** the checks a suite reports (default: one passed check) */
  suiteChecks?: Partial<Record<SuiteName, CheckResult[]>>;
  /** what a suite recorded for the results model (grids, probe records, policy results), as a vitest run returns it */
  suiteData?: Partial<Record<SuiteName, Omit<SuiteRun, 'checks' | 'evidence'>>>;
  /** the wait for B never ends until the phase is stopped; `onWaiting` is called at its first poll */
  hangWaitingForB?: boolean;
  onWaiting?: () => void;
}

/** A cluster double: the components flip from A to B `rolloutMs` after the upgrade; every call is logged. */
export function simulate(o: SimOptions) {
  const clock = new FakeClock();
  const calls: string[] = [];
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

  const suite = async (name: SuiteName, step: StepContext): Promise<SuiteRun> => {
    at(`suite ${name} ${step.cell.calicoVersion} ${step.cell.install}`);
    return {
      checks: o.suiteChecks?.[name] ?? [{ name: `${name}: works`, outcome: 'passed', durationMs: 1 }],
      evidence: [`${name} double`],
      ...o.suiteData?.[name],
    };
  };
  const handle = (name: string): ClusterHandle => ({
    name,
    kubeconfigPath: `/tmp/${name}.kubeconfig`,
    nodes: async () => twoNodes(name),
    shell: okShell,
    dispose: async ({ keep }) => {
      at(`${keep ? 'keepCluster' : 'deleteCluster'} ${name}`);
      return keep ? [`kind cluster ${name}`] : [];
    },
  });

  const deps: PipelineDeps = {
    provider: {
      async create(req) {
        at(`createCluster ${req.name}`);
        return handle(req.name);
      },
      async attach() {
        throw new Error('the upgrade double has no existing clusters');
      },
    },
    clusterNameFor: () => 'cc-upgrade-1',
    kindConfig: (c, name) => `kind: Cluster\nname: ${name}\n# ${c.id}\n`,
    render: async (c) => ({
      files: [
        { name: c.install === 'manifest' ? 'calico.yaml' : 'tigera-operator.yaml', content: `# ${c.id}\n` },
      ],
      applyPlan: [],
      objects: [],
    }),
    prepareTopology: async () => [],
    collectBaseline: async () => 'abc  /opt/cni/bin/loopback\n',
    collectNodeDump: async (shell) => ({ node: shell.node, files: { 'ip-link.json': '[]' }, notes: {} }),
    writeNodeDump: () => {},
    async install(step) {
      at(`install ${step.cell.calicoVersion} ${step.cell.install}`);
      if (o.installFails) throw new Error('calico-node never became ready');
      await clock.sleep(60_000);
      return [`installed ${step.cell.calicoVersion}`];
    },
    verify: (step) => suite('verify', step),
    runSuite: (name, step) => suite(name === 'mode' ? 'verify' : name, step),
    async uninstall(step) {
      at(`uninstall ${step.cell.calicoVersion}`);
      return ['uninstalled'];
    },
    async completeUninstall() {
      at('completeUninstall');
      return ['cleaned every node'];
    },
    async audit(_step, _dumps, dir) {
      const stage = dir.endsWith('node-dump-final') ? 'complete' : 'upstream';
      at(`audit ${stage}`);
      if (stage === 'upstream' && o.auditThrows) throw new Error('the API server went away');
      const findings = (stage === 'upstream' ? o.upstreamFindings : o.finalFindings) ?? [];
      return { clean: findings.length === 0, findings, notChecked: [], complete: true };
    },
    async collectDiagnostics() {
      at('diagnostics');
      return 'pods and nodes';
    },
  };

  let waiting = false;
  const upgradeDeps: UpgradeDeps = {
    clock,
    async startTraffic(step) {
      at(`startTraffic ${step.cell.calicoVersion}`);
      return {
        pairs: [ALLOWED, DENIED],
        probeOnce: async (keys) => {
          // as the prober does, each record carries the command that repeats it by hand
          const records = keys.map((k) => ({
            ...k,
            verdict: verdict(k),
            durationMs: 5,
            command: `kubectl exec -n ${k.from.split('/')[0]} ${k.from.split('/')[1]} -- probe ${k.to} ${k.protocol}/${k.port}`,
          }));
          await clock.sleep(50);
          return records;
        },
        dispose: async () => {
          at('disposeTraffic');
        },
        report: () => ['traffic rounds: the double'],
      };
    },
    async applyUpgrade(_step, a: UpgradeAction) {
      at(
        `apply ${a.kind} ${a.cell.calicoVersion}${a.kind === 'create-installation' ? ` ${JSON.stringify(a.spec)}` : ''}`,
      );
      upgradeBegan = Math.min(upgradeBegan, clock.now());
      upgradedAt = o.hangWaitingForB ? Number.POSITIVE_INFINITY : clock.now() + rolloutMs;
    },
    async readWorkloads(_step, namespaces) {
      if (o.hangWaitingForB && !waiting) {
        waiting = true;
        o.onWaiting?.();
      }
      return components(namespaces);
    },
  };

  return { clock, calls, deps, upgradeDeps };
}

const root = mkdtempSync(join(tmpdir(), 'cc-upgrade-unit-'));
let runs = 0;
/** Removes every results directory the runs of this module wrote (call in afterAll). */
export function removeSimDirs(): void {
  rmSync(root, { recursive: true, force: true });
}

/** Options of an upgrade A → B on a path, with the sim's timeouts. */
export function upgradeOptions(path: UpgradePath, from: string, to: string): UpgradeOptions {
  return {
    from: cell(from, path === 'operator' ? 'operator' : 'manifest'),
    to: cell(to, path === 'manifest' ? 'manifest' : 'operator'),
    path,
    probeIntervalMs: 250,
    timeouts: { convergeMs: 60_000, targetMs: 120_000, pollMs: 2_000, preUpgradeMs: 5_000, settleMs: 10_000 },
  };
}

/** The upgrade through the run pipeline (runCell with the upgrade phase), on the doubles of `sim`. */
export function runUpgrade(
  opts: UpgradeOptions,
  sim: ReturnType<typeof simulate>,
  extra: Partial<CellRunOptions> = {},
): Promise<CellResult> {
  return runCell(upgradeCell(opts), sim.deps, {
    reportDir: join(root, `r${++runs}`),
    preflight: okPreflight(),
    progress: silentProgress,
    upgrade: upgradeStage(opts, sim.upgradeDeps),
    ...extra,
  });
}
