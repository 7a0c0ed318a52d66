import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProcessRunner, RunOptions } from '../../../harness/exec/process.js';
import {
  liveModel,
  liveScenarioInput,
  localizePolicies,
  policyWorkloads,
  scenarioSelected,
} from '../../../harness/policy/live.js';
import {
  CalicoctlApplier,
  KubePolicyApplier,
  ProberPolicyProber,
} from '../../../harness/policy/live-adapters.js';
import { standardModel } from '../../../harness/policy/model.js';
import { expectTruthTable } from '../../../harness/policy/oracle.js';
import { validatePolicies } from '../../../harness/policy/parse.js';
import { resolvePlaceholders, SCENARIOS } from '../../../harness/policy/scenarios.js';
import { podKey } from '../../../harness/policy/types.js';
import type { ProbeRequest } from '../../../harness/probe/prober.js';
import type { ProbeRecord } from '../../../harness/probe/types.js';

describe('live policy workloads', () => {
  it('builds 3 namespaces labelled ns and 9 agnhost pods serving TCP+UDP 80/81 with named ports', () => {
    const objs = policyWorkloads({ namespacePrefix: 'cc-1-' });
    expect(objs.filter((o) => o.kind === 'Namespace').map((o) => o.metadata)).toEqual([
      { name: 'cc-1-x', labels: { ns: 'x', 'calico-conformance/purpose': 'policy' } },
      { name: 'cc-1-y', labels: { ns: 'y', 'calico-conformance/purpose': 'policy' } },
      { name: 'cc-1-z', labels: { ns: 'z', 'calico-conformance/purpose': 'policy' } },
    ]);
    const pods = objs.filter((o) => o.kind === 'Pod');
    expect(pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual([
      'cc-1-x/a',
      'cc-1-x/b',
      'cc-1-x/c',
      'cc-1-y/a',
      'cc-1-y/b',
      'cc-1-y/c',
      'cc-1-z/a',
      'cc-1-z/b',
      'cc-1-z/c',
    ]);
    const spec = pods[4]!.spec as {
      containers: { args: string[]; ports: { name: string; containerPort: number; protocol: string }[] }[];
    };
    expect(pods[4]!.metadata.labels).toEqual({ pod: 'b' });
    expect(spec.containers.map((c) => c.args)).toEqual([
      ['netexec', '--http-port=80', '--udp-port=80'],
      ['netexec', '--http-port=81', '--udp-port=81'],
    ]);
    expect(spec.containers.flatMap((c) => c.ports.map((p) => p.name))).toEqual([
      'serve-80-tcp',
      'serve-80-udp',
      'serve-81-tcp',
      'serve-81-udp',
    ]);
    expect(() => policyWorkloads({ namespacePrefix: 'Bad_' })).toThrow(/namespacePrefix/);
  });

  it('every catalogue scenario, moved to prefixed namespaces and real IPs, gives the same table as in the model', () => {
    const model = standardModel();
    const realIp = new Map(model.pods.map((p, i) => [podKey(p), `172.16.${i}.${7 + i}`]));
    const live = liveModel('run7-', (k) => realIp.get(k));
    expect(live.namespaces.map((n) => n.name)).toEqual(['run7-x', 'run7-y', 'run7-z']);
    const toModel = (k: string) => k.replace(/^run7-/, '');
    for (const s of SCENARIOS) {
      const ref = expectTruthTable(
        model,
        validatePolicies(resolvePlaceholders(s.policies, (k) => model.pods.find((p) => podKey(p) === k)?.ip)),
      );
      const input = liveScenarioInput(s, 'run7-', live);
      const got = expectTruthTable(live, validatePolicies(input.policies));
      const wrong: string[] = [];
      for (const e of got.entries()) {
        const r = ref.get(toModel(e.from), toModel(e.to), e.port, e.protocol)!;
        if (r.allowed !== e.allowed || r.egress !== e.egress || r.ingress !== e.ingress)
          wrong.push(`${e.from}>${e.to} ${e.protocol}/${e.port}`);
      }
      expect(wrong, s.name).toEqual([]);
    }
  });

  it('localizes metadata.namespace and kubernetes.io/metadata.name selectors, refuses Calico name selectors', () => {
    const [p] = localizePolicies(
      [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'n', namespace: 'x' },
          spec: {
            podSelector: {},
            ingress: [
              { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } } }] },
            ],
            egress: [
              {
                to: [
                  {
                    namespaceSelector: {
                      matchExpressions: [
                        { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['z', 'x'] },
                      ],
                    },
                  },
                ],
              },
            ],
          },
        },
      ],
      (ns) => `p-${ns}`,
    ) as [Record<string, never>];
    expect(JSON.stringify(p)).toContain('"namespace":"p-x"');
    expect(JSON.stringify(p)).toContain('"kubernetes.io/metadata.name":"p-y"');
    expect(JSON.stringify(p)).toContain('"values":["p-z","p-x"]');
    expect(() =>
      localizePolicies(
        [
          {
            apiVersion: 'projectcalico.org/v3',
            kind: 'GlobalNetworkPolicy',
            metadata: { name: 'g' },
            spec: { selector: "projectcalico.org/namespace == 'x'" },
          },
        ],
        (n) => n,
      ),
    ).toThrow(/cannot be moved/);
  });

  it('selects scenarios by a regex over name and tags', () => {
    const s = SCENARIOS.find((x) => x.name === 'port-named-udp')!;
    expect(scenarioSelected(s, undefined)).toBe(true);
    expect(scenarioSelected(s, '^port-')).toBe(true);
    expect(scenarioSelected(s, '^named-port$')).toBe(true);
    expect(scenarioSelected(s, '^calico')).toBe(false);
    expect(() => scenarioSelected(s, '[')).toThrow(/policySelect/);
  });
});

