/**
 * The lab calico/node image's `sv` (lab/images/calico-node/sv), run here as calico-node runs it: `sv status
 * /etc/service/enabled/<name>` for -bird-live (node/pkg/health/health.go checkService: the output must
 * start with "run"), `sv hup bird` from confd's reload_cmd. Service directories are laid out as the lab's
 * supervisor (lab/images/calico-node/start) keeps them: supervise/pid (empty while down) and supervise/stat.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { LAB_SOURCE_DIR } from '../../../harness/lab/lock.js';

const SV = join(LAB_SOURCE_DIR, 'images', 'calico-node', 'sv');
const svdir = mkdtempSync(join(tmpdir(), 'cc-sv-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(svdir, { recursive: true, force: true });
});

function service(name: string, stat: 'run' | 'down', pid: number | ''): string {
  const dir = join(svdir, name);
  mkdirSync(join(dir, 'supervise'), { recursive: true });
  writeFileSync(join(dir, 'run'), '#!/bin/bash\nexec sleep 600\n');
  writeFileSync(join(dir, 'supervise', 'pid'), pid === '' ? '' : `${pid}\n`);
  writeFileSync(join(dir, 'supervise', 'stat'), `${stat}\n`);
  return dir;
}

/** a process that writes `hup` to FILE on SIGHUP; resolves once its trap is set */
async function hupRecorder(file: string): Promise<number> {
  const ready = `${file}.ready`;
  const child = spawn(
    'bash',
    ['-c', `trap 'echo hup >> "$1"' HUP; touch "$2"; while :; do sleep 0.1; done`, 'bash', file, ready],
    { stdio: 'ignore', detached: true },
  );
  child.unref();
  started.push(child.pid!);
  for (let i = 0; i < 100 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 20));
  return child.pid!;
}

const sv = (args: string[]) => execa(SV, args, { reject: false, env: { SVDIR: svdir } });

describe('the lab image’s sv', () => {
  it('status of a running service starts with "run: " and names its pid (what -bird-live accepts), exit 0', async () => {
    const pid = await hupRecorder(join(svdir, 'bird.hups'));
    const dir = service('bird', 'run', pid);
    const r = await sv(['status', dir]);
    expect(r.stdout).toMatch(new RegExp(`^run: ${dir}: \\(pid ${pid}\\) \\d+s$`));
    expect(r.exitCode).toBe(0);
    // a bare name is $SVDIR/<name>, as confd's `sv hup bird` names it
    expect((await sv(['s', 'bird'])).stdout).toMatch(/^run: bird: \(pid \d+\) \d+s$/);
  });

  it('status of a service that is down, or whose recorded process is gone, starts with "down: " and still exits 0 (as runit)', async () => {
    const down = service('confd', 'down', '');
    const r = await sv(['status', down]);
    expect(r.stdout).toMatch(new RegExp(`^down: ${down}: \\d+s, normally up$`));
    expect(r.exitCode).toBe(0);
    // a pid that no longer exists: the supervisor has not rewritten the files yet
    const gone = spawn('true');
    await new Promise((res) => gone.on('exit', res));
    const stale = service('felix', 'run', gone.pid!);
    expect((await sv(['status', stale])).stdout).toMatch(/^down: /);
  });

  it('a service directory that does not exist or is not supervised is a failure, one exit point per service', async () => {
    const r = await sv(['status', join(svdir, 'bird6')]);
    expect(r.stdout).toBe(
      `fail: ${join(svdir, 'bird6')}: unable to change to service directory: file does not exist`,
    );
    expect(r.exitCode).toBe(1);
    mkdirSync(join(svdir, 'unsupervised'));
    const two = await sv(['status', 'unsupervised', 'bird6', 'bird']);
    expect(two.stdout.split('\n')).toEqual([
      'warning: unsupervised: unable to open supervise/ok: file does not exist',
      'fail: bird6: unable to change to service directory: file does not exist',
      expect.stringMatching(/^run: bird: /),
    ]);
    expect(two.exitCode).toBe(2);
  });

  it('hup sends SIGHUP to the service’s process (confd’s reload_cmd); to a service that is down it fails', async () => {
    const file = join(svdir, 'reload.hups');
    const pid = await hupRecorder(file);
    service('reload', 'run', pid);
    const r = await sv(['hup', 'reload']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((res) => setTimeout(res, 20));
    expect(readFileSync(file, 'utf8')).toBe('hup\n');
    service('stopped', 'down', '');
    const d = await sv(['hup', 'stopped']);
    expect(d.stdout).toBe('fail: stopped: down, cannot send HUP');
    expect(d.exitCode).toBe(1);
  });

  it('an unknown command or no service is a usage error, exit 100 (as runit)', async () => {
    expect((await sv(['restart', 'bird'])).exitCode).toBe(100);
    expect((await sv(['status'])).exitCode).toBe(100);
    expect((await sv(['-x', 'status', 'bird'])).exitCode).toBe(100);
    expect((await sv(['-v', '-w', '7', 'status', 'bird'])).stdout).toMatch(/^run: bird: /);
  });
});
