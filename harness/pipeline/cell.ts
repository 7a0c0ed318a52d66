/**
 * One cell through the pipeline: preflight → create cluster → baseline node dump → install → verify mode →
 * connectivity suite → policy suite → uninstall → audit (what the upstream uninstall left, against the
 * known-leftovers baseline) → complete uninstall → final audit (must be clean) → teardown. Each phase is a
 * small unit with one `execute` over a shared context (as kind's create actions, kubernetes-sigs/kind
 * pkg/cluster/internal/create/actions), records its start, duration, outcome and evidence, and runs under a
 * timeout that names what it waits for.
 *
 * Gates: once a main phase fails, the main phases after it are `not-run` with the reason; the cleanup
 * phases (uninstall, both audits, the complete uninstall, teardown) still run when there is a cluster to run them on, because
 * a half-installed Calico must still be removed and audited, and the cluster must still go away. After
 * SIGINT/SIGTERM only teardown runs.
 *
 * `upgrade` is this pipeline with one phase more (CellRunOptions.upgrade, harness/upgrade/phase.ts): install
 * puts Calico A on the cluster, the upgrade phase takes it to B under continuous traffic, and verify,
 * connectivity, policy, uninstall, both audits and teardown are these same phases on B.
 *
 * What counts as `failed` and what as `error`: a phase that exercises Calico (install, verify, suites,
 * uninstall, audits) fails when it throws or a check fails: that is the product misbehaving, or timing out
 * waiting for it. A phase of the harness's own plumbing (preflight, create cluster, baseline, complete
 * uninstall, teardown) that throws is an `error`: the cell could not be tested.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { completePhase, judgeComplete, judgeUpstream, upstreamPhase } from '../audit/verdict.js';
import type { Cell } from '../config/cell.js';
import {
  type CellResult,
  type CheckResult,
  CLEANUP_PHASES,
  type Outcome,
  PHASES,
  type PhaseName,
  type PhaseResult,
  RUN_PHASES,
  type RunPhase,
  type UntilPhase,
} from '../model/results.js';
import type { NodeDump } from '../node-state/dump.js';
import { cellSkipReason, type PreflightReport } from '../preflight/preflight.js';
import type {
  ClusterHandle,
  ClusterNode,
  PipelineDeps,
  ProgressSink,
  RenderedFiles,
  StepContext,
  SuiteRun,
  UpgradeStage,
} from './deps.js';
import {
  checksOutcome,
  describeLimits,
  failedChecksReason,
  InterruptedError,
  PhaseFailure,
  type PhaseLimits,
  withPhaseLimits,
} from './phase.js';
import type { SuiteContext } from './suite-context.js';

/**
 * Default time limits per phase. kind create of a 3-node cluster: 30–60 s with a cached image, plus up to
 * 90 s for the image pull on a fresh runner; Calico ready: 1–3 min, and Calico's own kind CI waits up to
 * 600 s for TigeraStatus Available (kind create times: kubernetes-sigs/kind#2893, helm/kind-action#28; Calico:
 * projectcalico/calico hack/test/kind/deploy_resources.sh).
 */
export const DEFAULT_LIMITS: Record<RunPhase, PhaseLimits> = {
  preflight: { timeoutMs: 60_000, waitingFor: 'the host checks (docker, kind, ipip)' },
  'create-cluster': {
    timeoutMs: 10 * 60_000,
    waitingFor: 'the kind cluster to be created with every node listed',
  },
  baseline: { timeoutMs: 3 * 60_000, waitingFor: 'the baseline node dump of every node (before Calico)' },
  install: { timeoutMs: 15 * 60_000, waitingFor: 'Calico installed and ready on every node' },
  verify: {
    timeoutMs: 10 * 60_000,
    waitingFor: 'the mode checks (the requested encapsulation really in effect)',
  },
  connectivity: { timeoutMs: 20 * 60_000, waitingFor: 'the connectivity suite' },
  policy: { timeoutMs: 40 * 60_000, waitingFor: 'the NetworkPolicy suite' },
  uninstall: { timeoutMs: 10 * 60_000, waitingFor: 'Calico removed (every object deleted and gone)' },
  audit: { timeoutMs: 5 * 60_000, waitingFor: 'the node dumps and the audit of what the uninstall left' },
  'complete-uninstall': {
    timeoutMs: 5 * 60_000,
    waitingFor: 'the complete uninstall inside every node and of the by-design API state',
  },
  'final-audit': {
    timeoutMs: 5 * 60_000,
    waitingFor: 'the node dumps and the audit after the complete uninstall',
  },
  teardown: { timeoutMs: 5 * 60_000, waitingFor: 'the cluster to be deleted' },
};

