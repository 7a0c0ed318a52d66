/**
 * The lab's docker shim (lab/shim/docker) as kind calls it: a fake `docker` later on PATH records the argv
 * the shim hands on. What must hold: `run --privileged` becomes the host's capabilities one by one (never
 * SYS_MODULE, never one outside the bounding set), with the device, seccomp-free and /proc-/sys settings;
 * `exec --privileged` loses the flag; a /lib/modules mount is dropped only where the host has none; every
 * other command passes through untouched.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { LAB_SOURCE_DIR } from '../../../harness/lab/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'cc-shim-'));
const log = join(dir, 'argv');
writeFileSync(join(dir, 'docker'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "${log}"\n`);
chmodSync(join(dir, 'docker'), 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function through(args: string[]): Promise<string[]> {
  await execa(join(LAB_SOURCE_DIR, 'shim', 'docker'), args, {
    env: { PATH: `${join(LAB_SOURCE_DIR, 'shim')}:${dir}:/usr/bin:/bin` },
  });
  return readFileSync(log, 'utf8').trimEnd().split('\n');
}

function boundingSet(): Set<string> {
  const hex = readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*([0-9a-f]+)/m)?.[1] ?? '0';
  const bits = BigInt(`0x${hex}`);
  const names = [
    'CHOWN',
    'DAC_OVERRIDE',
    'DAC_READ_SEARCH',
    'FOWNER',
    'FSETID',
    'KILL',
    'SETGID',
    'SETUID',
    'SETPCAP',
    'LINUX_IMMUTABLE',
    'NET_BIND_SERVICE',
    'NET_BROADCAST',
    'NET_ADMIN',
    'NET_RAW',
    'IPC_LOCK',
    'IPC_OWNER',
    'SYS_MODULE',
    'SYS_RAWIO',
    'SYS_CHROOT',
    'SYS_PTRACE',
    'SYS_PACCT',
    'SYS_ADMIN',
    'SYS_BOOT',
    'SYS_NICE',
    'SYS_RESOURCE',
    'SYS_TIME',
    'SYS_TTY_CONFIG',
    'MKNOD',
    'LEASE',
    'AUDIT_WRITE',
    'AUDIT_CONTROL',
    'SETFCAP',
    'MAC_OVERRIDE',
    'MAC_ADMIN',
    'SYSLOG',
    'WAKE_ALARM',
    'BLOCK_SUSPEND',
    'AUDIT_READ',
  ];
  return new Set(names.filter((_, i) => (bits >> BigInt(i)) & 1n));
}

describe('the lab docker shim', () => {
  it('run --privileged: the host capabilities one by one, never SYS_MODULE, plus devices and unconfined /proc-/sys', async () => {
    const argv = await through([
      'run',
      '--name',
      'n',
      '--privileged',
      '--security-opt',
      'seccomp=unconfined',
      'img',
    ]);
    expect(argv).not.toContain('--privileged');
    const caps = argv.flatMap((a, i) => (argv[i - 1] === '--cap-add' ? [a] : []));
    const bnd = boundingSet();
    expect(caps.length).toBeGreaterThan(10);
    expect(caps).not.toContain('SYS_MODULE');
    for (const c of caps) expect(bnd.has(c), c).toBe(true);
    for (const c of bnd) if (c !== 'SYS_MODULE') expect(caps, c).toContain(c);
    expect(argv.join(' ')).toContain('--security-opt systempaths=unconfined');
    expect(argv.join(' ')).toContain('--device-cgroup-rule a *:* rwm');
    expect(argv.join(' ')).toContain('--device /dev/kmsg');
    // kind's own arguments are kept, in order, after the ones the shim adds
    expect(argv[0]).toBe('run');
    expect(argv.slice(-5)).toEqual(['--name', 'n', '--security-opt', 'seccomp=unconfined', 'img']);
  });

  it('exec --privileged loses only the flag', async () => {
    expect(await through(['exec', '--privileged', '-i', 'node', 'cat', '/kind/version'])).toEqual([
      'exec',
      '-i',
      'node',
      'cat',
      '/kind/version',
    ]);
  });

  it('a /lib/modules mount is dropped exactly when the host has no module tree', async () => {
    const argv = await through([
      'run',
      '--privileged',
      '--volume',
      '/var',
      '--volume',
      '/lib/modules:/lib/modules:ro',
      'img',
    ]);
    expect(argv.join(' ')).toContain('--volume /var');
    if (existsSync('/lib/modules')) expect(argv.join(' ')).toContain('/lib/modules:/lib/modules:ro');
    else expect(argv.join(' ')).not.toContain('/lib/modules');
  });

  it('every other command passes through untouched', async () => {
    const args = ['network', 'inspect', '--format', '{{.Name}} {{.Id}}', 'kind'];
    expect(await through(args)).toEqual(args);
    // `run` without --privileged is untouched too; the shim does not parse docker's flags, so a literal
    // `--privileged` after the image would be taken as the flag (kind never passes one there)
    expect(await through(['run', '--rm', '-v', '/lib/modules:/m', 'img', 'echo', 'x'])).toEqual(
      existsSync('/lib/modules')
        ? ['run', '--rm', '-v', '/lib/modules:/m', 'img', 'echo', 'x']
        : ['run', '--rm', 'img', 'echo', 'x'],
    );
  });
});
