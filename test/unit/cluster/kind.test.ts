import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CLUSTER_NAME_MAX,
  clusterNameFor,
  KindProvider,
  validateClusterName,
} from '../../../harness/cluster/kind.js';
import { EnvironmentError, UsageError } from '../../../harness/errors.js';
import { CommandError } from '../../../harness/exec/process.js';
import { HARNESS_CLUSTER_PATTERN } from '../../../harness/state/cleanup.js';
import { RunState, readRuns } from '../../../harness/state/run-state.js';
import { Teardown } from '../../../harness/state/teardown.js';
import { FakeRunner } from './fake-runner.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cc-kindtest-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const SPEC = {
  name: 'cc-test-abc123',
  kindConfigYaml:
    'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {disableDefaultCNI: true}\n',
  nodeImage: 'kindest/node:v1.35.0@sha256:452d',
};

function setup(runner: FakeRunner) {
  const state = new RunState(join(root, 'state'));
  const teardown = new Teardown({ state, runner });
  const provider = new KindProvider({ runner, teardown, tmpRoot: root });
  return { state, teardown, provider };
}

describe('cluster names', () => {
  it('clusterNameFor makes unique, valid, recognisable names from any cell id', () => {
    const a = clusterNameFor('v3.32.1/operator/VXLANCrossSubnet/192.168.0.0-16');
    const b = clusterNameFor('v3.32.1/operator/VXLANCrossSubnet/192.168.0.0-16');
    expect(a).not.toBe(b);
    for (const n of [a, b, clusterNameFor('___'), clusterNameFor('X'.repeat(200))]) {
      expect(n.length).toBeLessThanOrEqual(CLUSTER_NAME_MAX);
      expect(() => validateClusterName(n)).not.toThrow();
      expect(n).toMatch(HARNESS_CLUSTER_PATTERN);
    }
    expect(clusterNameFor('IPIP manifest', () => '0a1b2c')).toBe('cc-ipip-manifest-0a1b2c');
  });

  it('rejects names kind cannot use as node hostnames, naming the rule', () => {
    for (const bad of ['Upper', '-lead', 'trail-', 'under_score', 'a'.repeat(41), '']) {
      expect(() => validateClusterName(bad)).toThrow(UsageError);
    }
    expect(() => validateClusterName('Bad')).toThrow(/lowercase letters, digits and '-'/);
  });

  it('the cleanup pattern does not match names a user would pick', () => {
    for (const n of ['kind', 'cc-dev', 'calico', 'cc-test-cluster'])
      expect(n).not.toMatch(HARNESS_CLUSTER_PATTERN);
  });
});