const isCleanup = (p: PhaseName): boolean => (CLEANUP_PHASES as readonly PhaseName[]).includes(p);

const PLUMBING: ReadonlySet<PhaseName> = new Set<PhaseName>([
  'preflight',
  'create-cluster',
  'baseline',
  'complete-uninstall',
  'teardown',
]);

/** A cluster shared by the cells of one `--reuse-cluster` group (or owned by one cell). */
export interface ClusterSlot {
  handle?: ClusterHandle;
  nodes?: ClusterNode[];
  /** `cni-bin` sha256 per node, taken right after creation (before any Calico) */
  baseline?: Map<string, string | undefined>;
  /** the cell that created the cluster */
  createdFor?: string;
  /** the cluster came from --kubeconfig: never deleted */
  attached?: boolean;
}

export interface CellRunOptions {
  reportDir: string;
  preflight: Pick<PreflightReport, 'evidence' | 'ipip'>;
  progress: ProgressSink;
  /** aborted by SIGINT/SIGTERM; the reason is the signal's name */
  signal?: AbortSignal;
  keepCluster?: boolean;
  /** `--until`: the last phase to run; later phases but teardown are skipped (the caller keeps the cluster) */
  until?: UntilPhase;
  /** `--policy-concurrency`: policy scenarios at once, each in its own namespace set (default from the nodes) */
  policyConcurrency?: number;
  /** run the complete uninstall and the final audit after the first audit (default true) */
  completeUninstall?: boolean;
  /** `--allow` items (validated by parseAllowList): allowed findings count in neither audit */
  auditAllow?: readonly string[];
  /** run against this existing cluster instead of creating one */
  kubeconfig?: string;
  skipInstall?: boolean;
  /** the cluster stays up for the next cell of a --reuse-cluster group */
  keepForNextCell?: boolean;
  /** the slot of a --reuse-cluster group; a fresh one per cell otherwise */
  slot?: ClusterSlot;
  limits?: Partial<Record<PhaseName, Partial<PhaseLimits>>>;
  namespacePrefix?: string;
  calicoctl?: string;
  policySelect?: string;
  index?: number;
  total?: number;
  /** receives what teardown could not remove (RunResults.leftBehind) */
  leftBehind?: string[];
  /** the upgrade command: install A, then this phase takes the cluster to the cell's version (B) */
  upgrade?: UpgradeStage;
}

/** What one phase body returns (beyond throwing). */
interface PhaseOutput {
  outcome?: Outcome;
  reason?: string;
  evidence?: string[];
  checks?: CheckResult[];
  /**
   * a failure that does not make the main phases after it pointless (the upgrade's measurement failed,
   * but every component runs B: the suites on B still tell something)
   */
  keepGoing?: boolean;
}

interface CellState {
  cell: Cell;
  /**
   * the cell whose Calico the cluster has, or gets at the next install: the cell itself for `run`; for
   * `upgrade`, A until the upgrade phase applies B's files, then the cell (B)
   */
  installed: Cell;
  cellDir: string;
  deps: PipelineDeps;
  opts: CellRunOptions;
  slot: ClusterSlot;
  result: CellResult;
  rendered?: RenderedFiles;
  /** the first main phase that did not pass */
  stopped?: { phase: PhaseName; reason: string };
  interrupted?: string;
  skipped?: string;
  phaseOf: Partial<Record<PhaseName, PhaseResult>>;
  leftBehind: string[];
}

