/**
 * The policy runner: apply a scenario's policies, probe until the observed table equals the oracle's in
 * `stableRounds` consecutive rounds (default 3) or a timeout (default 30 s), record time-to-enforce, delete
 * the policies, probe until every pair is reachable again, record time-to-restore.
 *
 * Why a stability window instead of a fixed sleep: Calico exposes no per-policy "realized" status, so the
 * honest measure is to probe continuously and require agreement several rounds in a row (cyclonus' fixed 5 s
 * sleep is either too short or wasteful; the e2e's per-probe retries hide unprotected windows,
 * kubernetes-sigs/network-policy-api#273). A round that matched and a later one that does not is a flap: the
 * streak restarts and the flap is counted.
 *
 * Verdicts: `connected` is allowed; refused/timeout/unreachable/dns-failure are denied; `error` is an
 * infrastructure failure (exec broke, prober died) and never counts as a deny: such a round neither
 * confirms nor refutes the table.
 *
 * The runner knows nothing of Kubernetes: it gets a PolicyApplier, a PolicyProber and a Clock.
 */
import { stringify } from 'yaml';
import { formatDuration } from '../errors.js';
import type { ProbeKey, ProbeRecord, ReachabilityGrid, Verdict } from '../model/connectivity.js';
import type { PolicyScenarioResult } from '../model/results.js';
import { type Clock, systemClock } from '../time/clock.js';
import { formatGrid, gridDifferences, verdictAllowed, withProbeCommands } from './grid-text.js';
import { expectTruthTable, type TruthTable } from './oracle.js';
import { validatePolicies } from './parse.js';
import type { PolicyModel } from './types.js';

export interface PolicyProber {
  probe(keys: ProbeKey[]): Promise<ProbeRecord[]>;
}

export interface PolicyApplier {
  apply(docs: object[]): Promise<void>;
  remove(docs: object[]): Promise<void>;
}

export interface RunnerOptions {
  /** how long the observed table may take to equal the expected one (default 30 s) */
  enforceTimeoutMs?: number;
  /** how long everything may take to become reachable again after the delete (default 30 s) */
  restoreTimeoutMs?: number;
  /** consecutive agreeing rounds that count as enforced (default 3) */
  stableRounds?: number;
  /** consecutive all-reachable rounds that count as restored (default 1) */
  restoreStableRounds?: number;
  /** rounds a scenario gets before its deadline can end it, however slow they are (default 8; the deadline doubles at most) */
  minRounds?: number;
  /** pause between rounds (default 250 ms); the only wait, never a fixed settle time */
  pollIntervalMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
  /** progress: one call per round */
  onRound?: (r: {
    scenario: string;
    phase: 'enforce' | 'restore';
    round: number;
    differences: number;
    errors: number;
    elapsedMs: number;
  }) => void;
}

export interface ScenarioInput {
  name: string;
  tags: string[];
  model: PolicyModel;
  /** policy objects, already in the live namespace names with placeholders resolved */
  policies: object[];
}

const DEFAULTS = {
  enforceTimeoutMs: 30_000,
  restoreTimeoutMs: 30_000,
  stableRounds: 3,
  restoreStableRounds: 1,
  minRounds: 8,
  pollIntervalMs: 250,
};

function keysOf(table: TruthTable): ProbeKey[] {
  const keys: ProbeKey[] = [];
  for (const from of table.peers)
    for (const to of table.peers) {
      if (from === to) continue;
      for (const p of table.ports) keys.push({ from, to, port: p.port, protocol: p.protocol });
    }
  return keys;
}

const keyId = (k: ProbeKey) => `${k.from}>${k.to}>${k.protocol}/${k.port}`;

interface RoundView {
  observed: Map<string, Verdict>;
  differences: number;
  errors: number;
  /** a few examples, for messages */
  sample: string[];
  /** the round's records, each with the command that repeats it */
  records: ProbeRecord[];
}