describe('KindProvider.create', () => {
  it('runs kind with argument arrays, a private config and kubeconfig, and records both before creating', async () => {
    const runner = new FakeRunner();
    let seenAtCreate: string[] = [];
    let configAtCreate = '';
    const { provider, state } = setup(runner);
    runner.on(
      (l) => l.startsWith('kind create cluster'),
      (_c, args) => {
        seenAtCreate = state.resources.map((r) => `${r.kind} ${r.name}`);
        configAtCreate = readFileSync(args[args.indexOf('--config') + 1]!, 'utf8');
        return { exitCode: 0 };
      },
    );
    const handle = await provider.create(SPEC);
    const call = runner.calls[0]!;
    expect(call.cmd).toBe('kind');
    const kubeconfig = call.args[call.args.indexOf('--kubeconfig') + 1]!;
    expect(call.args).toEqual([
      'create',
      'cluster',
      '--name',
      SPEC.name,
      '--config',
      call.args[5],
      '--image',
      SPEC.nodeImage,
      '--wait',
      '0s',
      '--kubeconfig',
      kubeconfig,
      '--retain',
    ]);
    expect(configAtCreate).toBe(SPEC.kindConfigYaml);
    expect(handle.kubeconfigPath).toBe(kubeconfig);
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    expect(statSync(join(kubeconfig, '..')).mode & 0o777).toBe(0o700);
    // recorded before kind ran, so a SIGKILL during create still leaves a record
    expect(seenAtCreate).toEqual([expect.stringMatching(/^temp-path /), `kind-cluster ${SPEC.name}`]);
    expect(handle.shell(`${SPEC.name}-worker`).node).toBe(`${SPEC.name}-worker`);
  });

  it('dispose deletes the cluster, removes the kubeconfig dir, and empties the state file', async () => {
    const runner = new FakeRunner();
    const { provider, state, teardown } = setup(runner);
    const handle = await provider.create(SPEC);
    expect(readRuns(state.dir).runs).toHaveLength(1);
    expect(await handle.dispose({ keep: false })).toEqual([]);
    expect(runner.lines().at(-1)).toBe(
      `kind delete cluster --name ${SPEC.name} --kubeconfig ${handle.kubeconfigPath}`,
    );
    expect(existsSync(handle.kubeconfigPath)).toBe(false);
    expect(readRuns(state.dir).runs).toHaveLength(0);
    expect(teardown.pending).toEqual([]);
  });

  it('dispose({keep}) leaves cluster and kubeconfig, marks them kept, and the teardown no longer removes them', async () => {
    const runner = new FakeRunner();
    const { provider, state, teardown } = setup(runner);
    const handle = await provider.create(SPEC);
    const left = await handle.dispose({ keep: true });
    expect(left).toEqual([`kind cluster ${SPEC.name}`, `kubeconfig ${handle.kubeconfigPath}`]);
    expect(await teardown.run()).toEqual([]);
    expect(runner.lines().filter((l) => l.includes('delete'))).toEqual([]);
    expect(existsSync(handle.kubeconfigPath)).toBe(true);
    expect(state.resources.every((r) => r.kept)).toBe(true);
  });

  it('a teardown (interrupt) removes a created cluster and its temp dir', async () => {
    const runner = new FakeRunner();
    const { provider, teardown, state } = setup(runner);
    const handle = await provider.create(SPEC);
    expect(await teardown.run('SIGINT received')).toEqual([]);
    const del = runner.lines().find((l) => l.startsWith('kind delete'));
    // never the user's default kubeconfig: always a --kubeconfig of our own
    expect(del).toMatch(new RegExp(`^kind delete cluster --name ${SPEC.name} --kubeconfig /.+/kubeconfig$`));
    expect(existsSync(handle.kubeconfigPath)).toBe(false);
    expect(readRuns(state.dir).runs).toEqual([]);
  });

  it('a failed create deletes the half-made cluster', async () => {
    const runner = new FakeRunner().on((l) => l.startsWith('kind create'), {
      exitCode: 1,
      stderr: 'ERROR: failed to create cluster: failed to init node with kubeadm: exit status 1',
    });
    const { provider, state } = setup(runner);
    await expect(provider.create(SPEC)).rejects.toThrow(/failed to init node with kubeadm/);
    const kubeconfig = runner.calls[0]!.args[runner.calls[0]!.args.indexOf('--kubeconfig') + 1];
    expect(runner.lines().filter((l) => l.startsWith('kind '))).toEqual([
      expect.stringMatching(/^kind create cluster /),
      `kind delete cluster --name ${SPEC.name} --kubeconfig ${kubeconfig}`,
    ]);
    expect(readRuns(state.dir).runs).toEqual([]);
  });

  // kind v0.31.0's words when a node's log never said it had booted (a node container that exited early)
  const BOOT_WAIT =
    'ERROR: failed to create cluster: could not find a log line that matches "Reached target .*Multi-User System.*|detected cgroup v1"';
  const nodesOf = (runner: FakeRunner) =>
    runner
      .on((l) => l.startsWith(`docker ps -a --filter label=io.x-k8s.kind.cluster=${SPEC.name}`), {
        stdout: `${SPEC.name}-control-plane\tExited (1) 2 seconds ago\n${SPEC.name}-worker\tUp 5 seconds\n`,
      })
      .on((l) => l === `docker logs --tail 15 ${SPEC.name}-control-plane`, {
        stderr: 'lab-entrypoint: remounted /sys read-write\nmount: /sys/fs/cgroup/cpu: permission denied\n',
      })
      .on((l) => l.startsWith('docker logs'), { stdout: '' });

  it('a create that failed waiting for a node to boot is deleted and tried once more, with what the nodes said logged', async () => {
    let creates = 0;
    const runner = nodesOf(
      new FakeRunner().on(
        (l) => l.startsWith('kind create'),
        () => (++creates === 1 ? { exitCode: 1, stderr: BOOT_WAIT } : { exitCode: 0 }),
      ),
    );
    const lines: string[] = [];
    const { provider, state } = setup(runner);
    const handle = await provider.create({ ...SPEC, log: (l) => lines.push(l) });
    expect(runner.lines().filter((l) => l.startsWith('kind '))).toEqual([
      expect.stringMatching(/^kind create cluster /),
      `kind delete cluster --name ${SPEC.name} --kubeconfig ${handle.kubeconfigPath}`,
      expect.stringMatching(/^kind create cluster /),
    ]);
    const said = lines.join('\n');
    expect(said).toContain(`kind create of ${SPEC.name} failed waiting for a node to boot`);
    expect(said).toContain(`${SPEC.name}-control-plane (Exited (1) 2 seconds ago):`);
    expect(said).toContain('mount: /sys/fs/cgroup/cpu: permission denied');
    expect(said).toContain('trying once more');
    // the cluster of the second attempt is the one recorded
    expect(state.resources.map((r) => `${r.kind} ${r.name}`)).toContain(`kind-cluster ${SPEC.name}`);
  });

  it('the retry runs within the one deadline of the create: what the first attempt left, and no retry with under a minute left', async () => {
    const realNow = Date.now;
    let now = 1_000_000;
    Date.now = () => now;
    try {
      let creates = 0;
      const runner = nodesOf(
        new FakeRunner().on(
          (l) => l.startsWith('kind create'),
          () => {
            now += 4 * 60_000; // each attempt takes 4 minutes
            return ++creates === 1 ? { exitCode: 1, stderr: BOOT_WAIT } : { exitCode: 0 };
          },
        ),
      );
      const lines: string[] = [];
      await setup(runner).provider.create({ ...SPEC, timeoutMs: 10 * 60_000, log: (l) => lines.push(l) });
      const creates2 = runner.calls.filter((c) => c.args[0] === 'create');
      expect(creates2.map((c) => c.opts?.timeoutMs)).toEqual([10 * 60_000, 6 * 60_000]);
      expect(lines.join('\n')).toContain("trying once more within the 6m left of the create's 10m");

      // 9.5 of 10 minutes gone at the first failure: the error, not a second attempt
      const late = nodesOf(
        new FakeRunner().on(
          (l) => l.startsWith('kind create'),
          () => {
            now += 9.5 * 60_000;
            return { exitCode: 1, stderr: BOOT_WAIT };
          },
        ),
      );
      await expect(setup(late).provider.create({ ...SPEC, timeoutMs: 10 * 60_000 })).rejects.toThrow();
      expect(late.lines().filter((l) => l.startsWith('kind create'))).toHaveLength(1);
    } finally {
      Date.now = realNow;
    }
  });

  it('an interrupted create goes straight to the delete: no node is read and nothing is tried again', async () => {
    const ac = new AbortController();
    const runner = nodesOf(
      new FakeRunner().on(
        (l) => l.startsWith('kind create'),
        () => {
          ac.abort('SIGINT');
          return { exitCode: 1, stderr: BOOT_WAIT };
        },
      ),
    );
    await expect(setup(runner).provider.create({ ...SPEC, signal: ac.signal })).rejects.toThrow();
    expect(runner.lines().filter((l) => l.startsWith('docker'))).toEqual([]);
    expect(runner.lines().filter((l) => l.startsWith('kind '))).toEqual([
      expect.stringMatching(/^kind create cluster /),
      expect.stringMatching(new RegExp(`^kind delete cluster --name ${SPEC.name} `)),
    ]);
  });

  it('a second boot-wait failure is the error, carrying what the nodes said; any other failure is not retried', async () => {
    const runner = nodesOf(
      new FakeRunner().on((l) => l.startsWith('kind create'), { exitCode: 1, stderr: BOOT_WAIT }),
    );
    const { provider, state } = setup(runner);
    const err = (await provider.create(SPEC).catch((e: unknown) => e)) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(String(err.hint)).toMatch(
      /node container ended before it had booted.*fs\.inotify\.max_user_instances/,
    );
    expect(String(err.hint)).toContain('the nodes when kind gave up:');
    expect(String(err.hint)).toContain('mount: /sys/fs/cgroup/cpu: permission denied');
    expect(runner.lines().filter((l) => l.startsWith('kind create'))).toHaveLength(2);
    expect(readRuns(state.dir).runs).toEqual([]);

    const other = nodesOf(
      new FakeRunner().on((l) => l.startsWith('kind create'), {
        exitCode: 1,
        stderr: 'ERROR: failed to create cluster: failed to init node with kubeadm: exit status 1',
      }),
    );
    await expect(setup(other).provider.create(SPEC)).rejects.toThrow(/kubeadm/);
    expect(other.lines().filter((l) => l.startsWith('kind create'))).toHaveLength(1);
  });

  it('a create refused for an existing name explains it and leaves that cluster alone', async () => {
    const runner = new FakeRunner().on((l) => l.startsWith('kind create'), {
      exitCode: 1,
      stderr:
        'ERROR: failed to create cluster: node(s) already exist for a cluster with the name "cc-test-abc123"',
    });
    const { provider, state } = setup(runner);
    const err = await provider.create(SPEC).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as Error).message).toMatch(/creating kind cluster cc-test-abc123.*exited 1/s);
    expect((err as Error).message).toMatch(/already exists: pick another name/);
    // the existing cluster of that name is someone else's: not deleted, and not left recorded as ours
    expect(runner.lines().filter((l) => l.startsWith('kind delete'))).toEqual([]);
    expect(readRuns(state.dir).runs).toEqual([]);
    expect(readdirCount(root)).toBe(1); // only the state dir is left
  });

  it('a create that times out is deleted and says so; if that delete fails the record stays for cleanup', async () => {
    const runner = new FakeRunner()
      .on((l) => l.startsWith('kind create'), { exitCode: 124, timedOut: true, durationMs: 5000 })
      .on((l) => l.startsWith('kind delete'), { exitCode: 1, stderr: 'boom' });
    const { provider, state } = setup(runner);
    const err = await provider.create({ ...SPEC, timeoutMs: 5000 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out after 5000ms/);
    expect((err as Error).message).toMatch(/may be left behind: kind delete cluster --name cc-test-abc123/);
    expect(runner.calls[0]!.opts?.timeoutMs).toBe(5000);
    expect(state.resources.map((r) => r.kind)).toEqual(['kind-cluster']);
  });

  it('no kind binary is an EnvironmentError (exit 3) with the install link; no delete attempted', async () => {
    const runner = new FakeRunner().on((l) => l.startsWith('kind'), {
      exitCode: 127,
      stderr: 'kind: command not found',
    });
    const { provider } = setup(runner);
    const err = await provider.create(SPEC).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as Error).message).toMatch(/kind\.sigs\.k8s\.io/);
    expect(runner.calls).toHaveLength(1);
  });

  it('a Docker that does not answer is an EnvironmentError', async () => {
    const runner = new FakeRunner().on((l) => l.startsWith('kind create'), {
      exitCode: 1,
      stderr:
        'ERROR: failed to create cluster: Cannot connect to the Docker daemon at unix:///var/run/docker.sock',
    });
    const { provider } = setup(runner);
    await expect(provider.create(SPEC)).rejects.toBeInstanceOf(EnvironmentError);
  });

  it('bad input is refused before anything runs or is written', async () => {
    const runner = new FakeRunner();
    const { provider, state } = setup(runner);
    await expect(provider.create({ ...SPEC, name: 'Bad_Name' })).rejects.toThrow(/cluster name: "Bad_Name"/);
    await expect(provider.create({ ...SPEC, nodeImage: '' })).rejects.toThrow(/nodeImage/);
    await expect(provider.create({ ...SPEC, kindConfigYaml: '  ' })).rejects.toThrow(/kindConfigYaml/);
    expect(runner.calls).toEqual([]);
    expect(state.resources).toEqual([]);
  });

  it('passes the abort signal to kind', async () => {
    const runner = new FakeRunner();
    const { provider } = setup(runner);
    const ac = new AbortController();
    const h = await provider.create({ ...SPEC, signal: ac.signal });
    expect(runner.calls[0]!.opts?.signal).toBe(ac.signal);
    await h.dispose({ keep: false });
  });
});

