import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProcessRunner, RunOptions } from '../../../harness/exec/process.js';
import { ClientNodeKube } from '../../../harness/kube/client.js';
import type { ProbeRecord } from '../../../harness/model/connectivity.js';
import {
  liveModel,
  liveScenarioInput,
  localizePolicies,
  makeNamespaceSets,
  mergeModels,
  type NamespaceSetKube,
  namespaceSetNames,
  POLICY_PROBE_CONTAINER,
  POLICY_SET_LABEL,
  policySetPrefix,
  policyWorkloads,
  removePolicyNamespaces,
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
import { exclusiveReason, resolvePlaceholders, SCENARIOS } from '../../../harness/policy/scenarios.js';
import { podKey } from '../../../harness/policy/types.js';
import { KubePodExecutor } from '../../../harness/probe/kube-executor.js';
import { type ProbeRequest, Prober } from '../../../harness/probe/prober.js';
import { PROBE_END, PROBE_SCRIPT } from '../../../harness/probe/script.js';
import { FakeApiServer, type Obj } from '../kube/fake-apiserver.js';

describe('live policy workloads', () => {
  it('builds 3 namespaces labelled ns and 9 agnhost pods serving TCP+UDP 80/81 with named ports', () => {
    const objs = policyWorkloads({ namespacePrefix: 'cc-1-' });
    expect(objs.filter((o) => o.kind === 'Namespace').map((o) => o.metadata)).toEqual([
      {
        name: 'cc-1-x',
        labels: { ns: 'x', 'calico-conformance/purpose': 'policy', 'calico-conformance/policy-set': '0' },
      },
      {
        name: 'cc-1-y',
        labels: { ns: 'y', 'calico-conformance/purpose': 'policy', 'calico-conformance/policy-set': '0' },
      },
      {
        name: 'cc-1-z',
        labels: { ns: 'z', 'calico-conformance/purpose': 'policy', 'calico-conformance/policy-set': '0' },
      },
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

  it('namespace sets: every scenario in its own set gives the model table there and leaves another set untouched', () => {
    const model = standardModel();
    const ipOf = (set: number) => (k: string) =>
      `172.${16 + set}.${model.pods.findIndex((p) => podKey(p) === k)}.9`;
    const set0 = liveModel(policySetPrefix('run7-', 0), ipOf(0), 0);
    const set1 = liveModel(policySetPrefix('run7-', 1), ipOf(1), 1);
    expect(set1.namespaces.map((n) => n.name)).toEqual(['run7-1-x', 'run7-1-y', 'run7-1-z']);
    expect(set1.namespaces[0]!.labels).toEqual({ ns: 'x', [POLICY_SET_LABEL]: '1' });
    // one cluster holding both sets: the oracle sees every namespace with its labels
    const both = {
      namespaces: [...set0.namespaces, ...set1.namespaces],
      pods: [...set0.pods, ...set1.pods],
      ports: set0.ports,
    };
    const inSet1 = (k: string) => k.startsWith('run7-1-');
    for (const s of SCENARIOS) {
      const ref = expectTruthTable(
        model,
        validatePolicies(resolvePlaceholders(s.policies, (k) => model.pods.find((p) => podKey(p) === k)?.ip)),
      );
      const input = liveScenarioInput(s, 'run7-1-', set1, 1);
      const docs = validatePolicies(input.policies);
      // every Kubernetes namespace selector is narrowed to set 1
      for (const d of input.policies as { apiVersion: string; spec?: Record<string, unknown> }[])
        if (d.apiVersion === 'networking.k8s.io/v1')
          for (const sel of JSON.stringify(d.spec).matchAll(/"namespaceSelector":(\{[^}]*\}?[^}]*\})/g))
            expect(sel[1], s.name).toContain(`"${POLICY_SET_LABEL}":"1"`);
      if (exclusiveReason(s)) continue; // cluster-scoped: runs alone, may touch every set by design
      const got = expectTruthTable(both, docs);
      const wrong: string[] = [];
      for (const e of got.entries()) {
        if (inSet1(e.from) && inSet1(e.to)) {
          const r = ref.get(e.from.replace('run7-1-', ''), e.to.replace('run7-1-', ''), e.port, e.protocol)!;
          if (r.allowed !== e.allowed) wrong.push(`set 1: ${e.from}>${e.to} ${e.protocol}/${e.port}`);
        } else if (!inSet1(e.from) && !inSet1(e.to) && !e.allowed)
          wrong.push(`set 0 disturbed: ${e.from}>${e.to} ${e.protocol}/${e.port}`);
      }
      expect(wrong, s.name).toEqual([]);
    }
  });

  it("makeNamespaceSets creates every set, waits for every namespace, and models each set from its pods' IPs", async () => {
    const applied: string[] = [];
    const waited: string[] = [];
    const kube = {
      applyServerSide: async (objs: { kind: string; metadata: { name: string; namespace?: string } }[]) => {
        applied.push(...objs.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`));
        return [];
      },
      waitPodsReady: async (ns: string) => {
        waited.push(ns);
      },
      list: async (_v: string, _k: string, o: { namespace: string }) =>
        ['a', 'b', 'c'].map((pod, i) => ({
          metadata: { name: pod },
          status: { podIP: `10.${o.namespace.length}.0.${i}` },
        })),
    } as unknown as NamespaceSetKube;
    const prefixes = [policySetPrefix('cc-', 0), policySetPrefix('cc-', 1)];
    const models = await makeNamespaceSets(kube, prefixes);
    expect(waited).toEqual(namespaceSetNames(prefixes));
    expect(waited).toEqual(['cc-x', 'cc-y', 'cc-z', 'cc-1-x', 'cc-1-y', 'cc-1-z']);
    expect(applied.filter((a) => a.startsWith('Pod '))).toHaveLength(18);
    expect(models.map((m) => m.namespaces[0]!.labels[POLICY_SET_LABEL])).toEqual(['0', '1']);
    expect(models[1]!.pods.find((p) => p.namespace === 'cc-1-z' && p.name === 'c')?.ip).toBe('10.6.0.2');
    const merged = mergeModels(models);
    expect(merged.pods).toHaveLength(18);
    expect(merged.namespaces.map((n) => n.name)).toEqual(waited);
    expect(() => mergeModels([])).toThrow(/no models/);
  });

  it('Calico namespace selectors are narrowed to the set; the empty one (own namespace) is left alone', () => {
    const docs = localizePolicies(
      [
        {
          apiVersion: 'projectcalico.org/v3',
          kind: 'NetworkPolicy',
          metadata: { name: 'p', namespace: 'x' },
          spec: {
            selector: 'pod == "a"',
            ingress: [
              { action: 'Allow', source: { namespaceSelector: "ns == 'y'" } },
              { action: 'Allow', source: { namespaceSelector: '' } },
            ],
          },
        },
      ],
      (ns) => `run7-3-${ns}`,
      3,
    ) as {
      metadata: { namespace: string };
      spec: { ingress: { source: { namespaceSelector: string } }[] };
    }[];
    expect(docs[0]!.metadata.namespace).toBe('run7-3-x');
    expect(docs[0]!.spec.ingress.map((r) => r.source.namespaceSelector)).toEqual([
      `(ns == 'y') && ${POLICY_SET_LABEL} == '3'`,
      '',
    ]);
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
      POLICY_PROBE_CONTAINER,
    );
    const keys = [{ from: 'p-x/a', to: 'p-y/b', port: 81, protocol: 'UDP' as const }];
    expect(await ok.probe(keys)).toHaveLength(1);
    expect(got[0]).toMatchObject({
      source: { namespace: 'p-x', name: 'a', container: 'cont-80' },
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
      POLICY_PROBE_CONTAINER,
    );
    expect(await partial.probe(keys)).toEqual([]);
    const broken = new ProberPolicyProber(
      { round: async () => Promise.reject(new Error('no kubeconfig')) },
      model,
      POLICY_PROBE_CONTAINER,
    );
    await expect(broken.probe(keys)).rejects.toThrow('no kubeconfig');
    await expect(ok.probe([{ ...keys[0]!, from: 'q/a' }])).rejects.toThrow(/not a pod of the model/);
  });
});

describe('policy probes through a Kubernetes exec (fake API server that refuses as the real one)', () => {
  it('every probe execs into a named container of the two-container model pods and gets its verdicts', async () => {
    const fake = await new FakeApiServer().start();
    try {
      const prefix = 'cc-1-policy-';
      const workloads = policyWorkloads({ namespacePrefix: prefix });
      const ips = new Map<string, string>();
      for (const [i, o] of workloads.filter((w) => w.kind === 'Pod').entries()) {
        // as applied and then scheduled: the API server execs only into a pod with a node
        fake.put({ ...(o as Obj), spec: { ...(o.spec as object), nodeName: 'kind-worker' } });
        const ns = String(o.metadata.namespace).slice(prefix.length);
        ips.set(`${ns}/${o.metadata.name}`, `10.244.0.${i + 10}`);
      }
      const model = liveModel(prefix, (k) => ips.get(k));
      const nameByIp = new Map(model.pods.map((p) => [p.ip, p.name]));
      // the pod answers like the in-pod script: every probe connected to the pod that owns the IP
      fake.execHandler = (argv) => {
        const at = argv.indexOf(PROBE_SCRIPT);
        expect(at).toBeGreaterThan(0);
        const rest = argv.slice(at + 2);
        const lines: string[] = [];
        for (let i = 0; i * 5 + 5 <= rest.length; i++) {
          const out = nameByIp.get(rest[i * 5 + 1] ?? '') ?? '';
          lines.push(JSON.stringify({ i, tool: 'nc', rc: 0, ms: 2, out, err: '' }));
        }
        return { stdout: `${lines.join('\n')}\n${PROBE_END} ${lines.length}\n` };
      };
      const kube = new ClientNodeKube(fake.kubeConfig(), { intervalMs: 10 });
      const prober = new ProberPolicyProber(
        new Prober(new KubePodExecutor(kube), { probeTimeoutMs: 1000 }),
        model,
        POLICY_PROBE_CONTAINER,
      );
      const keys = model.pods.flatMap((f) =>
        model.pods
          .filter((t) => t !== f)
          .flatMap((t) =>
            model.ports.map((p) => ({
              from: podKey(f),
              to: podKey(t),
              port: p.port,
              protocol: p.protocol,
            })),
          ),
      );
      const records = await prober.probe(keys);
      expect(fake.execRequests.filter((r) => r.refused)).toEqual([]);
      expect(records).toHaveLength(keys.length);
      expect(records.filter((r) => r.verdict !== 'connected')).toEqual([]);
      expect(new Set(fake.execRequests.map((r) => `${r.namespace}/${r.pod} ${r.container}`))).toEqual(
        new Set(model.pods.map((p) => `${podKey(p)} cont-80`)),
      );
    } finally {
      await fake.stop();
    }
  });
});

describe('the policy suite removes its namespaces and waits until they are gone', () => {
  it('returns only after the namespaces are gone, not when the delete was accepted', async () => {
    const fake = await new FakeApiServer().start();
    try {
      const names = ['cc-1-policy-x', 'cc-1-policy-y'];
      // a namespace stays (Terminating, finalizer `kubernetes`) until the namespace controller has removed
      // its pods; here that takes a few polls
      for (const name of names)
        fake.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, finalizers: ['kubernetes'] } });
      let polls = 0;
      fake.reactors.push((req, f) => {
        if (req.method === 'GET' && req.path === '/api/v1/namespaces/cc-1-policy-y' && ++polls === 4)
          f.store.delete(FakeApiServer.key('v1', 'Namespace', 'cc-1-policy-y'));
        if (req.method === 'GET' && req.path === '/api/v1/namespaces/cc-1-policy-x' && polls >= 2)
          f.store.delete(FakeApiServer.key('v1', 'Namespace', 'cc-1-policy-x'));
        return undefined;
      });
      const kube = new ClientNodeKube(fake.kubeConfig(), { intervalMs: 10 });
      await removePolicyNamespaces(kube, names, { timeoutMs: 10_000 });
      expect(fake.calls('DELETE')).toEqual(names.map((n) => `DELETE /api/v1/namespaces/${n}`));
      expect(polls).toBeGreaterThanOrEqual(4);
      expect([...fake.store.values()].filter((o) => o.kind === 'Namespace')).toEqual([]);
    } finally {
      await fake.stop();
    }
  });

  it('times out naming the namespace still Terminating and its finalizer', async () => {
    const fake = await new FakeApiServer().start();
    try {
      fake.put({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'cc-1-policy-z', finalizers: ['kubernetes'] },
      });
      const kube = new ClientNodeKube(fake.kubeConfig(), { intervalMs: 10 });
      await expect(removePolicyNamespaces(kube, ['cc-1-policy-z'], { timeoutMs: 300 })).rejects.toThrow(
        /cc-1-policy-z[\s\S]*kubernetes/,
      );
    } finally {
      await fake.stop();
    }
  });
});