type Gate = { run: true } | { run: false; outcome: Outcome; reason: string };

interface PhaseDef {
  name: PhaseName;
  gate(s: CellState): Gate;
  execute(s: CellState, step: StepContext, signal: AbortSignal): Promise<PhaseOutput>;
}

export function cellDirOf(reportDir: string, cellId: string): string {
  return join(reportDir, 'cells', cellId);
}

const RUN: Gate = { run: true };

function needsCluster(s: CellState): Gate | undefined {
  if (!s.slot.handle)
    return { run: false, outcome: 'not-run', reason: 'no cluster (create-cluster did not succeed)' };
  return undefined;
}

function installAttempted(s: CellState): boolean {
  const p = s.phaseOf.install;
  return p !== undefined && p.outcome !== 'not-run' && p.outcome !== 'skipped';
}

const PHASE_DEFS: PhaseDef[] = [
  {
    name: 'preflight',
    gate: () => RUN,
    async execute(s) {
      const reason = cellSkipReason(s.cell, s.opts.preflight);
      if (reason) {
        s.skipped = reason;
        return { outcome: 'skipped', reason, evidence: s.opts.preflight.evidence };
      }
      return { evidence: s.opts.preflight.evidence };
    },
  },
  {
    name: 'create-cluster',
    gate: () => RUN,
    async execute(s, step, signal) {
      const { deps, cell, slot } = s;
      if (slot.handle && !slot.attached) {
        step.log(`reusing cluster ${slot.handle.name}`);
        s.result.clusterName = slot.handle.name;
        return {
          outcome: 'skipped',
          reason: `--reuse-cluster: reusing ${slot.handle.name} (created for ${slot.createdFor})`,
          evidence: (slot.nodes ?? []).map((n) => `${n.role} ${n.name} ${n.internalIP}`),
        };
      }
      const evidence: string[] = [];
      if (s.opts.kubeconfig) {
        if (!slot.handle) {
          slot.handle = await deps.provider.attach(s.opts.kubeconfig);
          slot.attached = true;
        }
        evidence.push(
          `attached to the existing cluster ${slot.handle.name} (--kubeconfig ${s.opts.kubeconfig})`,
        );
      } else {
        const name = deps.clusterNameFor(cell);
        const kindConfigYaml = deps.kindConfig(cell, name);
        writeFileSync(join(s.cellDir, 'kind-config.yaml'), kindConfigYaml);
        step.log(`kind create cluster --name ${name}`);
        slot.handle = await deps.provider.create({
          name,
          kindConfigYaml,
          nodeImage: cell.nodeImage,
          signal,
          timeoutMs: limitsOf(s, 'create-cluster').timeoutMs,
          log: step.log,
        });
        slot.createdFor = cell.id;
        evidence.push(`created ${name} (node image ${cell.nodeImage})`);
      }
      s.result.clusterName = slot.handle.name;
      slot.nodes = await slot.handle.nodes();
      if (slot.nodes.length === 0) throw new Error(`cluster ${slot.handle.name} lists no nodes`);
      evidence.push(
        ...slot.nodes.map((n) => `${n.role} ${n.name} ${n.internalIP} (container ${n.container})`),
      );
      if (!slot.attached) evidence.push(...(await deps.prepareTopology(stepFor(s, signal, step.log))));
      return { evidence };
    },
  },
  {
    name: 'baseline',
    gate(s) {
      if (s.opts.skipInstall)
        return {
          run: false,
          outcome: 'skipped',
          reason: '--skip-install: Calico is already on the cluster, no pre-Calico baseline exists',
        };
      if (s.slot.baseline)
        return {
          run: false,
          outcome: 'skipped',
          reason: `--reuse-cluster: the baseline was taken when the cluster was created for ${s.slot.createdFor}`,
        };
      return RUN;
    },
    async execute(s, step) {
      const baseline = new Map<string, string | undefined>();
      const evidence: string[] = [];
      const dir = join(s.cellDir, 'baseline-dump');
      for (const n of step.nodes) {
        step.log(`baseline of ${n.name}`);
        const shell = step.cluster.shell(n.name);
        const sums = await s.deps.collectBaseline(shell);
        baseline.set(n.name, sums);
        const dump = await s.deps.collectNodeDump(shell, sums);
        s.deps.writeNodeDump(dir, dump);
        const missing = Object.keys(dump.notes.unavailable ?? {});
        evidence.push(
          `${n.name}: ${sums === undefined ? 'no /opt/cni/bin checksums' : `${sums.trim().split('\n').filter(Boolean).length} CNI binaries`}` +
            `${missing.length ? `; not available: ${missing.join(', ')}` : ''}`,
        );
      }
      s.slot.baseline = baseline;
      evidence.push(`written to ${rel(s, dir)}`);
      return { evidence };
    },
  },
  {
    name: 'install',
    gate(s) {
      if (s.opts.skipInstall)
        return {
          run: false,
          outcome: 'skipped',
          reason: '--skip-install: using the Calico already on the cluster',
        };
      return RUN;
    },
    async execute(s, step) {
      // an upgrade keeps A's files and B's apart: rendered/from/ and rendered/to/
      const { rendered, evidence } = await renderInto(s, s.installed, s.opts.upgrade ? 'from' : '', step);
      s.rendered = rendered;
      evidence.push(...(await s.deps.install({ ...step, rendered })));
      return { evidence };
    },
  },
  {
    // only in the upgrade command's phase list (phasesOf)
    name: 'upgrade',
    gate: () => RUN,
    async execute(s, step) {
      const stage = s.opts.upgrade as UpgradeStage;
      const { rendered, evidence } = await renderInto(s, s.cell, 'to', step);
      const out = await stage.run(step, {
        cell: s.cell,
        rendered,
        applying: () => {
          s.installed = s.cell;
          s.rendered = rendered;
        },
      });
      if (out.result) s.result.upgrade = out.result;
      return {
        outcome: out.outcome,
        ...(out.reason ? { reason: out.reason } : {}),
        evidence: [...evidence, ...out.evidence],
        ...(out.reachedTarget ? { keepGoing: true } : {}),
      };
    },
  },
  {
    name: 'verify',
    gate: () => RUN,
    async execute(s, step) {
      return suiteOutput(s, await s.deps.verify(step));
    },
  },
  {
    name: 'connectivity',
    gate: () => RUN,
    async execute(s, step) {
      return suiteOutput(s, await s.deps.runSuite('connectivity', step));
    },
  },
  {
    name: 'policy',
    gate: () => RUN,
    async execute(s, step) {
      return suiteOutput(s, await s.deps.runSuite('policy', step));
    },
  },
  {
    name: 'uninstall',
    gate(s) {
      if (s.opts.skipInstall)
        return {
          run: false,
          outcome: 'skipped',
          reason: '--skip-install: the Calico on the cluster is not ours to remove',
        };
      const noCluster = needsCluster(s);
      if (noCluster) return noCluster;
      if (!installAttempted(s)) return { run: false, outcome: 'not-run', reason: 'nothing was installed' };
      return RUN;
    },
    async execute(s, step) {
      return {
        evidence: await s.deps.uninstall({ ...step, ...(s.rendered ? { rendered: s.rendered } : {}) }),
      };
    },
  },
  {
    name: 'audit',
    gate(s) {
      if (s.opts.skipInstall)
        return {
          run: false,
          outcome: 'skipped',
          reason: '--skip-install: Calico is still installed, nothing to audit',
        };
      return needsCluster(s) ?? RUN;
    },
    async execute(s, step) {
      const dir = join(s.cellDir, 'node-dump');
      const dumps = await dumpNodes(s, step, dir);
      step.log('auditing against the known-leftovers baseline');
      const verdict = judgeUpstream(await s.deps.audit(step, dumps, dir), s.installed, {
        ...(s.opts.auditAllow ? { allow: s.opts.auditAllow } : {}),
      });
      s.result.audit = { ...s.result.audit, afterUpstreamUninstall: verdict };
      return auditOutput(upstreamPhase(verdict, `node dumps in ${rel(s, dir)}`));
    },
  },
  {
    name: 'complete-uninstall',
    gate(s) {
      if (s.opts.skipInstall)
        return { run: false, outcome: 'skipped', reason: '--skip-install: Calico is still installed' };
      if (s.opts.completeUninstall === false)
        return { run: false, outcome: 'skipped', reason: 'not requested (--no-complete-uninstall)' };
      return needsCluster(s) ?? RUN;
    },
    async execute(s, step) {
      return { evidence: await s.deps.completeUninstall(step, (node) => s.slot.baseline?.get(node)) };
    },
  },
  {
    name: 'final-audit',
    gate(s) {
      const clean = s.phaseOf['complete-uninstall'];
      if (!clean || clean.outcome === 'skipped' || clean.outcome === 'not-run')
        return {
          run: false,
          outcome: clean?.outcome === 'not-run' ? 'not-run' : 'skipped',
          reason: `the complete uninstall did not run${clean?.reason ? ` (${clean.reason})` : ''}`,
        };
      return needsCluster(s) ?? RUN;
    },
    async execute(s, step) {
      const dir = join(s.cellDir, 'node-dump-final');
      const dumps = await dumpNodes(s, step, dir);
      step.log('auditing after the complete uninstall');
      const verdict = judgeComplete(await s.deps.audit(step, dumps, dir), dumps, {
        ...(s.opts.auditAllow ? { allow: s.opts.auditAllow } : {}),
      });
      s.result.audit = { ...s.result.audit, afterCompleteUninstall: verdict };
      return auditOutput(completePhase(verdict, `node dumps in ${rel(s, dir)}`));
    },
  },
  {
    name: 'teardown',
    gate(s) {
      if (!s.slot.handle) return { run: false, outcome: 'skipped', reason: 'no cluster was created' };
      if (s.opts.keepForNextCell && !s.interrupted)
        return {
          run: false,
          outcome: 'skipped',
          reason: `--reuse-cluster: ${s.slot.handle.name} stays up for the next cell`,
        };
      return RUN;
    },
    async execute(s, step) {
      const handle = s.slot.handle!;
      const keep = s.slot.attached === true || s.opts.keepCluster === true;
      step.log(keep ? `keeping ${handle.name}` : `deleting ${handle.name}`);
      const left = await handle.dispose({ keep });
      s.slot.handle = undefined;
      s.slot.nodes = undefined;
      s.slot.baseline = undefined;
      // a kept cluster comes back as the list of what was kept on purpose: evidence, not a leftover
      if (keep) {
        if (left.length) s.opts.progress.log('info', `${s.cell.id}: kept ${left.join(', ')}`);
      } else if (left.length > 0) {
        s.leftBehind.push(...left);
        return { outcome: 'error', reason: `could not remove: ${left.join(', ')}`, evidence: left };
      }
      return {
        evidence: [
          s.slot.attached
            ? `left the existing cluster ${handle.name} as it was`
            : keep
              ? `kept ${handle.name} (--keep-cluster); kubeconfig ${handle.kubeconfigPath}`
              : `deleted ${handle.name}`,
        ],
      };
    },
  },
];

