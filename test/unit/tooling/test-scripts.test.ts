/**
 * The package's test scripts select what they say: `npm run test:unit` names a vitest project that exists
 * and holds exactly the unit tests, and the projects together hold every test file once, so `npm test`
 * (every project) still runs everything. Checked with `vitest list --filesOnly`, which collects without
 * running (the script's own arguments, `run` swapped for `list`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const scripts = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;
const tmp = mkdtempSync(join(tmpdir(), 'cc-scripts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every *.test.ts under test/ and harness/ (what the root config has always run), repository-relative. */
function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(rel));
    else if (e.name.endsWith('.test.ts')) out.push(rel);
  }
  return out;
}

/** What `vitest list --filesOnly` collects for these arguments, as repository-relative paths. */
async function listed(args: string[]): Promise<{ file: string; project: string }[]> {
  const out = join(tmp, `list-${Math.random().toString(16).slice(2)}.json`);
  const r = await execa('vitest', ['list', ...args, '--filesOnly', `--json=${out}`], {
    cwd: ROOT,
    preferLocal: true,
    reject: false,
    env: { CI: '1' },
  });
  // vitest list exits 0 even when it collected nothing because of a startup error: the output says so
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/Startup Error|Collect Error|No projects matched/);
  expect(r.exitCode).toBe(0);
  const entries = JSON.parse(readFileSync(out, 'utf8')) as { file: string; projectName?: string }[];
  return entries.map((e) => ({ file: relative(ROOT, e.file), project: e.projectName ?? '' }));
}

describe('test scripts', () => {
  it('npm run test:unit collects exactly the unit tests (test/unit, no docker-backed file)', async () => {
    const m = /^vitest run (.+)$/.exec(scripts['test:unit'] ?? '');
    expect(m, `test:unit is "${scripts['test:unit']}"`).not.toBeNull();
    const files = (await listed(m![1]!.split(/\s+/))).map((e) => e.file).sort();
    const expected = testFiles('test/unit')
      .filter((f) => !f.endsWith('.docker.test.ts'))
      .sort();
    expect(expected.length).toBeGreaterThan(50);
    expect(files).toEqual(expected);
  });

  it('npm test collects every test file exactly once across the projects', async () => {
    expect(scripts.test).toBe('vitest run');
    const entries = await listed([]);
    const files = entries.map((e) => e.file);
    expect([...new Set(files)].length).toBe(files.length);
    expect(files.sort()).toEqual([...testFiles('test'), ...testFiles('harness')].sort());
    // every file belongs to a named project, so `--project X` can select any of them
    expect(entries.filter((e) => e.project === '')).toEqual([]);
  });
});
