import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { EnvironmentError } from '../../../harness/errors.js';
import type { ProcessRunner, RunResult } from '../../../harness/exec/process.js';
import { detectIpip, type KernelPaths } from '../../../harness/preflight/ipip.js';
import {
  assertUsable,
  cellSkipReason,
  checkDocker,
  checkKind,
  runPreflight,
} from '../../../harness/preflight/preflight.js';

/** A ProcessRunner double: answers by command name, records every call. */
function fakeRunner(answers: Record<string, Partial<RunResult>>): ProcessRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(command, args) {
      calls.push([command, ...args].join(' '));
      const a = answers[command] ?? { exitCode: 127, stderr: `${command}: command not found` };
      return { command, args, exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1, ...a };
    },
  };
}

const root = mkdtempSync(join(tmpdir(), 'cc-preflight-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fake kernel: only the files given exist. */
function kernel(
  files: Partial<Record<keyof KernelPaths | 'modules.dep' | 'modules.builtin', string | Buffer>>,
  sysModule = false,
): KernelPaths {
  const d = join(root, `k${++n}`);
  mkdirSync(join(d, 'lib'), { recursive: true });
  const paths: KernelPaths = {
    procModules: join(d, 'modules'),
    sysModuleIpip: join(d, 'sys-module-ipip'),
    procNetDev: join(d, 'net-dev'),
    procConfigGz: join(d, 'config.gz'),
    bootConfig: join(d, 'boot-config'),
    modulesDir: join(d, 'lib'),
    kernelRelease: '6.1.0-test',
  };
  for (const [k, v] of Object.entries(files)) {
    if (k === 'modules.dep' || k === 'modules.builtin') writeFileSync(join(d, 'lib', k), v as string);
    else writeFileSync(paths[k as keyof KernelPaths] as string, v as string);
  }
  if (sysModule) mkdirSync(paths.sysModuleIpip);
  return paths;
}

const NET_DEV = 'Inter-| Receive\n face |bytes\n    lo: 1 2\n  eth0: 3 4\n';

describe('ipip support in the host kernel (read-only)', () => {
  it('loaded: /proc/modules lists ipip', async () => {
    const r = await detectIpip(
      kernel({ procModules: 'ip_tunnel 32768 1 ipip, Live\nipip 20480 0 - Live 0x0\n' }),
    );
    expect(r).toMatchObject({ available: true, support: 'loaded' });
  });

  it('does not mistake another module that mentions ipip for ipip', async () => {
    const r = await detectIpip(
      kernel({ procModules: 'ip_tunnel 32768 1 ipip, Live\n', procNetDev: NET_DEV, 'modules.dep': '' }),
    );
    expect(r.support).toBe('absent');
  });

  it('loaded or built in: /sys/module/ipip exists', async () => {
    const r = await detectIpip(kernel({}, true));
    expect(r).toMatchObject({ available: true, support: 'loaded' });
  });

  it('live: tunl0 in /proc/net/dev', async () => {
    const r = await detectIpip(kernel({ procNetDev: `${NET_DEV}  tunl0: 0 0\n` }));
    expect(r.support).toBe('loaded');
  });

  it('built in: CONFIG_NET_IPIP=y in /proc/config.gz', async () => {
    const r = await detectIpip(
      kernel({ procNetDev: NET_DEV, procConfigGz: gzipSync('CONFIG_NET_IPIP=y\n') }),
    );
    expect(r).toMatchObject({ available: true, support: 'built-in' });
  });

  it('absent: "CONFIG_NET_IPIP is not set" (this is what a kernel without ipip says), with the reason for the skip', async () => {
    const r = await detectIpip(
      kernel({ procNetDev: NET_DEV, bootConfig: 'CONFIG_VXLAN=y\n# CONFIG_NET_IPIP is not set\n' }),
    );
    expect(r).toMatchObject({ available: false, support: 'absent' });
    expect(r.reason).toBe(
      "the host kernel (6.1.0-test) has no ipip support (CONFIG_NET_IPIP is not set); IPIP cells need the host's ipip module because kind nodes share the host kernel",
    );
  });

  it('loadable: CONFIG_NET_IPIP=m and the module is in modules.dep', async () => {
    const r = await detectIpip(
      kernel({
        procNetDev: NET_DEV,
        bootConfig: 'CONFIG_NET_IPIP=m\n',
        'modules.dep': 'kernel/net/ipv4/ipip.ko.zst: kernel/net/ipv4/ip_tunnel.ko.zst\n',
      }),
    );
    expect(r).toMatchObject({ available: true, support: 'loadable' });
  });

  it('asks modinfo (read-only) when the files say nothing, and never modprobe', async () => {
    const runner = fakeRunner({
      modinfo: { exitCode: 0, stdout: '/lib/modules/6.1.0/kernel/net/ipv4/ipip.ko\n' },
    });
    const r = await detectIpip(kernel({ procNetDev: NET_DEV }), runner);
    expect(r.support).toBe('loadable');
    expect(runner.calls).toEqual(['modinfo -n ipip']);
  });

  it('unknown when nothing answers: not available, and the reason says how to override', async () => {
    const runner = fakeRunner({});
    const r = await detectIpip(kernel({}), runner);
    expect(r).toMatchObject({ available: false, support: 'unknown' });
    expect(r.reason).toMatch(/could not confirm ipip support .* pass --assume-ipip/);
    expect(runner.calls.some((c) => /modprobe|insmod/.test(c))).toBe(false);
    const assumed = await detectIpip(kernel({}), runner, true);
    expect(assumed.available).toBe(true);
    expect(assumed.evidence.join('\n')).toMatch(/--assume-ipip/);
  });
});

describe('docker and kind', () => {
  it('docker: the server version when the daemon answers', async () => {
    expect(await checkDocker(fakeRunner({ docker: { stdout: '27.3.1\n' } }))).toEqual({
      ok: true,
      version: '27.3.1',
    });
  });

  it('docker missing or daemon down: says what to do', async () => {
    expect((await checkDocker(fakeRunner({}))).problem).toMatch(
      /docker: command not found\. Install Docker Engine/,
    );
    const down = await checkDocker(
      fakeRunner({
        docker: { exitCode: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' },
      }),
    );
    expect(down.ok).toBe(false);
    expect(down.problem).toMatch(/does not answer `docker info`: Cannot connect.*Start it/);
  });

  it('kind: parses `kind version`, rejects a too old one and a missing one with how to install', async () => {
    expect(await checkKind(fakeRunner({ kind: { stdout: 'kind v0.31.0 go1.25.5 linux/amd64\n' } }))).toEqual({
      ok: true,
      version: '0.31.0',
    });
    const old = await checkKind(fakeRunner({ kind: { stdout: 'kind v0.11.1 go1.16 linux/amd64\n' } }));
    expect(old).toMatchObject({ ok: false, version: '0.11.1' });
    expect(old.problem).toMatch(/older than 0\.20\.0/);
    expect((await checkKind(fakeRunner({}))).problem).toMatch(
      /kind: command not found\. Install kind v0\.31\.0.*go install sigs\.k8s\.io\/kind@v0\.31\.0/,
    );
  });

  it('an unusable machine is an EnvironmentError (exit 3) naming everything missing', async () => {
    const report = await runPreflight({ runner: fakeRunner({}), kernelPaths: kernel({}) });
    let err: unknown;
    try {
      assertUsable(report);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).exitCode).toBe(3);
    expect((err as EnvironmentError).missing).toEqual(['docker', 'kind']);
    expect((err as Error).message).toMatch(/docker: command not found[\s\S]*kind: command not found/);
  });

  it('an existing cluster (--kubeconfig) needs no kind', async () => {
    const runner = fakeRunner({ docker: { stdout: '27.3.1\n' } });
    const report = await runPreflight({
      runner,
      needKind: false,
      kernelPaths: kernel({ procModules: 'ipip 1 0 - Live\n' }),
    });
    expect(() => assertUsable(report)).not.toThrow();
    expect(runner.calls.some((c) => c.startsWith('kind'))).toBe(false);
  });
});

describe('which cells the host cannot run', () => {
  const cells = buildMatrix({ flags: { install: 'manifest,operator' } });
  const noIpip = { ipip: { available: false, support: 'absent' as const, evidence: [], reason: 'no ipip' } };

  it('skips IPIP and IPIPCrossSubnet on both install paths, nothing else', () => {
    const skipped = cells
      .filter((c) => cellSkipReason(c, noIpip))
      .map((c) => `${c.install}/${c.encapsulation}`);
    expect(skipped.sort()).toEqual([
      'manifest/IPIP',
      'manifest/IPIPCrossSubnet',
      'operator/IPIP',
      'operator/IPIPCrossSubnet',
    ]);
    expect(
      cells.every((c) => cellSkipReason(c, { ipip: { ...noIpip.ipip, available: true } }) === undefined),
    ).toBe(true);
  });

  it('skips every cell of an install path the environment cannot run, with its reason before the kernel one', () => {
    const report = { ...noIpip, unavailablePaths: { operator: 'the lab cannot run the operator path: x' } };
    const reasons = cells.map((c) => [`${c.install}/${c.encapsulation}`, cellSkipReason(c, report)]);
    for (const [name, reason] of reasons) {
      if (String(name).startsWith('operator/'))
        expect(reason).toBe('the lab cannot run the operator path: x');
      else if (String(name).includes('IPIP')) expect(reason).toBe(noIpip.ipip.reason);
      else expect(reason).toBeUndefined();
    }
    expect(reasons.filter(([, r]) => r === undefined)).toHaveLength(3);
  });
});