describe('KindProvider.delete and list', () => {
  it('list parses kind get clusters, including the no-cluster message', async () => {
    const runner = new FakeRunner().on((l) => l === 'kind get clusters', { stdout: 'cc-a-000001\nkind\n' });
    expect(await new KindProvider({ runner }).list()).toEqual(['cc-a-000001', 'kind']);
    const none = new FakeRunner().on((l) => l === 'kind get clusters', {
      stdout: '',
      stderr: 'No kind clusters found.\n',
    });
    expect(await new KindProvider({ runner: none }).list()).toEqual([]);
  });

  it('delete validates the name and reports a failure with the command and output', async () => {
    const runner = new FakeRunner().on((l) => l.startsWith('kind delete'), {
      exitCode: 1,
      stderr: 'permission denied',
    });
    const p = new KindProvider({ runner });
    await expect(p.delete('cc-a-000001')).rejects.toThrow(
      /deleting kind cluster cc-a-000001: `kind delete cluster --name cc-a-000001 --kubeconfig \/\S+` exited 1\n {2}permission denied/,
    );
    await expect(p.delete('../etc')).rejects.toBeInstanceOf(UsageError);
  });

  it('nodes() uses the audit helper listKindNodes by kind labels', async () => {
    const runner = new FakeRunner()
      .on((l) => l.startsWith('docker ps'), { stdout: 'cc-x-000001-worker\ncc-x-000001-control-plane\n' })
      .on((l) => l.startsWith('docker inspect'), {
        stdout:
          '/cc-x-000001-control-plane\tcontrol-plane\t172.18.0.2 \n/cc-x-000001-worker\tworker\t172.18.0.3 \n',
      });
    const { provider } = setup(runner);
    const h = await provider.create({ ...SPEC, name: 'cc-x-000001' });
    const nodes = await h.nodes();
    expect(nodes.map((n) => `${n.role} ${n.name} ${n.internalIP}`)).toEqual([
      'control-plane cc-x-000001-control-plane 172.18.0.2',
      'worker cc-x-000001-worker 172.18.0.3',
    ]);
    expect(runner.lines().find((l) => l.startsWith('docker ps'))).toContain(
      'label=io.x-k8s.kind.cluster=cc-x-000001',
    );
  });
});