describe('live adapters', () => {
  const k8sDoc = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'a', namespace: 'x' },
  };
  const calicoDoc = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'g' },
  };

  function kubeDouble() {
    const calls: string[] = [];
    return {
      calls,
      async applyServerSide(docs: readonly { metadata?: { name?: string } }[]) {
        calls.push(`apply ${docs.map((d) => d.metadata?.name).join(',')}`);
        return [];
      },
      async create(docs: readonly { metadata?: { name?: string } }[]) {
        calls.push(`create ${docs.map((d) => d.metadata?.name).join(',')}`);
        return [];
      },
      async delete(docs: readonly { metadata?: { name?: string } }[]) {
        calls.push(
          `delete ${docs.map((d) => (d as { metadata?: { name?: string } }).metadata?.name).join(',')}`,
        );
        return { deleted: [], absent: [] };
      },
    };
  }

  it('sends everything to the Kubernetes API when the Calico API server serves projectcalico.org/v3 (Calico by create)', async () => {
    const kube = kubeDouble();
    const a = new KubePolicyApplier(kube as never);
    await a.apply([k8sDoc, calicoDoc]);
    await a.remove([k8sDoc, calicoDoc]);
    expect(kube.calls).toEqual(['apply a', 'create g', 'delete a,g']);
  });

  it('routes Calico documents to calicoctl on the manifest path, with a CalicoAPIConfig for the kubeconfig', async () => {
    const kube = kubeDouble();
    const seen: { args: readonly string[]; config: string; file: string }[] = [];
    const runner: ProcessRunner = {
      async run(cmd: string, args: readonly string[], _opts?: RunOptions) {
        expect(cmd).toBe('/opt/calicoctl');
        const config = args.find((a) => a.startsWith('--config='))!.slice('--config='.length);
        seen.push({ args, config: readFileSync(config, 'utf8'), file: readFileSync(args[2]!, 'utf8') });
        return { command: cmd, args, exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
      },
    };
    const a = new KubePolicyApplier(
      kube as never,
      new CalicoctlApplier('/opt/calicoctl', '/tmp/kc.yaml', runner),
    );
    await a.apply([k8sDoc, calicoDoc]);
    await a.remove([k8sDoc, calicoDoc]);
    expect(kube.calls).toEqual(['apply a', 'delete a']);
    expect(seen.map((s) => [s.args[0], s.args[1], s.args.at(-1)])).toEqual([
      ['apply', '-f', expect.stringMatching(/^--config=/)],
      ['delete', '-f', '--skip-not-exists'],
    ]);
    expect(seen[0]!.config).toContain('datastoreType: kubernetes');
    expect(seen[0]!.config).toContain('kubeconfig: /tmp/kc.yaml');
    expect(seen[0]!.file).toContain('kind: GlobalNetworkPolicy');
    expect(seen[0]!.file).not.toContain('NetworkPolicy\nmetadata:\n  name: a');
  });

  it('a failing calicoctl surfaces as an error naming what it did', async () => {
    const runner: ProcessRunner = {
      async run(command, args) {
        return {
          command,
          args,
          exitCode: 1,
          stdout: '',
          stderr: 'connection refused',
          timedOut: false,
          durationMs: 1,
        };
      },
    };
    await expect(new CalicoctlApplier('calicoctl', 'kc', runner).apply([calicoDoc])).rejects.toThrow(
      /calicoctl apply of 1 Calico policies/,
    );
  });

  it('turns probe keys into prober requests to the destination pod IP, expecting its name; keeps partial rounds', async () => {
    const model = liveModel('p-', (k) => ({ 'x/a': '10.1.0.1', 'y/b': '10.1.0.2' })[k] ?? '10.1.0.9');
    let got: readonly ProbeRequest[] = [];
    const rec = (r: ProbeRequest): ProbeRecord => ({
      from: r.from,
      to: r.to,
      port: r.port,
      protocol: r.protocol,
      verdict: 'connected',
      durationMs: 1,
    });
    const ok = new ProberPolicyProber(
      {
        round: async (reqs) => {
          got = reqs;
          return reqs.map(rec);
        },
      },
      model,
    );
    const keys = [{ from: 'p-x/a', to: 'p-y/b', port: 81, protocol: 'UDP' as const }];
    expect(await ok.probe(keys)).toHaveLength(1);
    expect(got[0]).toMatchObject({
      source: { namespace: 'p-x', name: 'a' },
      host: '10.1.0.2',
      expectName: 'b',
      port: 81,
      protocol: 'UDP',
    });
    const partial = new ProberPolicyProber(
      {
        round: async () => {
          throw Object.assign(new Error('probe round failed for 1 source pod(s)'), { completed: [] });
        },
      },
      model,
    );
    expect(await partial.probe(keys)).toEqual([]);
    const broken = new ProberPolicyProber(
      { round: async () => Promise.reject(new Error('no kubeconfig')) },
      model,
    );
    await expect(broken.probe(keys)).rejects.toThrow('no kubeconfig');
    await expect(ok.probe([{ ...keys[0]!, from: 'q/a' }])).rejects.toThrow(/not a pod of the model/);
  });
});