function limitsOf(s: CellState, phase: PhaseName): PhaseLimits {
  const base = phase === 'upgrade' ? (s.opts.upgrade as UpgradeStage).limits : DEFAULT_LIMITS[phase];
  return { ...base, ...(s.opts.limits?.[phase] ?? {}) };
}

/** The phases of a cell: run's, or with `upgrade` the upgrade command's. */
function phasesOf(opts: CellRunOptions): PhaseDef[] {
  return opts.upgrade ? PHASE_DEFS : PHASE_DEFS.filter((d) => d.name !== 'upgrade');
}

/** Renders a cell's files into `rendered/<sub>` and says so. */
async function renderInto(
  s: CellState,
  cell: Cell,
  sub: string,
  step: StepContext,
): Promise<{ rendered: RenderedFiles; evidence: string[] }> {
  step.log(`rendering ${cell.install} files for Calico ${cell.calicoVersion}`);
  const rendered = await s.deps.render(cell);
  const dir = join(s.cellDir, 'rendered', sub);
  mkdirSync(dir, { recursive: true });
  for (const f of rendered.files) writeFileSync(join(dir, f.name), f.content);
  return {
    rendered,
    evidence: [
      `rendered Calico ${cell.calicoVersion} (${cell.install}): ${rendered.files.map((f) => f.name).join(', ')} into ${rel(s, dir)}`,
    ],
  };
}

