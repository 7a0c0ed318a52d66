/**
 * `run --lab` refuses what the lab cannot do before anything is created: another Calico version or a
 * --manifests-dir is bad usage (exit 2, naming the lab's version); a lab that is not built is the
 * environment (exit 3, naming the missing parts and how to build them); operator cells need the optional
 * operator parts: without them a run of operator cells only is exit 3, and a mixed run skips them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../harness/cli/commands/run.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { EnvironmentError, ExitCode, exitCodeOf, UsageError } from '../../../harness/errors.js';
import { readLabLock } from '../../../harness/lab/lock.js';
import { missingForCells, unavailablePaths } from '../../../harness/lab/status.js';

const lock = readLabLock();
const empty = mkdtempSync(join(tmpdir(), 'cc-nolab-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

async function run(argv: string[]): Promise<unknown> {
  const io = memoryIO({});
  return runCommand(['--lab', '--report-dir', join(empty, 'out'), ...argv], io, {
    handleSignals: false,
  }).catch((e: unknown) => e);
}

describe('run --lab', () => {
  it('another --calico-version is exit 2 naming the version the lab provides', async () => {
    const err = await run([
      '--install',
      'manifest',
      '--encapsulation',
      'VXLAN',
      '--calico-version',
      'v3.32.1',
    ]);
    expect(err).toBeInstanceOf(UsageError);
    expect(exitCodeOf(err)).toBe(ExitCode.Usage);
    expect((err as Error).message).toContain(`the lab provides ${lock.calico.version} only`);
  });

  it('--manifests-dir is exit 2: the lab brings its own manifests', async () => {
    const err = await run(['--install', 'manifest', '--encapsulation', 'VXLAN', '--manifests-dir', empty]);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/--manifests-dir does not apply/);
  });

  it('a lab that is not built is exit 3 naming what is missing and how to build it', async () => {
    const before = process.env.CALICO_CONFORMANCE_LAB_DIR;
    process.env.CALICO_CONFORMANCE_LAB_DIR = empty;
    try {
      const err = await run(['--install', 'manifest', '--encapsulation', 'VXLAN']);
      expect(err).toBeInstanceOf(EnvironmentError);
      expect(exitCodeOf(err)).toBe(ExitCode.Environment);
      const msg = (err as Error).message;
      expect(msg).toContain(`the lab is not complete in ${empty}`);
      for (const part of ['kubernetes', 'calico', 'image-node'])
        expect(msg).toContain(`${part} (never built)`);
      expect(msg).not.toMatch(/\boperator \(/);
      expect(msg).toContain('npm run lab:build');
    } finally {
      if (before === undefined) delete process.env.CALICO_CONFORMANCE_LAB_DIR;
      else process.env.CALICO_CONFORMANCE_LAB_DIR = before;
    }
  });

  it('operator cells need the optional operator parts; manifest cells do not', () => {
    const status = {
      root: empty,
      complete: true,
      parts: [
        { name: 'calico', built: true },
        { name: 'operator', built: false, optional: 'not served here' },
        { name: 'images-operator', built: false, optional: 'not served here' },
      ],
    };
    expect(missingForCells(status, [{ install: 'manifest' }])).toEqual([]);
    expect(missingForCells(status, [{ install: 'manifest' }, { install: 'operator' }])).toEqual([
      'operator (not served here)',
      'images-operator (not served here)',
    ]);
    // a mixed run skips the operator cells with the reason; an operator-only run has nothing to run (exit 3)
    expect(unavailablePaths(status, [{ install: 'manifest' }])).toEqual({ all: false, missing: [] });
    expect(unavailablePaths(status, [{ install: 'manifest' }, { install: 'operator' }])).toEqual({
      operator:
        'the lab cannot run the operator path: operator (not served here); images-operator (not served here)',
      all: false,
      missing: ['operator (not served here)', 'images-operator (not served here)'],
    });
    expect(unavailablePaths(status, [{ install: 'operator' }]).all).toBe(true);
    expect(
      unavailablePaths({ ...status, parts: [{ name: 'calico', built: true }] }, [{ install: 'operator' }]),
    ).toEqual({
      all: false,
      missing: [],
    });
  });
});
