/**
 * The e2e doubles: a cluster provider whose "kind nodes" are real docker containers from the test node
 * image on a docker network the test created, and a Calico/Kubernetes double that does to those nodes what
 * Calico does to kind nodes (a vxlan.calico device, 10-calico.conflist, cali- iptables chains), checks it
 * the way the suites would, and removes it on uninstall. The node dumps and the leftover audit are the
 * real ones (harness/audit), reading the real kernel state of the containers.
 *
 * No vitest import here: the SIGINT test runs this in a child process (run-child.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectBaseline } from '../../../harness/audit/collect.js';
import { completeUninstallNode } from '../../../harness/audit/complete-uninstall.js';
import { auditReport } from '../../../harness/audit/rules.js';
import { renderKindConfig } from '../../../harness/cluster/kind-config.js';
import { DockerNodeShell, type NodeShell } from '../../../harness/cluster/node-shell.js';
import { defaultRunner, shellWord } from '../../../harness/exec/process.js';
import type { ProbeRecord } from '../../../harness/model/connectivity.js';
import type { CheckResult, RunPhase } from '../../../harness/model/results.js';
import {
  DUMP_COMMANDS,
  type DumpCommandFile,
  type NodeDump,
  writeNodeDump,
} from '../../../harness/node-state/dump.js';
import type {
  ClusterHandle,
  ClusterNode,
  ClusterProvider,
  PipelineDeps,
  StepContext,
  SuiteRun,
} from '../../../harness/pipeline/deps.js';
import type { PreflightReport } from '../../../harness/preflight/preflight.js';

export const TEST_IMAGE = process.env.TEST_NODE_IMAGE ?? 'calico-conformance-testnode:latest';
export const BED_LABEL = 'calico-conformance.test';
export const CLUSTER_LABEL = 'calico-conformance.e2e-cluster';

/** throw: the phase fails with an exception; hang: it waits until aborted; leave: uninstall leaves a table ip calico */
export type Injected = 'throw' | 'hang' | 'leave';
export type Failures = Partial<Record<RunPhase, Injected>>;

export interface BedOptions {
  /** docker network the nodes join (created by the test) */
  network: string;
  /** value of the bed's label, so the bed's own dispose() finds stragglers */
  bedId: string;
  /** touched when a hanging phase starts hanging (the SIGINT test waits for it) */
  hangMarker?: string;
}

async function docker(args: string[], timeoutMs = 60_000) {
  return defaultRunner.run('docker', args, { timeoutMs });
}