function rel(s: CellState, path: string): string {
  return path.startsWith(s.opts.reportDir) ? path.slice(s.opts.reportDir.length).replace(/^\/+/, '') : path;
}

function suiteContextOf(s: CellState): SuiteContext {
  return {
    cell: s.cell,
    clusterName: s.slot.handle?.name ?? '',
    kubeconfigPath: s.slot.handle?.kubeconfigPath ?? '',
    cellDir: s.cellDir,
    nodes: s.slot.nodes ?? [],
    namespacePrefix: s.opts.namespacePrefix ?? 'cc',
    ...(s.opts.calicoctl ? { calicoctl: s.opts.calicoctl } : {}),
    ...(s.opts.policySelect ? { policySelect: s.opts.policySelect } : {}),
    ...(s.opts.policyConcurrency ? { policyConcurrency: s.opts.policyConcurrency } : {}),
  };
}

function stepFor(s: CellState, signal: AbortSignal, log: (line: string) => void): StepContext {
  return {
    cell: s.installed,
    cellDir: s.cellDir,
    // phases that need the cluster are gated on it; create-cluster reads the slot itself
    cluster: s.slot.handle as ClusterHandle,
    nodes: s.slot.nodes ?? [],
    ...(s.rendered ? { rendered: s.rendered } : {}),
    signal,
    log,
    suiteContext: suiteContextOf(s),
  };
}

