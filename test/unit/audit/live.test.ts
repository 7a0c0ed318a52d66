/**
 * The live path through doubles at the process-runner boundary: kind nodes found by their labels,
 * `docker exec` per contract command, the ipset helper container, `kind get kubeconfig` into a private
 * temp file, and the API state through a ClusterStateReader double.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterStateReader } from '../../../harness/audit/cluster-state.js';
import { collectNodeDump } from '../../../harness/audit/collect.js';
import { auditCommand } from '../../../harness/cli/commands/audit.js';
import { collectCommand } from '../../../harness/cli/commands/collect.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { listKindNodes } from '../../../harness/cluster/kind-nodes.js';
import type { NodeShell } from '../../../harness/cluster/node-shell.js';
import { EnvironmentError, ExitCode, exitCodeOf } from '../../../harness/errors.js';
import type { ProcessRunner, RunResult } from '../../../harness/exec/process.js';
import { DUMP_COMMANDS } from '../../../harness/node-state/dump.js';

const result = (
  command: string,
  args: readonly string[],
  exitCode: number,
  stdout = '',
  stderr = '',
): RunResult => ({
  command,
  args,
  exitCode,
  stdout,
  stderr,
  timedOut: false,
  durationMs: 1,
});

const NOT_FOUND =
  'OCI runtime exec failed: exec failed: unable to start container process: exec: "ipset": executable file not found in $PATH: unknown';

/** A fake docker/kind for a two-node kind cluster `dev` whose nodes have no ipset binary. */
function fakeRunner(calls: string[][]): ProcessRunner {
  return {
    async run(command, args) {
      calls.push([command, ...args]);
      if (command === 'kind') return result(command, args, 0, 'apiVersion: v1\nkind: Config\n');
      if (args[0] === 'ps') return result(command, args, 0, 'dev-worker\ndev-control-plane\n');
      if (args[0] === 'inspect') {
        return result(
          command,
          args,
          0,
          '/dev-control-plane\tcontrol-plane\t172.18.0.2 \n/dev-worker\tworker\t172.18.0.3 \n',
        );
      }
      if (args[0] === 'run') return result(command, args, 0, 'cali40all-ipam-pools\n');
      if (args[0] === 'exec') {
        const argv = args.slice(2);
        if (argv[0] === 'ipset') return result(command, args, 127, '', NOT_FOUND);
        if (argv[0] === 'ip' && argv.includes('link'))
          return result(command, args, 0, '[{"ifname":"lo","flags":["LOOPBACK","UP"]}]');
        if (argv[0] === 'ip') return result(command, args, 0, '[]');
        if (argv[0] === 'find')
          return result(
            command,
            args,
            1,
            'd /opt/cni/bin\nf /opt/cni/bin/host-local\n',
            "find: '/var/lib/calico': No such file or directory",
          );
        return result(command, args, 0, '');
      }
      return result(command, args, 1, '', 'unexpected');
    },
  };
}

