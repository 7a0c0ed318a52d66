/**
 * NetworkPolicy conformance on the live cell: the scenario catalogue (harness/policy/scenarios.ts) against
 * the netpol e2e model (x,y,z × a,b,c serving TCP/UDP 80/81 with agnhost). For each scenario the runner
 * applies the policies, probes until the observed table equals the oracle's in 3 consecutive rounds (or
 * 30 s), records time-to-enforce, deletes them and records time-to-restore. Every result goes to the
 * results model on its test's metadata (suites/context.ts record), checked under the scenario's name; a
 * failure prints the expected/observed/difference grids and YAML.
 *
 * Scenarios run K at a time (`run --policy-concurrency K`; default from the number of nodes), each in its
 * own namespace set with its own pods, all probed through shared rounds (harness/policy/concurrent.ts);
 * cluster-scoped Calico policy runs alone afterwards. The pods of every set are made once, in beforeAll,
 * and a scenario's restore step proves them back to "everything allowed" before the set is reused. The
 * schedule starts in beforeAll; each test below waits for its own scenario's result.
 *
 * Calico `projectcalico.org/v3` policy needs the Calico API server, which the operator install provides.
 * On the manifest path those scenarios run only when the user supplies calicoctl (SuiteContext.calicoctl).
 * Each scenario declares what it needs (`requires: ['calico-api']`); harness/model/requirements.ts decides
 * whether this cell has it and gives the reason a scenario is skipped with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRunner } from '../harness/exec/process.js';
import { ClientNodeKube } from '../harness/kube/client.js';
import { skipReason } from '../harness/model/requirements.js';
import type { CheckResult, PolicyScenarioResult } from '../harness/model/results.js';
import { runScheduled, type ScheduledScenario } from '../harness/policy/concurrent.js';
import {
  liveScenarioInput,
  makeNamespaceSets,
  mergeModels,
  namespaceSetNames,
  POLICY_NAMESPACES_GONE_MS,
  POLICY_PROBE_CONTAINER,
  POLICY_PROBE_SESSIONS,
  POLICY_PROBE_TIMEOUT_MS,
  policySetPrefix,
  removePolicyNamespaces,
  scenarioSelected,
} from '../harness/policy/live.js';
import { CalicoctlApplier, KubePolicyApplier, ProberPolicyProber } from '../harness/policy/live-adapters.js';
import { defaultPolicyConcurrency } from '../harness/policy/model.js';
import { formatScenarioFailure, type PolicyApplier } from '../harness/policy/runner.js';
import {
  exclusiveReason,
  type PolicyScenario,
  requirementsOf,
  SCENARIOS,
} from '../harness/policy/scenarios.js';
import { KubePodExecutor } from '../harness/probe/kube-executor.js';
import { Prober } from '../harness/probe/prober.js';
import { loopCountLines } from '../harness/probe/session.js';
import { record, suiteContext, suiteEnvironment } from './context.js';

const ctx = suiteContext();
const kube = ClientNodeKube.fromFile(ctx.kubeconfigPath);
const prefix = `${ctx.namespacePrefix}policy-`;
/** namespace sets = scenarios at once */
const sets = ctx.policyConcurrency ?? defaultPolicyConcurrency(ctx.nodes.length);
const setIds = [...Array(sets).keys()];
const prefixes = setIds.map((set) => policySetPrefix(prefix, set));
const namespaces = namespaceSetNames(prefixes);

const env = suiteEnvironment(ctx);
/** why a scenario cannot run on this cell, or undefined when it can */
const unmet = (s: PolicyScenario) => skipReason(requirementsOf(s), env);
const needsCalicoApi = (s: PolicyScenario) => requirementsOf(s).includes('calico-api');

const calicoApplier: PolicyApplier | undefined =
  ctx.cell.install !== 'operator' && ctx.calicoctl
    ? new CalicoctlApplier(ctx.calicoctl, ctx.kubeconfigPath, defaultRunner)
    : undefined;
const applier = new KubePolicyApplier(kube, calicoApplier);

const selected = SCENARIOS.filter((s) => scenarioSelected(s, ctx.policySelect));
const runnable = selected.filter((s) => unmet(s) === undefined);

/** each scenario's result, as the schedule delivers it */
const pending = new Map<
  string,
  { promise: Promise<PolicyScenarioResult>; resolve: (r: PolicyScenarioResult) => void }
>();
for (const s of runnable) {
  let resolve!: (r: PolicyScenarioResult) => void;
  const promise = new Promise<PolicyScenarioResult>((r) => {
    resolve = r;
  });
  pending.set(s.name, { promise, resolve });
}
let schedule: Promise<unknown> | undefined;
/** every round of the suite: one long-lived probe exec per source pod (closed in afterAll) */
const rounds = new Prober(new KubePodExecutor(kube), {
  probeTimeoutMs: POLICY_PROBE_TIMEOUT_MS,
  sessions: POLICY_PROBE_SESSIONS,
});