function suiteOutput(s: CellState, run: SuiteRun): PhaseOutput {
  const { checks, evidence } = run;
  s.result.grids.push(...(run.grids ?? []));
  s.result.probes.push(...(run.probes ?? []));
  s.result.policy.push(...(run.policy ?? []));
  if (checks.length === 0)
    return { outcome: 'failed', reason: 'the suite reported no checks at all', evidence, checks };
  const outcome = checksOutcome(checks);
  return {
    outcome,
    ...(outcome === 'failed' ? { reason: failedChecksReason(checks) } : {}),
    ...(outcome === 'skipped' ? { reason: checks[0]?.message ?? 'every check skipped' } : {}),
    evidence,
    checks,
  };
}

function auditOutput(summary: { passed: boolean; reason?: string; evidence: string[] }): PhaseOutput {
  return summary.passed
    ? { evidence: summary.evidence }
    : { outcome: 'failed', reason: summary.reason ?? 'the audit is not clean', evidence: summary.evidence };
}

/** A node dump of every node into `dir` (and in memory), with the cni-bin baseline taken at creation. */
async function dumpNodes(s: CellState, step: StepContext, dir: string): Promise<NodeDump[]> {
  const dumps: NodeDump[] = [];
  for (const n of step.nodes) {
    step.log(`node dump of ${n.name}`);
    const dump = await s.deps.collectNodeDump(step.cluster.shell(n.name), s.slot.baseline?.get(n.name));
    s.deps.writeNodeDump(dir, dump);
    dumps.push(dump);
  }
  return dumps;
}

