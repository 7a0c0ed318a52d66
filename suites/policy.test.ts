/**
 * NetworkPolicy conformance on the live cell: the scenario catalogue (harness/policy/scenarios.ts) against
 * the netpol e2e model (x,y,z × a,b,c serving TCP/UDP 80/81 with agnhost). For each scenario the runner
 * applies the policies, probes until the observed table equals the oracle's in 3 consecutive rounds (or
 * 30 s), records time-to-enforce, deletes them and records time-to-restore. Every result goes to the
 * results model through recordSuiteData; a failure prints the expected/observed/difference grids and YAML.
 *
 * Calico `projectcalico.org/v3` policy needs the Calico API server, which the operator install provides.
 * On the manifest path those scenarios run only when the user supplies calicoctl (SuiteContext.calicoctl);
 * otherwise they are skipped with that reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRunner } from '../harness/exec/process.js';
import { ClientNodeKube } from '../harness/kube/client.js';
import {
  liveModel,
  liveNamespace,
  liveScenarioInput,
  POLICY_NAMESPACES_GONE_MS,
  POLICY_PROBE_CONTAINER,
  policyWorkloads,
  removePolicyNamespaces,
  scenarioSelected,
} from '../harness/policy/live.js';
import { CalicoctlApplier, KubePolicyApplier, ProberPolicyProber } from '../harness/policy/live-adapters.js';
import { MODEL_NAMESPACES, MODEL_PODS } from '../harness/policy/model.js';
import { formatScenarioFailure, type PolicyApplier, runScenario } from '../harness/policy/runner.js';
import { needsCalicoApi, SCENARIOS } from '../harness/policy/scenarios.js';
import type { PolicyModel } from '../harness/policy/types.js';
import { KubePodExecutor } from '../harness/probe/kube-executor.js';
import { Prober } from '../harness/probe/prober.js';
import type { PolicyScenarioResult } from '../harness/report/model.js';
import { recordSuiteData, suiteContext } from './context.js';

const ctx = suiteContext();
const kube = ClientNodeKube.fromFile(ctx.kubeconfigPath);
const prefix = `${ctx.namespacePrefix}policy-`;
const workloads = policyWorkloads({ namespacePrefix: prefix });
const namespaces = MODEL_NAMESPACES.map((ns) => liveNamespace(prefix, ns));

/** Why Calico scenarios cannot run here, or undefined when they can. */
const calicoSkipReason =
  ctx.cell.install === 'operator' || ctx.calicoctl
    ? undefined
    : 'Calico projectcalico.org/v3 policy needs the Calico API server (operator install) or calicoctl; ' +
      'this cell uses the manifest install and no calicoctl was given';

const calicoApplier: PolicyApplier | undefined =
  ctx.cell.install !== 'operator' && ctx.calicoctl
    ? new CalicoctlApplier(ctx.calicoctl, ctx.kubeconfigPath, defaultRunner)
    : undefined;
const applier = new KubePolicyApplier(kube, calicoApplier);

let model: PolicyModel;
let prober: ProberPolicyProber;
/** set when a scenario left the cluster without full reachability: later results would be meaningless */
let poisoned: string | undefined;

const selected = SCENARIOS.filter((s) => scenarioSelected(s, ctx.policySelect));

function record(result: PolicyScenarioResult): void {
  recordSuiteData(ctx, 'policy', result.name, result);
}

describe('NetworkPolicy conformance', () => {
  beforeAll(async () => {
    await kube.applyServerSide(workloads as never[]);
    for (const ns of namespaces)
      await kube.waitPodsReady(ns, 'pod', { minPods: MODEL_PODS.length, timeoutMs: 5 * 60_000 });
    const ips = new Map<string, string>();
    for (const [i, ns] of namespaces.entries()) {
      const pods = await kube.list<{ metadata?: { name?: string }; status?: { podIP?: string } }>(
        'v1',
        'Pod',
        {
          namespace: ns,
        },
      );
      for (const p of pods)
        if (p.metadata?.name && p.status?.podIP)
          ips.set(`${MODEL_NAMESPACES[i]}/${p.metadata.name}`, p.status.podIP);
    }
    model = liveModel(prefix, (k) => ips.get(k));
    // Calico policies are created (not applied) and GlobalNetworkPolicies outlive the namespaces: remove any
    // left by an interrupted earlier run so no scenario starts with a stale copy of its own policy
    if (!calicoSkipReason) {
      const leftovers = selected
        .filter(needsCalicoApi)
        .flatMap((s) => liveScenarioInput(s, prefix, model).policies)
        .filter((d) => (d as { apiVersion?: string }).apiVersion === 'projectcalico.org/v3');
      await applier.remove(leftovers);
    }
    prober = new ProberPolicyProber(
      new Prober(new KubePodExecutor(kube), { probeTimeoutMs: 1000 }),
      model,
      POLICY_PROBE_CONTAINER,
    );
    // control round: before any policy every pair must connect, or a later "deny" means nothing. Run as a
    // scenario without policies so fresh pods get the same convergence window (Calico briefly blocks a new
    // pod's traffic until its endpoint is programmed: Azure/AKS#4290) instead of one unforgiving round.
    const control = await runScenario(
      { name: 'control-round', tags: ['control'], model, policies: [] },
      { prober, applier },
      { enforceTimeoutMs: 60_000, stableRounds: 2 },
    );
    if (control.outcome !== 'passed')
      throw new Error(
        `control round before any policy did not reach full reachability:\n${formatScenarioFailure(control)}`,
      );
  });

  // gone, not only deleted: pods left terminating when the uninstall removes the CNI keep their veths
  afterAll(async () => {
    await removePolicyNamespaces(kube, namespaces, { timeoutMs: POLICY_NAMESPACES_GONE_MS });
  }, POLICY_NAMESPACES_GONE_MS + 30_000);

  for (const scenario of selected) {
    it(`${scenario.name} [${scenario.tags.join(', ')}]`, async (t) => {
      const skip = (reason: string, outcome: 'skipped' | 'not-run') => {
        record({ name: scenario.name, tags: scenario.tags, outcome, rounds: 0, grids: [], message: reason });
        t.skip(reason);
      };
      if (needsCalicoApi(scenario) && calicoSkipReason) return skip(calicoSkipReason, 'skipped');
      if (poisoned) return skip(poisoned, 'not-run');
      const result = await runScenario(liveScenarioInput(scenario, prefix, model), { prober, applier });
      record(result);
      if (result.timeToRestoreMs === undefined)
        poisoned = `not run: ${scenario.name} left the cluster without full reachability (${result.message ?? result.outcome})`;
      expect(result.outcome, formatScenarioFailure(result)).toBe('passed');
    });
  }
});
