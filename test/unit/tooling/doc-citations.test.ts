/**
 * Comments and documents resolve in a fresh clone: no comment, JSDoc, YAML or shell comment, and no Markdown
 * file in the repository cites the design, style and reference notes that live outside it (STYLE.md,
 * DESIGN.md, the reference notes and their numbered sections). A comment states the fact with its upstream
 * source, or points into docs/ (docs/calico-facts.md, docs/contracts.md).
 *
 * Only comments are read: string literals are program output, not documentation. Test fixtures (captured
 * and upstream data under test/fixtures/, apart from the tests that live there) are left as captured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const SELF = 'test/unit/tooling/doc-citations.test.ts';

/** The documents outside the repository, and the section marks (§) that only ever pointed into them. */
const OUTSIDE = [
  /\bSTYLE\.md\b/,
  /\bDESIGN\.md\b/,
  /calico-manifests\.md/,
  /kind-clientnode-testcontainers\.md/,
  /calico-tests-uninstall\.md/,
  /conformance-anchors\.md/,
  /user-guide\.md/,
  /calico-manifest-facts\.json/,
  /shared\/reference/,
  /§/,
  // the project's issue tracker and its sessions' roles are not in a clone either
  /\bissues? \d+\b/i,
  /\bthe lead\b/i,
  /\boperator pairing\b/i,
];

function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0').filter(Boolean))].filter(
    (f) =>
      f !== SELF &&
      !f.startsWith('node_modules/') &&
      !(f.startsWith('test/fixtures/') && !f.endsWith('.test.ts')) &&
      existsSync(join(ROOT, f)),
  );
}

/** Every comment of a TypeScript/JavaScript file, with the line it starts on (the compiler's own scanner). */
function scriptComments(file: string, text: string): { line: number; text: string }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TSX);
  const seen = new Set<number>();
  const out: { line: number; text: string }[] = [];
  const collect = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      out.push({ line: sf.getLineAndCharacterOfPosition(r.pos).line + 1, text: text.slice(r.pos, r.end) });
    }
  };
  const visit = (node: ts.Node) => {
    collect(ts.getLeadingCommentRanges(text, node.getFullStart()));
    collect(ts.getTrailingCommentRanges(text, node.getEnd()));
    for (const child of node.getChildren(sf)) visit(child);
  };
  visit(sf);
  collect(ts.getLeadingCommentRanges(text, sf.endOfFileToken.getFullStart()));
  return out;
}

/** `#` comments of YAML and shell: the part of a line after a `#` that is outside quotes. */
function hashComments(text: string): { line: number; text: string }[] {
  return text.split('\n').flatMap((raw, i) => {
    const unquoted = raw.replace(/"(?:[^"\\]|\\.)*"|'[^']*'/g, (q) => ' '.repeat(q.length));
    const at = unquoted.search(/(^|\s)#/);
    return at < 0 ? [] : [{ line: i + 1, text: raw.slice(at) }];
  });
}

function commentsOf(file: string): { line: number; text: string }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  if (/\.(ts|mts|cts|tsx|js|mjs|cjs)$/.test(file)) return scriptComments(file, text);
  if (/\.md$/.test(file)) return text.split('\n').map((t, i) => ({ line: i + 1, text: t }));
  if (/\.(ya?ml|sh|toml|service)$/.test(file) || text.startsWith('#!')) return hashComments(text);
  if (/\.go$/.test(file))
    return text.split('\n').flatMap((t, i) => (/\/\/|\/\*/.test(t) ? [{ line: i + 1, text: t }] : []));
  return [];
}

describe('comments and docs cite only what the repository holds', () => {
  const files = repoFiles();

  it('finds the repository files to check', () => {
    expect(files).toContain('harness/config/catalogue.ts');
    expect(files).toContain('docs/calico-facts.md');
  });

  it('reads comments, not string literals', () => {
    const found = scriptComments(
      'x.ts',
      [
        '// one DESIGN.md',
        "const s = 'STYLE.md // not a comment';",
        '/** two §1 */',
        `const t = \`$\{s} /* nor this */\`;`,
      ].join('\n'),
    );
    expect(found.map((c) => c.line)).toEqual([1, 3]);
    expect(hashComments("a: 'x # not a comment' # DESIGN.md\n# b\n").map((c) => c.line)).toEqual([1, 2]);
  });

  it('no comment or Markdown file cites a document outside the repository', () => {
    const hits = files.flatMap((file) =>
      commentsOf(file)
        .filter((c) => OUTSIDE.some((re) => re.test(c.text)))
        .map(
          (c) =>
            `${file}:${c.line}: ${c.text
              .split('\n')
              .find((l) => OUTSIDE.some((re) => re.test(l)))
              ?.trim()}`,
        ),
    );
    expect(hits, 'state the fact with its upstream source, or point into docs/').toEqual([]);
  });
});