// ---------------------------------------------------------------------------------------------------------
// the runner

function classify(phase: PhaseName, err: unknown): { outcome: Outcome; reason: string } {
  if (err instanceof InterruptedError) return { outcome: 'error', reason: err.message };
  const msg = (err as Error)?.message ?? String(err);
  if (err instanceof PhaseFailure) return { outcome: 'failed', reason: msg };
  return { outcome: PLUMBING.has(phase) ? 'error' : 'failed', reason: msg };
}

function signalName(signal: AbortSignal | undefined): string {
  const r = signal?.reason;
  return typeof r === 'string' ? r : r instanceof Error ? r.message : 'SIGINT';
}

/** Runs one cell through every phase; never throws (everything lands in the CellResult). */
export async function runCell(cell: Cell, deps: PipelineDeps, opts: CellRunOptions): Promise<CellResult> {
  const started = performance.now();
  const cellDir = cellDirOf(opts.reportDir, cell.id);
  mkdirSync(cellDir, { recursive: true });
  const s: CellState = {
    cell,
    cellDir,
    deps,
    opts,
    installed: opts.upgrade?.from ?? cell,
    slot: opts.slot ?? {},
    result: {
      cell,
      outcome: 'passed',
      startedAt: new Date().toISOString(),
      durationMs: 0,
      phases: [],
      grids: [],
      probes: [],
      policy: [],
    },
    phaseOf: {},
    leftBehind: [],
  };
  const progress = opts.progress;
  progress.cellStart(cell);

  for (const def of phasesOf(opts)) {
    const phaseStart = new Date();
    const t0 = performance.now();
    const record = (out: {
      outcome: Outcome;
      reason?: string;
      evidence?: string[];
      checks?: CheckResult[];
    }) => {
      const pr: PhaseResult = {
        name: def.name,
        outcome: out.outcome,
        startedAt: phaseStart.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        ...(out.reason ? { reason: out.reason } : {}),
        evidence: out.evidence ?? [],
        checks: out.checks ?? [],
      };
      s.result.phases.push(pr);
      s.phaseOf[def.name] = pr;
      return pr;
    };

    if (opts.signal?.aborted && !s.interrupted) s.interrupted = signalName(opts.signal);
    let gate: Gate;
    // a skipped cell last in a --reuse-cluster group still deletes the group's cluster
    const lastTeardown = def.name === 'teardown' && s.slot.handle !== undefined && !opts.keepForNextCell;
    if (s.skipped && !lastTeardown) gate = { run: false, outcome: 'skipped', reason: s.skipped };
    else if (s.interrupted && def.name !== 'teardown')
      gate = { run: false, outcome: 'not-run', reason: `interrupted by ${s.interrupted}` };
    else if (opts.until && def.name !== 'teardown' && PHASES.indexOf(def.name) > PHASES.indexOf(opts.until))
      gate = {
        run: false,
        outcome: 'skipped',
        reason: `--until ${opts.until}: the run stopped after ${opts.until}`,
      };
    else if (s.stopped && !isCleanup(def.name))
      gate = {
        run: false,
        outcome: 'not-run',
        reason: `${s.stopped.phase} did not pass: ${s.stopped.reason}`,
      };
    else gate = def.gate(s);
    if (!gate.run) {
      const pr = record({ outcome: gate.outcome, reason: gate.reason });
      progress.phaseEnd(cell.id, def.name, pr.outcome, 0, pr.reason);
      continue;
    }

    const limits = limitsOf(s, def.name);
    progress.phaseStart(cell.id, def.name, { waitingFor: limits.waitingFor, timeoutMs: limits.timeoutMs });
    progress.log('debug', `${cell.id} ${def.name}: ${describeLimits(limits)}`);
    let last = '';
    const log = (line: string) => {
      last = line;
      progress.log('debug', `${cell.id} ${def.name}: ${line}`);
    };
    // teardown must run after SIGINT: only its own timeout stops it
    const runSignal = def.name === 'teardown' ? undefined : opts.signal;
    let pr: PhaseResult;
    let keepGoing = false;
    try {
      const { keepGoing: goOn, ...out } = await withPhaseLimits(
        limits,
        runSignal,
        () => last,
        (signal) => def.execute(s, stepFor(s, signal, log), signal),
      );
      keepGoing = goOn === true;
      pr = record({ outcome: out.outcome ?? 'passed', ...out });
    } catch (err) {
      const { outcome, reason } = classify(def.name, err);
      if (err instanceof InterruptedError) s.interrupted = err.signalName;
      pr = record({ outcome, reason, evidence: last ? [`last seen: ${last}`] : [] });
    }
    progress.phaseEnd(cell.id, def.name, pr.outcome, pr.durationMs, pr.reason);

    if ((pr.outcome === 'failed' || pr.outcome === 'error') && !isCleanup(def.name)) {
      if (!keepGoing) s.stopped ??= { phase: def.name, reason: shortReason(pr.reason ?? pr.outcome) };
      if (!s.interrupted && s.slot.handle && def.name !== 'create-cluster') await diagnose(s, pr, log);
    }
  }

  s.result.outcome = cellOutcome(s);
  if (s.skipped) s.result.reason = s.skipped;
  else if (s.interrupted) s.result.reason = `interrupted by ${s.interrupted}`;
  else if (s.result.outcome !== 'passed') {
    const bad = s.result.phases.find((p) => p.outcome === 'failed' || p.outcome === 'error');
    if (bad) s.result.reason = `${bad.name}: ${bad.reason ?? bad.outcome}`;
  }
  s.result.durationMs = Math.round(performance.now() - started);
  opts.leftBehind?.push(...s.leftBehind);
  progress.cellEnd(cell.id, s.result.outcome);
  return s.result;
}

