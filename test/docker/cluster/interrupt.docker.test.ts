/**
 * Interruption: a run that has created real containers and a temp dir is signalled mid-way; its teardown must
 * remove everything and leave no state record. A run that is killed outright (no chance to clean up) leaves its
 * record, and `cleanup` removes what it names.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { defaultRunner } from '../../../harness/exec/process.js';
import { cleanupLeftovers } from '../../../harness/state/cleanup.js';
import { killIfRunning } from '../../support/children.js';
import { describeDocker } from '../../support/docker.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');
const tags: string[] = [];
const roots: string[] = [];
/** every child started here: a failing test must not leave one running (killed in finally and in afterAll) */
const children: ChildProcess[] = [];

/** runs a test body on a started run, and kills the child if the body ends (or throws) while it still runs */
async function withRun(run: Started, body: (run: Started) => Promise<void>): Promise<void> {
  try {
    await body(run);
  } finally {
    await killIfRunning(run.child);
  }
}

async function containersTagged(tag: string): Promise<string[]> {
  const r = await defaultRunner.run('docker', [
    'ps',
    '-a',
    '--filter',
    `label=calico-conformance.test=${tag}`,
    '--format',
    '{{.Names}}',
  ]);
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

interface Started {
  child: ChildProcess;
  ready: { containers: string[]; dir: string; stateFile: string };
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stateDir: string;
}

async function startRun(extraEnv: Record<string, string> = {}): Promise<Started> {
  const tag = randomBytes(3).toString('hex');
  tags.push(tag);
  const root = mkdtempSync(join(tmpdir(), 'cc-int-state-'));
  roots.push(root);
  const stateDir = join(root, 'state');
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'interrupt-child.ts')], {
    cwd: repoRoot,
    env: { ...process.env, STATE_DIR: stateDir, RUN_TAG: tag, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  const readying = new Promise<Started['ready']>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not READY in 60s; stderr: ${err}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /READY (.*)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveReady(JSON.parse(m[1]!));
      }
    });
    void exited.then(({ code }) => reject(new Error(`child exited ${code} before READY; stderr: ${err}`)));
  });
  let ready: Started['ready'];
  try {
    ready = await readying;
  } catch (e) {
    // not READY in time (or unparsable): the child may be hung, do not leave it running
    await killIfRunning(child);
    throw e;
  }
  return { child, ready, stderr: () => err, exited, stateDir };
}

describeDocker('interrupting a run removes what it created', () => {
  afterAll(async () => {
    // stop any child still running first, so it creates nothing after the sweep below
    for (const c of children) await killIfRunning(c);
    // whatever a failing test left: remove by the test's own label
    for (const tag of tags) {
      const left = await containersTagged(tag);
      if (left.length) await defaultRunner.run('docker', ['rm', '-f', '-v', ...left]);
    }
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  it('SIGINT mid-way: the teardown removes both containers and the temp dir, and exits 130', async () => {
    await withRun(await startRun(), async (run) => {
      expect(run.ready.containers).toHaveLength(2);
      expect((await containersTagged(tags.at(-1)!)).sort()).toEqual([...run.ready.containers].sort());
      expect(existsSync(run.ready.stateFile)).toBe(true);
      expect(existsSync(run.ready.dir)).toBe(true);

      run.child.kill('SIGINT');
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(130);
      expect(await containersTagged(tags.at(-1)!)).toEqual([]);
      expect(existsSync(run.ready.dir)).toBe(false);
      expect(existsSync(run.ready.stateFile)).toBe(false);
      expect(run.stderr()).toMatch(/teardown \(SIGINT received\): removing 3 item\(s\)/);
    });
  }, 120_000);

  it('SIGTERM does the same and exits 143', async () => {
    await withRun(await startRun(), async (run) => {
      run.child.kill('SIGTERM');
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(143);
      expect(await containersTagged(tags.at(-1)!)).toEqual([]);
      expect(existsSync(run.ready.stateFile)).toBe(false);
    });
  }, 120_000);

  it('an uncaught exception mid-way runs the teardown too, and exits 1', async () => {
    await withRun(await startRun({ CRASH: '1' }), async (run) => {
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(1);
      expect(run.stderr()).toMatch(/simulated crash mid-way/);
      expect(await containersTagged(tags.at(-1)!)).toEqual([]);
      expect(existsSync(run.ready.dir)).toBe(false);
      expect(existsSync(run.ready.stateFile)).toBe(false);
    });
  }, 120_000);

  it('SIGKILL leaves the record behind, and cleanup removes what it names', async () => {
    await withRun(await startRun(), async (run) => {
      run.child.kill('SIGKILL');
      await run.exited;
      expect((await containersTagged(tags.at(-1)!)).length).toBe(2);
      expect(existsSync(run.ready.stateFile)).toBe(true);

      // only what the state file names: other tests on this machine may own labelled containers
      const report = await cleanupLeftovers({ dir: run.stateDir, discover: false });
      expect(report.failed).toEqual([]);
      const removed = report.removed.map((r) => r.resource.name);
      for (const c of run.ready.containers) expect(removed).toContain(c);
      expect(removed).toContain(run.ready.dir);
      expect(await containersTagged(tags.at(-1)!)).toEqual([]);
      expect(existsSync(run.ready.dir)).toBe(false);
      expect(readdirSync(run.stateDir)).toEqual([]);
    });
  }, 120_000);
});
