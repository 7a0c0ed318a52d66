/**
 * The README's layout paragraph describes harness/ as it is: every folder (and every file directly in
 * harness/) is named there in backquotes, and nothing named there as a harness folder is missing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

function layoutParagraph(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('Layout: `harness/`');
  expect(start, 'README has a paragraph starting "Layout: `harness/`"').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n\n', start);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe("the README's layout of harness/", () => {
  const entries = readdirSync(join(ROOT, 'harness'), { withFileTypes: true }).filter(
    (e) => e.isDirectory() || /\.ts$/.test(e.name),
  );
  const paragraph = layoutParagraph();
  const named = new Set([...paragraph.matchAll(/`([\w.-]+)`/g)].map((m) => m[1]!));

  it('names every folder and file of harness/', () => {
    const missing = entries.map((e) => e.name).filter((n) => !named.has(n));
    expect(missing, 'add them to the Layout paragraph with what they hold').toEqual([]);
  });

  it('names no harness folder that does not exist', () => {
    // the folder-like names of the paragraph's harness part (before `suites/`)
    const harnessPart = paragraph.slice(0, paragraph.indexOf('`suites/`'));
    const names = [...harnessPart.matchAll(/`([\w-]+)`/g)]
      .map((m) => m[1]!)
      .filter((n) => !n.startsWith('-'));
    const existing = new Set(entries.map((e) => e.name));
    expect(names.filter((n) => !existing.has(n))).toEqual([]);
  });
});
