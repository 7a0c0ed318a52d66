import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attachCluster } from '../../../harness/cluster/attach.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import type { ProcessRunner } from '../../../harness/exec/process.js';
import { realDeps, suiteFile } from '../../../harness/pipeline/real.js';
import { PROJECT_ROOT } from '../../../harness/pipeline/suites.js';
import { describeFixtures, FIXTURES_DIR } from '../../support/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'cc-real-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const kubeconfig = (context: string) => {
  const p = join(root, `${context}.kubeconfig`);
  writeFileSync(
    p,
    [
      'apiVersion: v1',
      'kind: Config',
      `current-context: ${context}`,
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
      'users: [{name: u, user: {token: t}}]',
      `contexts: [{name: ${context}, context: {cluster: c, user: u}}]`,
    ].join('\n'),
  );
  return p;
};

/** docker double: the kind node containers of cluster `demo` */
const dockerDouble: ProcessRunner & { calls: string[] } = {
  calls: [],
  async run(command, args) {
    this.calls.push([command, ...args].join(' '));
    const ok = (stdout: string) => ({
      command,
      args,
      exitCode: 0,
      stdout,
      stderr: '',
      timedOut: false,
      durationMs: 1,
    });
    if (args[0] === 'ps') return ok('demo-control-plane\ndemo-worker\n');
    if (args[0] === 'inspect')
      return ok('/demo-control-plane\tcontrol-plane\t172.18.0.2 \n/demo-worker\tworker\t172.18.0.3 \n');
    return { ...ok(''), exitCode: 1, stderr: 'unexpected' };
  },
};

describe('realDeps wiring', () => {
  it('builds without touching docker, kind or the network, and renders the real kind config', async () => {
    const runner: ProcessRunner = {
      run: async () => {
        throw new Error('realDeps() must not run anything when it is built');
      },
    };
    const deps = await realDeps({ runner });
    const [cell] = buildMatrix({ flags: { install: 'operator', encapsulation: 'VXLAN' } });
    const name = deps.clusterNameFor(cell!);
    expect(name).toMatch(/^cc-v3-\d+-\d+-operator-vxlan-[0-9a-f]{6}$/);
    expect(deps.kindConfig(cell!, name)).toMatch(new RegExp(`name: ${name}`));
  });

  it('finds a suite file per suite phase in this installation', () => {
    for (const s of ['mode', 'connectivity', 'policy'] as const) {
      expect(suiteFile(s)).toBe(`suites/${s}.test.ts`);
      expect(existsSync(join(PROJECT_ROOT, suiteFile(s))), s).toBe(true);
    }
  });

  it('attaches to an existing kind cluster by its kubeconfig context, and never deletes it', async () => {
    dockerDouble.calls.length = 0;
    const h = await attachCluster(kubeconfig('kind-demo'), dockerDouble);
    expect(h.name).toBe('demo');
    expect(await h.nodes()).toEqual([
      {
        name: 'demo-control-plane',
        container: 'demo-control-plane',
        role: 'control-plane',
        internalIP: '172.18.0.2',
      },
      { name: 'demo-worker', container: 'demo-worker', role: 'worker', internalIP: '172.18.0.3' },
    ]);
    expect(await h.dispose({ keep: false })).toEqual([]);
    expect(dockerDouble.calls.some((c) => /\b(rm|kill|stop)\b/.test(c))).toBe(false);
  });

  it('--preload-images: kind loads the images the rendered files name, before installing', async () => {
    const [cell] = buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN' } });
    const ctrl = new AbortController();
    const calls: string[] = [];
    const runner: ProcessRunner = {
      async run(command, args) {
        calls.push([command, ...args].join(' '));
        // stop right after the preload: installCalico checks the signal before its first step
        if (args[0] === 'load') ctrl.abort(new Error('stop after preload (test)'));
        return { command, args, exitCode: 0, stdout: 'sha256:x', stderr: '', timedOut: false, durationMs: 1 };
      },
    };
    const deps = await realDeps({ runner, preloadImages: true });
    const image = `docker.io/calico/node:${cell!.calicoVersion}`;
    const step = {
      cell: cell!,
      cellDir: root,
      cluster: {
        name: 'cc-demo',
        kubeconfigPath: kubeconfig('kind-cc-demo'),
        nodes: async () => [],
        shell: () => {
          throw new Error('no shell');
        },
        dispose: async () => [],
      },
      nodes: [],
      rendered: {
        files: [
          {
            name: 'calico.yaml',
            content: `apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: calico-node\nspec:\n  template:\n    spec:\n      containers:\n        - name: calico-node\n          image: ${image}\n`,
          },
        ],
        applyPlan: [{ file: 'calico.yaml', serverSide: false }],
        objects: [],
      },
      signal: ctrl.signal,
      log: () => {},
      suiteContext: {
        cell: cell!,
        clusterName: 'cc-demo',
        kubeconfigPath: '',
        cellDir: root,
        nodes: [],
        namespacePrefix: 'cc',
      },
    };
    await expect(deps.install(step)).rejects.toThrow();
    expect(calls).toEqual([
      `docker image inspect --format {{.Id}} ${image}`,
      `kind load docker-image ${image} --name cc-demo`,
    ]);
  });
});

describeFixtures('realDeps renders the operator custom resources upstream creates', () => {
  const kinds = async (opts: { goldmaneWhisker?: boolean }) => {
    const deps = await realDeps({ manifestsDir: FIXTURES_DIR, ...opts });
    const [cell] = buildMatrix({
      flags: { calicoVersion: 'v3.32.1', install: 'operator', encapsulation: 'VXLAN' },
    });
    const r = await deps.render(cell!);
    const crs = r.files.find((f) => f.name === 'custom-resources.yaml')!.content;
    return [...crs.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
  };
  it('by default Goldmane and Whisker too (v3.30+); run --no-goldmane-whisker leaves them out', async () => {
    expect(await kinds({})).toEqual(['Installation', 'APIServer', 'Goldmane', 'Whisker']);
    expect(await kinds({ goldmaneWhisker: false })).toEqual(['Installation', 'APIServer']);
  });
});