const emptyReader: ClusterStateReader = {
  listCrdNames: async () => [],
  listNamespaces: async () => [{ name: 'default', phase: 'Active' }],
  listNodes: async () => [
    {
      name: 'dev-worker',
      annotations: { 'projectcalico.org/IPv4Address': '172.18.0.3/16' },
      conditions: [],
      taints: [],
    },
  ],
  listApiServiceNames: async () => [],
  listWebhookConfigurations: async () => [],
  listClusterRoleNames: async () => [],
  listClusterRoleBindingNames: async () => [],
  listIpPools: async () => [],
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('listKindNodes', () => {
  it('finds nodes by the kind cluster label, control plane first, with their addresses', async () => {
    const calls: string[][] = [];
    const nodes = await listKindNodes('dev', fakeRunner(calls));
    expect(nodes).toEqual([
      {
        name: 'dev-control-plane',
        container: 'dev-control-plane',
        role: 'control-plane',
        internalIP: '172.18.0.2',
      },
      { name: 'dev-worker', container: 'dev-worker', role: 'worker', internalIP: '172.18.0.3' },
    ]);
    expect(calls[0]).toEqual([
      'docker',
      'ps',
      '--filter',
      'label=io.x-k8s.kind.cluster=dev',
      '--format',
      '{{.Names}}',
    ]);
  });

  it('skips the external load balancer of an HA cluster', async () => {
    const runner: ProcessRunner = {
      run: async (c, a) =>
        a[0] === 'ps'
          ? result(c, a, 0, 'ha-external-load-balancer\nha-control-plane\n')
          : result(
              c,
              a,
              0,
              '/ha-external-load-balancer\texternal-load-balancer\t172.18.0.9 \n/ha-control-plane\tcontrol-plane\t172.18.0.2 \n',
            ),
    };
    expect((await listKindNodes('ha', runner)).map((n) => n.name)).toEqual(['ha-control-plane']);
  });
});

describe('collect/audit --cluster without a usable Docker: environment error (exit 3), not a failure', () => {
  const noDocker: ProcessRunner = {
    run: async (c, a) => result(c, a, 127, '', 'docker: command not found'),
  };
  const noDaemon: ProcessRunner = {
    run: async (c, a) =>
      result(
        c,
        a,
        1,
        '',
        'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
      ),
  };

  it('docker not installed (exit 127): EnvironmentError naming docker and how to get it', async () => {
    const err = await listKindNodes('dev', noDocker).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(exitCodeOf(err)).toBe(ExitCode.Environment);
    expect((err as EnvironmentError).missing).toEqual(['docker']);
    expect((err as Error).message).toMatch(/not found on PATH.*Install Docker/);
    const collectErr = await collectCommand(['--cluster', 'dev', '--out', tmpdir()], memoryIO(), {
      runner: noDocker,
    }).catch((e: unknown) => e);
    expect(exitCodeOf(collectErr)).toBe(3);
  });

  it('daemon unreachable: EnvironmentError saying to start it; audit --cluster maps to exit 3', async () => {
    const err = await auditCommand(['--cluster', 'dev'], memoryIO(), { runner: noDaemon }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(exitCodeOf(err)).toBe(3);
    expect((err as Error).message).toMatch(/Docker daemon is not reachable.*start it/);
  });

  it('any other docker failure stays a command failure (exit 1) with the output', async () => {
    const other: ProcessRunner = {
      run: async (c, a) => result(c, a, 1, '', 'invalid filter'),
    };
    const err = await listKindNodes('dev', other).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(EnvironmentError);
    expect(exitCodeOf(err)).toBe(1);
    expect((err as Error).message).toMatch(/invalid filter/);
  });
});

describe('collectNodeDump', () => {
  it('runs exactly the contract commands; a command the node lacks leaves its file absent with the reason', async () => {
    const seen: string[][] = [];
    const shell: NodeShell = {
      node: 'n1',
      exec: async (argv) => {
        seen.push([...argv]);
        if (argv[0] === 'nft')
          return result('docker', argv, 126, '', 'exec: "nft": executable file not found in $PATH');
        if (argv[0] === 'iptables-legacy-save')
          return result('docker', argv, 1, '', 'iptables-legacy-save: Permission denied');
        return result('docker', argv, 0, argv[0] === 'ipset' ? 'KUBE-LOOP-BACK\n' : '[]');
      },
    };
    const dump = await collectNodeDump(shell, { baseline: 'abc' });
    expect(seen).toEqual(Object.values(DUMP_COMMANDS).map((a) => [...a]));
    expect(dump.files['nft-tables.txt']).toBeUndefined();
    expect(dump.notes.unavailable?.['nft-tables.txt']).toMatch(/command not available on the node/);
    expect(dump.files['iptables-legacy-save.txt']).toBeUndefined();
    expect(dump.notes.unavailable?.['iptables-legacy-save.txt']).toMatch(
      /exited 1: iptables-legacy-save: Permission denied/,
    );
    expect(dump.files['cni-bin-baseline.sha256']).toBe('abc');
    expect(dump.notes.ipsetVia).toBe('node');
  });
});

describe('ipsets on a node without the ipset binary', () => {
  const noIpset: NodeShell = {
    node: 'kind-worker',
    exec: async (argv) =>
      argv[0] === 'ipset' ? result('docker', argv, 127, '', NOT_FOUND) : result('docker', argv, 0, '[]'),
  };

  it('is "not checked" with the reason when the helper image is not on the machine (never pulled)', async () => {
    const dump = await collectNodeDump(noIpset, {
      ipsetFallback: {
        via: 'calico-conformance-testnode:latest',
        list: async () =>
          result(
            'docker',
            ['run'],
            125,
            '',
            'docker: Error response from daemon: No such image: calico-conformance-testnode:latest.',
          ),
      },
    });
    expect(dump.files['ipset-list.txt']).toBeUndefined();
    expect(dump.notes.unavailable?.['ipset-list.txt']).toMatch(
      /no ipset binary on the node, and the helper .* failed: exited 125: .*No such image/,
    );
  });

  it('with the fallback turned off (null) is "not checked" as a missing command', async () => {
    const dump = await collectNodeDump(noIpset, { ipsetFallback: null });
    expect(dump.notes.unavailable?.['ipset-list.txt']).toMatch(/command not available on the node/);
  });
});

describe('collect and audit --cluster (doubles for docker, kind and the API)', () => {
  it('collect writes every node, lists ipsets through the helper container, and writes cluster.json', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cc-collect-'));
    dirs.push(out);
    const calls: string[][] = [];
    let kubeconfigPath = '';
    const io = memoryIO();
    const code = await collectCommand(['--cluster', 'dev', '--out', out], io, {
      runner: fakeRunner(calls),
      stateReaderFor: async (p) => {
        kubeconfigPath = p;
        expect(statSync(p).mode & 0o077).toBe(0);
        expect(readFileSync(p, 'utf8')).toContain('kind: Config');
        return emptyReader;
      },
    });
    expect(code).toBe(0);
    expect(existsSync(join(out, 'dev-worker', 'ip-link.json'))).toBe(true);
    expect(readFileSync(join(out, 'dev-control-plane', 'ipset-list.txt'), 'utf8')).toBe(
      'cali40all-ipam-pools\n',
    );
    expect(JSON.parse(readFileSync(join(out, 'cluster.json'), 'utf8')).nodes[0].name).toBe('dev-worker');
    expect(existsSync(kubeconfigPath)).toBe(false);
    const helper = calls.find((c) => c[1] === 'run')!;
    expect(helper).toEqual([
      'docker',
      'run',
      '--rm',
      '--pull',
      'never',
      '--network',
      'container:dev-control-plane',
      '--cap-add',
      'NET_ADMIN',
      '--label',
      'calico-conformance.helper=ipset',
      '--entrypoint',
      'ipset',
      'calico-conformance-testnode:latest',
      'list',
      '-n',
    ]);
    expect(calls.find((c) => c[0] === 'kind')).toEqual(['kind', 'get', 'kubeconfig', '--name', 'dev']);
  });

  it('audit --cluster uses the same collection and rules: ipset and annotation findings, exit 1', async () => {
    const io = memoryIO();
    const code = await auditCommand(['--cluster', 'dev', '--output', 'json'], io, {
      runner: fakeRunner([]),
      stateReaderFor: async () => emptyReader,
    });
    expect(code).toBe(1);
    const json = JSON.parse(io.stdout);
    expect(json.findings.map((f: { category: string; name: string }) => `${f.category} ${f.name}`)).toEqual(
      expect.arrayContaining([
        'ipset cali40all-ipam-pools',
        'api node dev-worker annotations projectcalico.org/*',
      ]),
    );
    const allowed = memoryIO();
    await auditCommand(
      ['--cluster', 'dev', '--output', 'json', '--allow', 'node-annotations,calico-ipset'],
      allowed,
      {
        runner: fakeRunner([]),
        stateReaderFor: async () => emptyReader,
      },
    );
    expect(JSON.parse(allowed.stdout).clean).toBe(true);
  });
});

describe('collect keeps a baseline taken earlier', () => {
  it('reads DIR/<node>/cni-bin-baseline.sha256 from --baseline-dir into the new dump', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cc-base-'));
    const out = mkdtempSync(join(tmpdir(), 'cc-out-'));
    dirs.push(base, out);
    mkdirSync(join(base, 'dev-worker'));
    const sum = `${'a'.repeat(64)}  /opt/cni/bin/host-local\n`;
    writeFileSync(join(base, 'dev-worker', 'cni-bin-baseline.sha256'), sum);
    const io = memoryIO();
    await collectCommand(['--cluster', 'dev', '--out', out, '--baseline-dir', base], io, {
      runner: fakeRunner([]),
      stateReaderFor: async () => emptyReader,
    });
    expect(readFileSync(join(out, 'dev-worker', 'cni-bin-baseline.sha256'), 'utf8')).toBe(sum);
    expect(existsSync(join(out, 'dev-control-plane', 'cni-bin-baseline.sha256'))).toBe(false);
  });
});
