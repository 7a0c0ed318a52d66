/**
 * In-memory doubles of the pipeline's dependencies: a cluster provider whose clusters are names in a set,
 * and phase bodies that record their calls and fail on demand (throw, hang, or report a failed check).
 */
import type { NodeShell } from '../../../harness/cluster/node-shell.js';
import type { RunPhase } from '../../../harness/model/results.js';
import type {
  ClusterHandle,
  ClusterNode,
  PipelineDeps,
  StepContext,
  SuiteRun,
} from '../../../harness/pipeline/deps.js';
import type { PreflightReport } from '../../../harness/preflight/preflight.js';

export type Failure = 'throw' | 'hang' | 'fail-check';

export interface MemoryDeps extends PipelineDeps {
  calls: string[];
  live: Set<string>;
  created: string[];
}

/** A node shell on which every command succeeds with no output. */
export const okShell = (node: string): NodeShell => ({
  node,
  exec: async (argv) => ({
    command: argv[0] ?? '',
    args: argv.slice(1),
    exitCode: 0,
    stdout: '',
    stderr: '',
    timedOut: false,
    durationMs: 1,
  }),
});

export function memoryDeps(fail: Partial<Record<RunPhase, Failure>> = {}): MemoryDeps {
  const calls: string[] = [];
  const live = new Set<string>();
  const created: string[] = [];
  let n = 0;
  const act = async (phase: RunPhase, step: StepContext): Promise<void> => {
    calls.push(`${phase}:${step.cell.id}`);
    step.log(`${phase} working`);
    const f = fail[phase];
    if (f === 'throw') throw new Error(`${phase} broke (injected)`);
    if (f === 'hang')
      await new Promise<void>((resolve) => {
        step.signal.addEventListener('abort', () => resolve(), { once: true });
      });
  };
  const suite = async (phase: RunPhase, step: StepContext): Promise<SuiteRun> => {
    await act(phase, step);
    return {
      checks: [
        { name: `${phase} check 1`, outcome: 'passed', durationMs: 1 },
        fail[phase] === 'fail-check'
          ? {
              name: `${phase} check 2`,
              outcome: 'failed',
              durationMs: 1,
              message: 'expected allowed, saw denied',
            }
          : { name: `${phase} check 2`, outcome: 'passed', durationMs: 1 },
      ],
      evidence: [`${phase} ran`],
    };
  };
  const deps: MemoryDeps = {
    calls,
    live,
    created,
    provider: {
      async create(req) {
        calls.push(`create:${req.name}`);
        if (fail['create-cluster'] === 'throw') throw new Error('kind create cluster failed (injected)');
        if (fail['create-cluster'] === 'hang')
          await new Promise<void>((resolve) =>
            req.signal?.addEventListener('abort', () => resolve(), { once: true }),
          );
        live.add(req.name);
        created.push(req.name);
        return handle(req.name);
      },
      async attach(path) {
        calls.push(`attach:${path}`);
        const h = handle('existing');
        return { ...h, dispose: async () => [] };
      },
    },
    clusterNameFor: (cell) => `cc-${cell.id}-${++n}`,
    kindConfig: (cell, name) => `kind: Cluster\nname: ${name}\n# ${cell.id}\n`,
    render: async (cell) => ({
      files: [{ name: 'calico.yaml', content: `# ${cell.id}\n` }],
      applyPlan: [],
      objects: [],
    }),
    prepareTopology: async () => [],
    collectBaseline: async (shell) => {
      if (fail.baseline === 'throw') throw new Error('baseline broke (injected)');
      return `abc  /opt/cni/bin/loopback\n# ${shell.node}\n`;
    },
    collectNodeDump: async (shell) => ({ node: shell.node, files: { 'ip-link.json': '[]' }, notes: {} }),
    writeNodeDump: () => {},
    install: async (step) => {
      await act('install', step);
      return ['installed'];
    },
    verify: (step) => suite('verify', step),
    runSuite: (name, step) => suite(name === 'mode' ? 'verify' : name, step),
    uninstall: async (step) => {
      await act('uninstall', step);
      return ['uninstalled'];
    },
    completeUninstall: async (step) => {
      await act('complete-uninstall', step);
      return ['cleaned'];
    },
    // both audits come here: the dump directory says which (node-dump, node-dump-final)
    audit: async (step, _dumps, dir) => {
      const phase: RunPhase = dir.endsWith('node-dump-final') ? 'final-audit' : 'audit';
      await act(phase, step);
      return fail[phase] === 'fail-check'
        ? {
            clean: false,
            findings: [
              {
                // no known-leftovers baseline entry expects a WireGuard device: a new leftover
                node: step.nodes[0]?.name ?? 'n',
                category: 'interface',
                rule: 'calico-device',
                name: 'wireguard.cali',
                detail: 'wireguard flags <POINTOPOINT,NOARP,UP,LOWER_UP>',
                remediation: 'ip link del wireguard.cali',
              },
            ],
            notChecked: [],
            complete: true,
          }
        : { clean: true, findings: [], notChecked: [], complete: true };
    },
    collectDiagnostics: async () => 'pods and nodes',
  };

  function handle(name: string): ClusterHandle {
    return {
      name,
      kubeconfigPath: `/tmp/${name}.kubeconfig`,
      nodes: async () => twoNodes(name),
      shell: okShell,
      dispose: async ({ keep }) => {
        calls.push(`dispose:${name}${keep ? ':keep' : ''}`);
        if (fail.teardown === 'throw') return [`kind cluster ${name}: delete failed (injected)`];
        if (!keep) live.delete(name);
        return keep ? [`kind cluster ${name}`] : [];
      },
    };
  }
  return deps;
}

/** A kind cluster's two nodes, as its node containers are named. */
export function twoNodes(cluster: string): ClusterNode[] {
  return [
    {
      name: `${cluster}-control-plane`,
      container: `${cluster}-control-plane`,
      role: 'control-plane',
      internalIP: '172.18.0.2',
    },
    { name: `${cluster}-worker`, container: `${cluster}-worker`, role: 'worker', internalIP: '172.18.0.3' },
  ];
}

export function okPreflight(ipip = true): PreflightReport {
  return {
    docker: { ok: true, version: '27.0.0' },
    kind: { ok: true, version: '0.31.0' },
    ipip: {
      available: ipip,
      support: ipip ? 'loaded' : 'absent',
      evidence: [],
      reason: ipip ? '' : 'the host kernel (test) has no ipip support (CONFIG_NET_IPIP is not set)',
    },
    evidence: ['docker: server 27.0.0', 'kind: 0.31.0'],
  };
}