/** A scenario's result as the check the policy phase lists, under the scenario's own name. */
function checkOf(result: PolicyScenarioResult): CheckResult {
  const failed = result.outcome === 'failed' || result.outcome === 'error';
  return {
    name: result.name,
    // a scenario the schedule did not get to is a skipped test, as vitest reports it
    outcome: result.outcome === 'not-run' ? 'skipped' : result.outcome,
    durationMs: Math.round(result.durationMs ?? 0),
    ...(result.message ? { message: result.message } : {}),
    ...(failed ? { details: formatScenarioFailure(result) } : {}),
  };
}

describe('NetworkPolicy conformance', () => {
  beforeAll(async () => {
    const models = await makeNamespaceSets(kube, prefixes);
    // Calico policies are created (not applied) and GlobalNetworkPolicies outlive the namespaces: remove any
    // left by an interrupted earlier run so no scenario starts with a stale copy of its own policy
    if (runnable.some(needsCalicoApi)) {
      const leftovers = runnable
        .filter(needsCalicoApi)
        .flatMap((s) =>
          setIds.flatMap((set) => liveScenarioInput(s, prefixes[set]!, models[set]!, set).policies),
        )
        .filter((d) => (d as { apiVersion?: string }).apiVersion === 'projectcalico.org/v3');
      await applier.remove(leftovers);
    }
    // one prober over every set's pods; the shared rounds hand each scenario its own records
    const prober = new ProberPolicyProber(rounds, mergeModels(models), POLICY_PROBE_CONTAINER);
    // control round: before any policy every pair of every set must connect, or a later "deny" means
    // nothing. Run as scenarios without policies so fresh pods get the same convergence window (Calico
    // briefly blocks a new pod's traffic until its endpoint is programmed: Azure/AKS#4290).
    const control = await runScheduled(
      setIds.map((set) => ({
        name: `control-round-set-${set}`,
        tags: ['control'],
        input: () => ({
          name: `control-round-set-${set}`,
          tags: ['control'],
          model: models[set]!,
          policies: [],
        }),
      })),
      { prober, applier },
      { sets, runner: { enforceTimeoutMs: 60_000, stableRounds: 2 } },
    );
    const bad = [...control.results.values()].filter((r) => r.outcome !== 'passed');
    if (bad.length)
      throw new Error(
        `control round before any policy did not reach full reachability:\n${bad.map(formatScenarioFailure).join('\n\n')}`,
      );
    const items: ScheduledScenario[] = runnable.map((s) => {
      const why = exclusiveReason(s);
      return {
        name: s.name,
        tags: s.tags,
        ...(why ? { exclusive: why } : {}),
        input: (set: number) => liveScenarioInput(s, prefixes[set]!, models[set]!, set),
      };
    });
    // not awaited: the tests below wait for their own scenario; afterAll waits for the whole schedule
    schedule = runScheduled(
      items,
      { prober, applier },
      { sets, onResult: (r) => pending.get(r.name)?.resolve(r) },
    ).catch((err: unknown) => {
      for (const s of runnable)
        pending.get(s.name)?.resolve({
          name: s.name,
          tags: s.tags,
          outcome: 'error',
          rounds: 0,
          grids: [],
          message: `the scenario schedule stopped: ${(err as Error).message}`,
        });
    });
  });

  // gone, not only deleted: pods left terminating when the uninstall removes the CNI keep their veths
  afterAll(
    async () => {
      await schedule;
      // none may outlive close(): counted while the pods still exist, as the connectivity suite does
      const { left, uncounted } = loopCountLines(await rounds.closeAndCountLoops());
      for (const u of uncounted) console.warn(`counting probe session loops in ${u}`);
      await removePolicyNamespaces(kube, namespaces, { timeoutMs: POLICY_NAMESPACES_GONE_MS });
      if (left.length)
        throw new Error(
          `probe session loops still running after the sessions were closed: ${left.join(', ')}`,
        );
    },
    POLICY_NAMESPACES_GONE_MS + 40 * 60_000,
  );

  for (const scenario of selected) {
    it(
      `${scenario.name} [${scenario.tags.join(', ')}]`,
      async ({ task, skip }) => {
        const why = unmet(scenario);
        if (why) {
          const skipped: PolicyScenarioResult = {
            name: scenario.name,
            tags: scenario.tags,
            outcome: 'skipped',
            rounds: 0,
            grids: [],
            message: why,
          };
          record(task, { check: checkOf(skipped), policy: [skipped] });
          return skip(why);
        }
        const result = await pending.get(scenario.name)!.promise;
        record(task, { check: checkOf(result), policy: [result] });
        if (result.outcome === 'not-run') return skip(result.message ?? 'not run');
        expect(result.outcome, formatScenarioFailure(result)).toBe('passed');
      },
      // the schedule runs every scenario; this one may wait for others to free a namespace set
      40 * 60_000,
    );
  }
});