/** Containers of one cluster (by the e2e label). */
export async function clusterContainers(filterValue: string): Promise<string[]> {
  const r = await docker([
    'ps',
    '-a',
    '--filter',
    `label=${CLUSTER_LABEL}${filterValue ? `=${filterValue}` : ''}`,
    '--format',
    '{{.Names}}',
  ]);
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

export class BedClusterProvider implements ClusterProvider {
  /** every cluster name this provider created */
  readonly created: string[] = [];

  constructor(
    private readonly opts: BedOptions,
    /** the failures injected into the cluster of this name (the deps map names to cells) */
    readonly failFor: (clusterName: string) => Failures = () => ({}),
  ) {}

  async create(req: { name: string; signal?: AbortSignal }): Promise<ClusterHandle> {
    const failNow = this.failFor(req.name);
    const nodes: ClusterNode[] = [];
    const started: string[] = [];
    try {
      for (const role of ['control-plane', 'worker'] as const) {
        const name = `${req.name}-${role}`;
        started.push(name);
        const r = await docker([
          'run',
          '-d',
          '--name',
          name,
          '--hostname',
          name,
          '--label',
          `${BED_LABEL}=${this.opts.bedId}`,
          '--label',
          `${CLUSTER_LABEL}=${req.name}`,
          '--cap-add',
          'NET_ADMIN',
          '--cap-add',
          'NET_RAW',
          '--cap-add',
          'SYS_ADMIN',
          '--network',
          this.opts.network,
          TEST_IMAGE,
          'sleep',
          'infinity',
        ]);
        if (r.exitCode !== 0) throw new Error(`docker run ${name}: ${r.stderr.trim()}`);
        const ip = await docker([
          'inspect',
          '-f',
          `{{(index .NetworkSettings.Networks "${this.opts.network}").IPAddress}}`,
          name,
        ]);
        nodes.push({ name, container: name, role, internalIP: ip.stdout.trim() });
        if (failNow['create-cluster'] === 'throw')
          throw new Error('kind create cluster: node failed to join (injected)');
      }
    } catch (err) {
      // like kind, a failed create removes what it started
      await docker(['rm', '-f', ...started]);
      throw err;
    }
    this.created.push(req.name);
    const fail = failNow;
    let disposed = false;
    return {
      name: req.name,
      kubeconfigPath: `/nonexistent/${req.name}.kubeconfig`,
      nodes: async () => nodes,
      shell: (n) => new DockerNodeShell(n, n),
      async dispose({ keep }) {
        if (disposed) return [];
        disposed = true;
        if (keep) return [`cluster ${req.name}`];
        if (fail.teardown === 'throw')
          return nodes.map((n) => `container ${n.container}: delete failed (injected)`);
        const r = await docker(['rm', '-f', '-v', ...nodes.map((n) => n.container)]);
        return r.exitCode === 0 ? [] : [`containers of ${req.name}: ${r.stderr.trim()}`];
      },
    };
  }

  async attach(): Promise<ClusterHandle> {
    throw new Error('the e2e provider has no existing clusters');
  }
}

const CONFLIST = '/etc/cni/net.d/10-calico.conflist';

async function onEveryNode(step: StepContext, argv: string[]): Promise<void> {
  for (const n of step.nodes) {
    const r = await step.cluster.shell(n.name).exec(argv, { timeoutMs: 30_000 });
    if (r.exitCode !== 0)
      throw new Error(`${n.name}: ${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.trim()}`);
  }
}

function check(name: string, ok: boolean, detail: string): CheckResult {
  return { name, outcome: ok ? 'passed' : 'failed', durationMs: 0, ...(ok ? {} : { message: detail }) };
}

/** The Calico and Kubernetes double, acting on the real node containers. */
export function bedDeps(
  bed: BedOptions,
  failFor: (cellId: string) => Failures = () => ({}),
): PipelineDeps & { calls: string[]; provider: BedClusterProvider } {
  const calls: string[] = [];
  const cellOf = new Map<string, string>();
  const provider = new BedClusterProvider(bed, (name) => failFor(cellOf.get(name) ?? ''));
  const opts = { hangMarker: bed.hangMarker };
  let n = 0;
  const run = Math.random().toString(16).slice(2, 6);
  const gate = async (phase: RunPhase, step: StepContext) => {
    calls.push(`${step.cell.id}:${phase}`);
    const f = failFor(step.cell.id)[phase];
    if (f === 'throw') throw new Error(`${phase} failed (injected)`);
    if (f === 'hang') {
      step.log(`${phase}: waiting for something that never comes (injected)`);
      if (opts.hangMarker) writeFileSync(opts.hangMarker, phase);
      await new Promise<void>((resolve) =>
        step.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      throw step.signal.reason;
    }
  };
  return {
    calls,
    provider,
    clusterNameFor: (cell) => {
      const name = `cc-e2e-${bed.bedId}-${run}-${++n}`;
      cellOf.set(name, cell.id);
      return name;
    },
    kindConfig: (cell, clusterName) => renderKindConfig(cell, { clusterName }),
    render: async (cell) => ({
      files: [{ name: 'calico.yaml', content: `# double of calico.yaml for ${cell.id}\n` }],
      applyPlan: [],
      objects: [],
    }),
    prepareTopology: async () => [],
    async collectBaseline(shell) {
      const cellId = [...cellOf.entries()].find(([name]) => shell.node.startsWith(`${name}-`))?.[1] ?? '';
      if (failFor(cellId).baseline === 'throw') throw new Error('baseline failed (injected)');
      return collectBaseline(shell);
    },
    collectNodeDump: (shell, baseline) => batchedDump(shell, baseline),
    writeNodeDump: (dir, dump) => void writeNodeDump(dir, dump),
    async install(step) {
      await gate('install', step);
      await onEveryNode(step, [
        'sh',
        '-ec',
        'ip link add vxlan.calico type vxlan id 4096 dstport 4789 dev eth0; ip link set vxlan.calico up; ' +
          `mkdir -p /etc/cni/net.d; echo '{"name":"k8s-pod-network","plugins":[{"type":"calico"}]}' > ${CONFLIST}; ` +
          'iptables -N cali-FORWARD',
      ]);
      return [`planted vxlan.calico, ${CONFLIST} and cali-FORWARD on ${step.nodes.length} nodes`];
    },
    async verify(step): Promise<SuiteRun> {
      await gate('verify', step);
      const checks: CheckResult[] = [];
      for (const node of step.nodes) {
        const r = await step.cluster
          .shell(node.name)
          .exec(['ip', '-d', '-j', 'link', 'show', 'vxlan.calico']);
        const link =
          r.exitCode === 0
            ? (JSON.parse(r.stdout) as { linkinfo?: { info_data?: { id?: number } } }[])[0]
            : undefined;
        checks.push(
          check(
            `${node.name}: vxlan.calico has VNI 4096`,
            link?.linkinfo?.info_data?.id === 4096,
            r.stderr.trim() || 'no vxlan.calico',
          ),
        );
      }
      return { checks, evidence: ['read ip -d -j link show vxlan.calico on every node'] };
    },
    async runSuite(name, step): Promise<SuiteRun> {
      await gate(name === 'mode' ? 'verify' : name, step);
      const checks: CheckResult[] = [];
      if (name === 'connectivity') {
        const probes: ProbeRecord[] = [];
        for (const from of step.nodes)
          for (const to of step.nodes.filter((t) => t !== from)) {
            const r = await step.cluster
              .shell(from.name)
              .exec(['ping', '-c', '1', '-W', '2', to.internalIP], { timeoutMs: 10_000 });
            // a ping recorded as the real MTU check records its pings: port 1, the target named by its mode
            probes.push({
              from: from.name,
              to: `${to.name}#ping`,
              port: 1,
              protocol: 'TCP',
              verdict: r.exitCode === 0 ? 'connected' : 'timeout',
              durationMs: 0,
              check: 'node-to-node-ping',
            });
            checks.push(
              check(`${from.name} → ${to.name} ICMP`, r.exitCode === 0, `ping exited ${r.exitCode}`),
            );
          }
        return {
          checks,
          evidence: [`${name} double: ${checks.length} checks on real nodes`],
          probes,
        };
      }
      for (const node of step.nodes) {
        const r = await step.cluster.shell(node.name).exec(['iptables', '-S', 'cali-FORWARD']);
        checks.push(check(`${node.name}: cali-FORWARD programmed`, r.exitCode === 0, r.stderr.trim()));
      }
      return {
        checks,
        evidence: [`${name} double: ${checks.length} checks on real nodes`],
        policy: [
          { name: 'default-deny', tags: [], outcome: 'passed', timeToEnforceMs: 120, rounds: 3, grids: [] },
        ],
      };
    },
    async uninstall(step) {
      await gate('uninstall', step);
      // like a real uninstall, what is already absent (a half install) is not an error
      await onEveryNode(step, [
        'sh',
        '-c',
        'ip link del vxlan.calico 2>/dev/null; iptables -X cali-FORWARD 2>/dev/null; true',
      ]);
      await onEveryNode(step, ['rm', '-f', CONFLIST]);
      // an uninstall that leaves what upstream's does not: Felix's nftables table (a regression)
      if (failFor(step.cell.id).uninstall === 'leave')
        await onEveryNode(step, ['nft', 'add', 'table', 'ip', 'calico']);
      return ['removed what install planted'];
    },
    // the real complete uninstall on the real containers (no API here; kubelet is not running in them)
    async completeUninstall(step, baseline) {
      await gate('complete-uninstall', step);
      const reports = await Promise.all(
        step.nodes.map((n) => {
          const b = baseline(n.name);
          return completeUninstallNode(step.cluster.shell(n.name), {
            restartKubelet: false,
            collect: (shell) => batchedDump(shell, b),
          });
        }),
      );
      const lines = reports.flatMap((r) => r.steps.map((s) => `${r.node}: ${s.action}: ${s.outcome}`));
      const incomplete = reports.filter((r) => !r.complete).map((r) => r.node);
      if (incomplete.length) throw new Error(`complete uninstall incomplete on ${incomplete.join(', ')}`);
      return lines;
    },
    // both audits (the dump directory says which); the real rules on the real node dumps
    async audit(step, dumps, dir) {
      await gate(dir.endsWith('node-dump-final') ? 'final-audit' : 'audit', step);
      return auditReport({ dumps });
    },
    async collectDiagnostics(step, dir) {
      mkdirSync(dir, { recursive: true });
      for (const node of step.nodes) {
        const r = await step.cluster.shell(node.name).exec(['ip', '-d', 'link']);
        writeFileSync(join(dir, `${node.name}.ip-link.txt`), r.stdout);
      }
      return `ip -d link of ${step.nodes.length} nodes`;
    },
  };
}

export function bedPreflight(): PreflightReport {
  return {
    docker: { ok: true, version: 'test' },
    kind: { ok: true, version: 'double' },
    ipip: {
      available: false,
      support: 'absent',
      evidence: ['fake kernel: no ipip'],
      reason: 'the host kernel (test) has no ipip support',
    },
    evidence: ['docker: test', 'kind: double'],
  };
}

/**
 * The node dump (docs/contracts.md), every command of harness/node-state/dump.ts run in the node as one
 * `docker exec` (the harness's collector runs one exec per command; under --parallel on a 2-CPU runner that is most
 * of the test's time). Same commands, same files, same parsers and rules downstream.
 */
export async function batchedDump(shell: NodeShell, baseline: string | undefined): Promise<NodeDump> {
  const entries = Object.entries(DUMP_COMMANDS) as [DumpCommandFile, readonly string[]][];
  const script = entries
    .map(
      ([file, argv]) =>
        `echo '@@BEGIN ${file}'; ${argv.map(shellWord).join(' ')} 2>/dev/null; echo "@@END $?"`,
    )
    .join('\n');
  const r = await shell.exec(['sh', '-c', script], { timeoutMs: 60_000 });
  const dump: NodeDump = { node: shell.node, files: {}, notes: { unavailable: {} } };
  const re = /^@@BEGIN (\S+)\n([\s\S]*?)^@@END (\d+)$/gm;
  for (const m of r.stdout.matchAll(re)) {
    const file = m[1] as DumpCommandFile;
    const code = Number(m[3]);
    const partialOk = (file === 'files.txt' || file === 'cni-bin.sha256') && code === 1;
    if (code === 0 || partialOk) dump.files[file] = m[2] ?? '';
    else (dump.notes.unavailable as Record<string, string>)[file] = `exited ${code}`;
  }
  if (baseline !== undefined) dump.files['cni-bin-baseline.sha256'] = baseline;
  return dump;
}