describe("KindProvider as the pipeline's cluster provider", () => {
  it("create passes kind's output lines to the spec's log (what a create timeout reports as last seen)", async () => {
    const runner = new FakeRunner().on(
      (l) => l.startsWith('kind create cluster'),
      (_c, _a, opts) => {
        opts?.onLine?.(' ✓ Preparing nodes 📦', 'stderr');
        return { exitCode: 0 };
      },
    );
    const { provider } = setup(runner);
    const lines: string[] = [];
    const h = await provider.create({ ...SPEC, log: (l) => lines.push(l) });
    expect(lines).toEqual(['  kind:  ✓ Preparing nodes 📦']);
    await h.dispose({ keep: false });
  });

  it('attach reaches an existing kind cluster by its kubeconfig context and never deletes it', async () => {
    const runner = new FakeRunner()
      .on((l) => l.startsWith('docker ps'), { stdout: 'dev-control-plane\n' })
      .on((l) => l.startsWith('docker inspect'), {
        stdout: '/dev-control-plane\tcontrol-plane\t172.18.0.2 \n',
      });
    const kubeconfig = join(root, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: kind-dev, cluster: {server: "https://127.0.0.1:6443"}}]',
        'users: [{name: kind-dev, user: {token: t}}]',
        'contexts: [{name: kind-dev, context: {cluster: kind-dev, user: kind-dev}}]',
        'current-context: kind-dev',
      ].join('\n'),
    );
    const h = await new KindProvider({ runner }).attach(kubeconfig);
    expect(h.name).toBe('dev');
    expect(await h.nodes()).toEqual([
      {
        name: 'dev-control-plane',
        container: 'dev-control-plane',
        role: 'control-plane',
        internalIP: '172.18.0.2',
      },
    ]);
    expect(await h.dispose({ keep: false })).toEqual([]);
    expect(runner.lines().some((l) => l.startsWith('kind delete'))).toBe(false);
  });
});

function readdirCount(dir: string): number {
  return readdirSync(dir).length;
}
