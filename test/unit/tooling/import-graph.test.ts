/**
 * The harness's folders form layers: the import graph between the folders of harness/ (harness/<folder>/…;
 * a file directly in harness/ is a node of its own) has no cycle, and nothing under harness/ imports from
 * suites/ (the suites depend on the harness, never the reverse). Imports counted: static
 * `import … from '…'` (type-only too), `export … from '…'`, side-effect `import '…'` and dynamic
 * `import('…')` with a literal specifier.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const HARNESS = join(ROOT, 'harness');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(p);
    return /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The relative module specifiers a file imports (comments stripped first, so a commented import does not count). */
function importSpecifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, // import … from '…', export … from '…'
    /\bimport\s*['"]([^'"]+)['"]/g, // import '…'
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, // import('…')
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!);
  return out;
}

/** The graph node of a path under harness/: its top folder, or the file itself when it sits directly in harness/. */
function nodeOf(abs: string): string {
  const parts = relative(HARNESS, abs).split(/[\\/]/);
  return parts.length === 1 ? parts[0]!.replace(/\.(ts|js|mts|mjs)$/, '') : parts[0]!;
}

type Edge = { from: string; to: string; file: string; spec: string };

function harnessImports(): { edges: Edge[]; intoSuites: string[] } {
  const edges: Edge[] = [];
  const intoSuites: string[] = [];
  for (const file of tsFiles(HARNESS)) {
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      const rel = relative(ROOT, file);
      const relTarget = relative(ROOT, target);
      if (relTarget === 'suites' || relTarget.startsWith(`suites/`)) intoSuites.push(`${rel} → ${spec}`);
      if (relative(HARNESS, target).startsWith('..')) continue;
      const from = nodeOf(file);
      const to = nodeOf(target);
      if (from !== to) edges.push({ from, to, file: rel, spec });
    }
  }
  return { edges, intoSuites };
}

/** The strongly connected components with more than one node (Tarjan), each sorted, in a stable order. */
function cycles(nodes: string[], adj: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of adj.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const n of [...nodes].sort()) if (!idx.has(n)) visit(n);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** One shortest cycle through `start` inside `comp` (BFS back to start), as a → b → … → a. */
function cycleThrough(start: string, comp: Set<string>, adj: Map<string, Set<string>>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of [...(adj.get(v) ?? [])].sort()) {
      if (!comp.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return [...path, start];
      }
      if (!prev.has(w) && w !== start) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

function describeCycle(comp: string[], adj: Map<string, Set<string>>, edges: Edge[]): string {
  const set = new Set(comp);
  const lines = [
    `folders ${comp.join(', ')} form a cycle, e.g. ${cycleThrough(comp[0]!, set, adj).join(' → ')}; edges:`,
  ];
  for (const from of comp)
    for (const to of [...(adj.get(from) ?? [])].sort()) {
      if (!set.has(to)) continue;
      const e = edges.filter((x) => x.from === from && x.to === to);
      lines.push(`  ${from} → ${to}: ${e.map((x) => `${x.file} ('${x.spec}')`).join(', ')}`);
    }
  return lines.join('\n');
}

describe('harness/ import graph', () => {
  const { edges, intoSuites } = harnessImports();

  it('finds the imports it is meant to (a guard on the parser itself)', () => {
    expect(
      importSpecifiers(
        [
          "import { a } from './a.js';",
          "import type { B } from '../b/b.js';",
          "export { c } from './c.js';",
          "export * from './d.js';",
          "import './e.js';",
          "const f = await import('./f.js');",
          'import {\n  g,\n  h,\n} from "./gh.js";',
          "// import { x } from './commented.js';",
          "/* import { y } from './block.js'; */",
        ].join('\n'),
      ).sort(),
    ).toEqual(['../b/b.js', './a.js', './c.js', './d.js', './e.js', './f.js', './gh.js']);
    expect(edges.length).toBeGreaterThan(20);
  });

  it('names the folders of a cycle (a guard on the cycle finder itself)', () => {
    const adj = new Map<string, Set<string>>([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set(['e'])],
      ['e', new Set(['d'])],
      ['f', new Set(['a'])],
    ]);
    expect(cycles(['a', 'b', 'c', 'd', 'e', 'f'], adj)).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
    expect(cycleThrough('a', new Set(['a', 'b', 'c']), adj)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('has no cycle between folders', () => {
    const adj = new Map<string, Set<string>>();
    for (const e of edges) {
      if (!adj.has(e.from)) adj.set(e.from, new Set());
      adj.get(e.from)!.add(e.to);
    }
    const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
    const found = cycles(nodes, adj).map((c) => describeCycle(c, adj, edges));
    expect(found, `\n${found.join('\n\n')}\n`).toEqual([]);
  });

  it('never imports from suites/', () => {
    expect(intoSuites).toEqual([]);
  });
});
