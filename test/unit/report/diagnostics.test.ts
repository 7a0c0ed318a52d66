import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  collectDiagnostics,
  type DiagnosticsKube,
  kubectlDiagnosticsKube,
} from '../../../harness/diagnostics/collect.js';
import type { ProcessRunner, RunOptions, RunResult } from '../../../harness/exec/process.js';

/** Answers each command line from the first matching rule; records every call. */
class ScriptedRunner implements ProcessRunner {
  readonly calls: string[] = [];
  constructor(private readonly rules: [RegExp, Partial<RunResult>][]) {}
  async run(command: string, args: readonly string[], _opts?: RunOptions): Promise<RunResult> {
    const line = [command, ...args].join(' ');
    this.calls.push(line);
    const reply = this.rules.find(([re]) => re.test(line))?.[1] ?? {};
    return { command, args, exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 3, ...reply };
  }
}

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cc-diag-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const podList = (pods: { name: string; init?: string[]; containers: string[]; restarts?: number }[]) =>
  JSON.stringify({
    items: pods.map((p) => ({
      metadata: { name: p.name },
      spec: {
        initContainers: (p.init ?? []).map((name) => ({ name })),
        containers: p.containers.map((name) => ({ name })),
      },
      status: { containerStatuses: [{ restartCount: p.restarts ?? 0 }] },
    })),
  });

describe('collectDiagnostics over kubectl (the operator path)', () => {
  it('collects kind logs, component logs, node dumps and object dumps; absent types are not failures', async () => {
    const out = join(tmp(), 'diagnostics');
    const runner = new ScriptedRunner([
      [/^kind export logs /, { stdout: 'Exported logs for cluster "cc-x"' }],
      [
        /get pods -n calico-system -l k8s-app=calico-node/,
        {
          stdout: podList([
            { name: 'calico-node-abc', init: ['install-cni'], containers: ['calico-node'], restarts: 2 },
          ]),
        },
      ],
      [
        /get pods -n calico-system -l k8s-app=calico-kube-controllers/,
        { stdout: podList([{ name: 'calico-kube-controllers-1', containers: ['calico-kube-controllers'] }]) },
      ],
      [
        /get pods -n tigera-operator -l name=tigera-operator/,
        { stdout: podList([{ name: 'tigera-operator-7', containers: ['tigera-operator'] }]) },
      ],
      [/get pods -n kube-system/, { stdout: '{"items":[]}' }],
      [
        /logs -n calico-system calico-node-abc -c calico-node --timestamps --previous/,
        { stdout: 'felix panicked\n' },
      ],
      [/logs -n (\S+) (\S+) -c (\S+)/, { stdout: 'log line\n' }],
      [/get ippools.crd.projectcalico.org/, { stdout: 'kind: List\nitems: []\n' }],
      [/get (pods|events|nodes|tigerastatuses|installations)/, { stdout: 'kind: List\n' }],
    ]);
    const dumped: string[] = [];
    const r = await collectDiagnostics({
      clusterName: 'cc-x',
      kubeconfigPath: '/tmp/kc',
      outDir: out,
      runner,
      nodeDumps: async (dir) => {
        mkdirSync(join(dir, 'cc-x-worker'), { recursive: true });
        writeFileSync(join(dir, 'cc-x-worker', 'ip-link.json'), '[]');
        dumped.push(dir);
      },
    });
    expect(r.failed).toEqual([]);
    expect(r.written).toEqual([
      'kind-logs',
      'logs/calico-node/calico-system_calico-node-abc_install-cni.log',
      'logs/calico-node/calico-system_calico-node-abc_install-cni.previous.log',
      'logs/calico-node/calico-system_calico-node-abc_calico-node.log',
      'logs/calico-node/calico-system_calico-node-abc_calico-node.previous.log',
      'logs/calico-kube-controllers/calico-system_calico-kube-controllers-1_calico-kube-controllers.log',
      'logs/tigera-operator/tigera-operator_tigera-operator-7_tigera-operator.log',
      'node-dump',
      'objects/pods.yaml',
      'objects/events.yaml',
      'objects/nodes.yaml',
      'objects/tigerastatuses.yaml',
      'objects/installations.yaml',
      'objects/ippools.yaml',
    ]);
    expect(
      readFileSync(
        join(out, 'logs/calico-node/calico-system_calico-node-abc_calico-node.previous.log'),
        'utf8',
      ),
    ).toBe('felix panicked\n');
    expect(dumped).toEqual([join(out, 'node-dump')]);
    expect(existsSync(join(out, 'node-dump', 'cc-x-worker', 'ip-link.json'))).toBe(true);
    expect(runner.calls[0]).toBe(`kind export logs ${join(out, 'kind-logs')} --name cc-x`);
    expect(
      runner.calls
        .filter((c) => c.startsWith('kubectl'))
        .every((c) => c.startsWith('kubectl --kubeconfig /tmp/kc ')),
    ).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'))).toMatchObject({
      cluster: 'cc-x',
      failed: [],
    });
  });
});