/** The phases after a failure repeat its reason in short (the full text is on the failed phase). */
function shortReason(reason: string): string {
  const line = reason.split('\n')[0] ?? reason;
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}

function cellOutcome(s: CellState): Outcome {
  if (s.skipped) return 'skipped';
  if (s.interrupted) return 'error';
  const bad = s.result.phases.find((p) => p.outcome === 'failed' || p.outcome === 'error');
  return bad ? bad.outcome : 'passed';
}

/** The time limit of the diagnostics bundle (once per cell, at its first failure). */
export const DIAGNOSTICS_LIMITS: PhaseLimits = {
  timeoutMs: 3 * 60_000,
  waitingFor: 'the diagnostics bundle',
};

/** The diagnostics bundle is taken at the first failure, before uninstall changes the picture. */
async function diagnose(s: CellState, pr: PhaseResult, log: (l: string) => void): Promise<void> {
  if (s.result.diagnostics) return;
  const dir = join(s.cellDir, 'diagnostics');
  try {
    const what = await withPhaseLimits(
      DIAGNOSTICS_LIMITS,
      s.opts.signal,
      () => '',
      (signal) => s.deps.collectDiagnostics(stepFor(s, signal, log), dir),
    );
    s.result.diagnostics = rel(s, dir);
    pr.evidence.push(`diagnostics: ${rel(s, dir)}${what ? ` (${what})` : ''}`);
  } catch (err) {
    pr.evidence.push(`diagnostics could not be collected: ${(err as Error).message}`);
  }
}

/** A cell that never started (fail-fast, interrupted): every phase not-run with the reason. */
export function notRunCell(
  cell: Cell,
  reason: string,
  phases: readonly PhaseName[] = RUN_PHASES,
): CellResult {
  return {
    cell,
    outcome: 'not-run',
    reason,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    phases: phases.map((name) => ({
      name,
      outcome: 'not-run' as const,
      startedAt: new Date().toISOString(),
      durationMs: 0,
      reason,
      evidence: [],
      checks: [],
    })),
    grids: [],
    probes: [],
    policy: [],
  };
}