function compareRound(keys: ProbeKey[], records: ProbeRecord[], want: (k: ProbeKey) => boolean): RoundView {
  const observed = new Map<string, Verdict>();
  for (const r of records) observed.set(keyId(r), r.verdict);
  let differences = 0;
  let errors = 0;
  const sample: string[] = [];
  for (const k of keys) {
    const v = observed.get(keyId(k));
    if (v === undefined || v === 'error') {
      errors++;
      if (sample.length < 3)
        sample.push(`${keyId(k)}: ${v === undefined ? 'no probe record' : 'probe error'}`);
      continue;
    }
    if (verdictAllowed(v) !== want(k)) {
      differences++;
      if (sample.length < 3) sample.push(`${keyId(k)}: expected ${want(k) ? 'allowed' : 'denied'}, saw ${v}`);
    }
  }
  return { observed, differences, errors, sample, records };
}

interface ConvergeResult {
  converged: boolean;
  /** ms from the start to the end of the first round of the final agreeing streak */
  timeMs?: number;
  rounds: number;
  flaps: number;
  last?: RoundView;
  lastError?: string;
}

/** Probes in rounds until `stable` consecutive rounds agree with `want`, or the deadline. */
async function converge(
  phase: 'enforce' | 'restore',
  scenario: string,
  start: number,
  keys: ProbeKey[],
  want: (k: ProbeKey) => boolean,
  stable: number,
  timeoutMs: number,
  deps: { prober: PolicyProber },
  o: typeof DEFAULTS & { clock: Clock; signal?: AbortSignal; onRound?: RunnerOptions['onRound'] },
): Promise<ConvergeResult> {
  let streak = 0;
  let streakStartMs: number | undefined;
  let rounds = 0;
  let flaps = 0;
  let last: RoundView | undefined;
  let lastError: string | undefined;
  for (;;) {
    o.signal?.throwIfAborted();
    rounds++;
    let view: RoundView;
    try {
      const records = await deps.prober.probe(keys);
      view = compareRound(keys, records, want);
    } catch (err) {
      // the prober itself failed: an infrastructure problem, not an observation
      lastError = (err as Error).message;
      view = {
        observed: new Map(),
        differences: 0,
        errors: keys.length,
        sample: [`prober failed: ${lastError}`],
        records: [],
      };
    }
    const elapsed = o.clock.now() - start;
    last = view;
    o.onRound?.({
      scenario,
      phase,
      round: rounds,
      differences: view.differences,
      errors: view.errors,
      elapsedMs: elapsed,
    });
    if (view.errors === 0 && view.differences === 0) {
      if (streak === 0) streakStartMs = elapsed;
      streak++;
      if (streak >= stable) return { converged: true, timeMs: streakStartMs!, rounds, flaps, last };
    } else {
      if (streak > 0 && view.errors === 0) flaps++;
      streak = 0;
    }
    // the deadline bounds when agreement must begin; a streak already under way may finish its rounds.
    // Slow rounds (a loaded machine, many scenarios at once) still get minRounds looks before the verdict,
    // up to twice the deadline: a few false timeouts in a handful of rounds are load, not a policy failure
    const enough = rounds >= o.minRounds || elapsed >= 2 * timeoutMs;
    if (elapsed >= timeoutMs && enough && streak === 0)
      return { converged: false, rounds, flaps, last, ...(lastError ? { lastError } : {}) };
    await o.clock.sleep(o.pollIntervalMs, o.signal);
  }
}

function gridsOf(
  table: TruthTable,
  observed: Map<string, Verdict> | undefined,
  title: string,
): ReachabilityGrid[] {
  return table.ports.map((p, q) => {
    const grid = table.grid(q, title);
    for (const from of table.peers) {
      const row: Record<string, Verdict | undefined> = {};
      for (const to of table.peers) {
        if (from === to) continue;
        row[to] = observed?.get(`${from}>${to}>${p.protocol}/${p.port}`);
      }
      grid.observed[from] = row;
    }
    return grid;
  });
}

export function policiesYaml(docs: object[]): string {
  return docs.map((d) => stringify(d).trimEnd()).join('\n---\n');
}

/**
 * Runs one scenario. Never throws for what it observes (that goes into the result); throws a UsageError
 * for invalid policies before applying anything, and rethrows when aborted.
 */