describe('collectDiagnostics when things are broken (the manifest path, a dying cluster)', () => {
  it('lists each failed step and still runs the rest', async () => {
    const out = join(tmp(), 'diagnostics');
    const runner = new ScriptedRunner([
      [/^kind export logs /, { exitCode: 127, stderr: 'kind: command not found' }],
      [
        /get pods -n kube-system -l k8s-app=calico-node/,
        { stdout: podList([{ name: 'calico-node-1', containers: ['calico-node'] }]) },
      ],
      [
        /get pods -n kube-system -l k8s-app=calico-kube-controllers/,
        { exitCode: 1, stderr: 'Unable to connect to the server: EOF' },
      ],
      [/get pods /, { stdout: '{"items":[]}' }],
      [
        /logs -n kube-system calico-node-1/,
        { exitCode: 1, stderr: 'container "calico-node" is waiting to start' },
      ],
      [/get events/, { exitCode: 1, timedOut: true, durationMs: 120_000 }],
      [
        /get (tigerastatuses|installations)/,
        { exitCode: 1, stderr: 'error: the server doesn\'t have a resource type "tigerastatuses"' },
      ],
      [
        /get ippools.crd.projectcalico.org/,
        { exitCode: 1, stderr: 'error: the server doesn\'t have a resource type "ippools"' },
      ],
      [/get ippools.projectcalico.org/, { stdout: 'kind: List\n' }],
      [/get (pods|nodes) --all-namespaces/, { stdout: 'kind: List\n' }],
    ]);
    const r = await collectDiagnostics({
      clusterName: 'cc-m',
      kubeconfigPath: '/tmp/kc',
      outDir: out,
      runner,
      nodeDumps: async () => {
        throw new Error('docker exec cc-m-worker: No such container');
      },
    });
    expect(r.failed).toEqual([
      'kind export logs: exited 127\n  kind: command not found',
      'logs kube-system/calico-node-1 calico-node: kubectl logs exited 1\n  container "calico-node" is waiting to start',
      'list calico-kube-controllers pods in kube-system: kubectl get pods -n kube-system exited 1\n  Unable to connect to the server: EOF',
      'node dumps: docker exec cc-m-worker: No such container',
      'objects events: dumping events: kubectl timed out after 120000ms',
    ]);
    expect(r.written).toEqual(['objects/pods.yaml', 'objects/nodes.yaml', 'objects/ippools.yaml']);
    expect(r.notPresent).toEqual([
      'calico-kube-controllers pods (kube-system, calico-system)',
      'tigera-operator pods (tigera-operator)',
      'tigerastatuses.operator.tigera.io (no such resource type)',
      'installations.operator.tigera.io (no such resource type)',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')).failed).toHaveLength(5);
  });

  it('takes an injected Kubernetes client instead of kubectl', async () => {
    const out = join(tmp(), 'd');
    const seen: string[] = [];
    const kube: DiagnosticsKube = {
      listPods: async (ns, sel) => {
        seen.push(`list ${ns} ${sel}`);
        return ns === 'calico-system' && sel === 'k8s-app=calico-node'
          ? [{ namespace: ns, name: 'calico-node-z', containers: ['calico-node'], restarts: 0 }]
          : [];
      },
      podLogs: async (ns, pod, c) => `${ns}/${pod}/${c}\n`,
      dumpObjects: async (res) => (res.startsWith('pods') ? 'items: []\n' : undefined),
    };
    const runner = new ScriptedRunner([]);
    const r = await collectDiagnostics({ clusterName: 'c', kubeconfigPath: 'k', outDir: out, runner, kube });
    expect(runner.calls).toEqual([`kind export logs ${join(out, 'kind-logs')} --name c`]);
    expect(r.written).toContain('logs/calico-node/calico-system_calico-node-z_calico-node.log');
    expect(r.written).toContain('objects/pods.yaml');
    expect(seen).toHaveLength(5);
  });

  it('kubectlDiagnosticsKube passes argument arrays (no shell) with the kubeconfig', async () => {
    const runner = new ScriptedRunner([[/logs/, { stdout: 'x' }]]);
    await kubectlDiagnosticsKube(runner, '/k c/config').podLogs('ns', 'p', 'c', { previous: true });
    expect(runner.calls).toEqual([
      'kubectl --kubeconfig /k c/config logs -n ns p -c c --timestamps --previous',
    ]);
  });
});