export async function runScenario(
  input: ScenarioInput,
  deps: { prober: PolicyProber; applier: PolicyApplier },
  opts: RunnerOptions = {},
): Promise<PolicyScenarioResult> {
  const o = { ...DEFAULTS, ...stripUndefined(opts), clock: opts.clock ?? systemClock };
  const docs = validatePolicies(input.policies, `scenario ${input.name}`);
  const table = expectTruthTable(input.model, docs);
  const keys = keysOf(table);
  const expectedOf = new Map<string, boolean>();
  for (const e of table.entries()) expectedOf.set(`${e.from}>${e.to}>${e.protocol}/${e.port}`, e.allowed);
  const policyYaml = policiesYaml(input.policies);
  const result: PolicyScenarioResult = {
    name: input.name,
    tags: input.tags,
    outcome: 'passed',
    rounds: 0,
    grids: [],
    policyYaml,
  };

  const applyStart = o.clock.now();
  try {
    await deps.applier.apply(input.policies);
  } catch (err) {
    result.outcome = 'error';
    result.message = `applying the policies failed: ${(err as Error).message}`;
    await removeQuietly(deps.applier, input.policies);
    return result;
  }
  const enforce = await converge(
    'enforce',
    input.name,
    applyStart,
    keys,
    (k) => expectedOf.get(keyId(k)) === true,
    o.stableRounds,
    o.enforceTimeoutMs,
    deps,
    o,
  );
  result.rounds = enforce.rounds;
  result.grids = withProbeCommands(
    gridsOf(table, enforce.last?.observed, input.name),
    enforce.last?.records ?? [],
  );
  if (enforce.converged) {
    result.timeToEnforceMs = Math.round(enforce.timeMs!);
  } else {
    const last = enforce.last!;
    result.outcome = last.errors > 0 && last.differences === 0 ? 'error' : 'failed';
    const what =
      last.errors > 0 && last.differences === 0
        ? `${last.errors} probe errors in the last round (infrastructure, not a verdict)`
        : `${last.differences} cells differ${last.errors ? ` and ${last.errors} probe errors` : ''} in the last round`;
    result.message =
      `not enforced within ${formatDuration(o.enforceTimeoutMs)} (${enforce.rounds} rounds, ${enforce.flaps} flaps): ${what}` +
      (last.sample.length ? `; e.g. ${last.sample.join('; ')}` : '');
  }
  if (enforce.flaps > 0 && enforce.converged) {
    result.message = `enforced after ${enforce.flaps} flap${enforce.flaps === 1 ? '' : 's'} (a matching round followed by a differing one)`;
  }

  // always lift the policies, also after a failure, so the next scenario starts from an open cluster
  const removeStart = o.clock.now();
  try {
    await deps.applier.remove(input.policies);
  } catch (err) {
    result.outcome = 'error';
    result.message = `${result.message ? `${result.message}; ` : ''}removing the policies failed: ${(err as Error).message}`;
    return result;
  }
  const restore = await converge(
    'restore',
    input.name,
    removeStart,
    keys,
    () => true,
    o.restoreStableRounds,
    o.restoreTimeoutMs,
    deps,
    o,
  );
  result.durationMs = Math.round(o.clock.now() - applyStart);
  result.rounds += restore.rounds;
  if (restore.converged) {
    result.timeToRestoreMs = Math.round(restore.timeMs!);
  } else {
    if (result.outcome === 'passed') result.outcome = restore.last!.differences === 0 ? 'error' : 'failed';
    const last = restore.last!;
    result.message =
      `${result.message ? `${result.message}; ` : ''}not restored within ${formatDuration(o.restoreTimeoutMs)} after deleting the policies: ` +
      `${last.differences} probes still denied, ${last.errors} probe errors` +
      (last.sample.length ? `; e.g. ${last.sample.join('; ')}` : '');
  }
  return result;
}

async function removeQuietly(applier: PolicyApplier, docs: object[]): Promise<void> {
  try {
    await applier.remove(docs);
  } catch {
    // best effort after a failed apply: the apply error is what the user needs to see
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The failure text: the message, the expected/observed/difference grids of the ports that differ, the YAML. */
export function formatScenarioFailure(r: PolicyScenarioResult): string {
  const grids = r.grids.filter((g) => gridDifferences(g).length > 0 || hasErrors(g));
  return [
    `${r.name}: ${r.outcome}${r.message ? ` — ${r.message}` : ''}`,
    ...(grids.length ? grids : r.grids).map(formatGrid),
    'policies:',
    r.policyYaml ?? '(none)',
  ].join('\n\n');
}

function hasErrors(g: ReachabilityGrid): boolean {
  return Object.values(g.observed).some((row) =>
    Object.values(row).some((v) => v === 'error' || v === undefined),
  );
}
