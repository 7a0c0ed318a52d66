/**
 * No dead weight: every dependency in package.json is used (imported by the sources, or a tool the scripts
 * run), and every symbol the harness exports is referenced somewhere else in the repository or inside its
 * own file. A dependency kept ahead of its first user says so in KEPT, with the reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Dependencies with no user in the repository yet, and why they stay. */
const KEPT: Record<string, string> = {};

const SOURCE_DIRS = ['harness', 'suites', 'test', 'bench', 'bin', 'lab', 'scripts'];

function sources(dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(join(ROOT, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(rel);
    return /\.(ts|mts|js|mjs)$/.test(e.name) ? [rel] : [];
  });
}

const FILES = [
  ...SOURCE_DIRS.flatMap(sources),
  ...readdirSync(ROOT).filter((f) => /\.(ts|mts|js|mjs)$/.test(f)),
].map((f) => ({ path: f, text: readFileSync(join(ROOT, f), 'utf8') }));

/** The package a module specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('/')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Packages imported by the sources (static, dynamic, type-only, `node --import X`). */
function importedPackages(): Set<string> {
  const out = new Set<string>();
  const re = /(?:from\s+|import\s*\(\s*|import\s+|--import[= ])['"]?([@\w][\w@./-]*)['"]?/g;
  for (const f of FILES)
    for (const m of f.text.matchAll(re)) {
      const p = packageOf(m[1]!);
      if (p) out.add(p);
    }
  for (const script of Object.values(pkg.scripts))
    for (const m of script.matchAll(/--import[= ]([@\w][\w@./-]*)/g)) out.add(packageOf(m[1]!)!);
  return out;
}

/** Tools the package scripts and CI run by their bin name, mapped to the package that ships the bin. */
function toolPackages(): Set<string> {
  const bins: Record<string, string> = {
    tsc: 'typescript',
    biome: '@biomejs/biome',
    vitest: 'vitest',
    tsx: 'tsx',
  };
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  const commands = [...Object.values(pkg.scripts), ci].join('\n');
  return new Set(
    Object.entries(bins)
      .filter(([bin]) => new RegExp(`(^|[\\s;&|(])(npx\\s+)?${bin}(\\s|$)`, 'm').test(commands))
      .map(([, p]) => p),
  );
}

describe('dependencies', () => {
  it('every dependency is imported by the sources, run by a script, or kept for a stated reason', () => {
    const used = new Set([...importedPackages(), ...toolPackages()]);
    const tsconfig = readFileSync(join(ROOT, 'tsconfig.json'), 'utf8');
    for (const t of tsconfig.match(/"types":\s*\[([^\]]*)\]/)?.[1]?.match(/[\w@/-]+/g) ?? [])
      used.add(`@types/${t}`);
    const declared = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)];
    const unused = declared.filter((d) => !used.has(d) && !(d in KEPT));
    expect(unused, 'dependencies nothing uses: remove them (npm uninstall)').toEqual([]);
    for (const k of Object.keys(KEPT))
      expect(declared, `KEPT names ${k}, which is not declared`).toContain(k);
  });

  it('the scan sees real imports (a removed dependency would be reported)', () => {
    const used = importedPackages();
    for (const p of ['@kubernetes/client-node', 'execa', 'yaml', 'ajv', 'vitest', 'tsx', 'testcontainers'])
      expect(used).toContain(p);
    expect(used.has('ajv-formats')).toBe(false);
  });
});

/** `export function|const|class|… Name` declarations of one file. */
function exportedNames(text: string): string[] {
  const re =
    /^export\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|const|let|var|class|abstract\s+class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm;
  return [...text.matchAll(re)].map((m) => m[1]!);
}

function occurrences(text: string, name: string): number {
  return text.match(new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`, 'g'))?.length ?? 0;
}

/**
 * Where the product's code lives (the suites, *.test.ts included, are the product): a use from here keeps an
 * export alive; a use from test/ alone does not.
 */
const PRODUCTION = ['harness/', 'suites/', 'bench/', 'bin/', 'lab/'];
const isProduction = (path: string) =>
  path.startsWith('suites/') || (PRODUCTION.some((d) => path.startsWith(d)) && !path.endsWith('.test.ts'));

/**
 * Exports of harness/ that only the tests use, and why they belong in harness/ all the same. Anything else
 * that only a test references is dead code with a test around it: delete both.
 */
const KEPT_FOR_TESTS: Record<string, string> = {
  memoryIO: "the CLI's in-memory IO beside the process one (cli/io.ts): how the tests run commands",
  COMMAND_NAMES: 'the command registry as a list, which the help test walks',
  DockerPodExecutor: 'the pod executor of the docker-backed test bed, beside the kube one it stands in for',
  readVerifyEvidence:
    'the reader of what writeVerifyEvidence writes: the real captures are read back with it',
  REQUIREMENTS: 'the requirement vocabulary as a list, which the requirements test holds every check to',
  usesCalicoApi:
    "the catalogue's rule that a projectcalico.org/v3 scenario requires calico-api, checked by a test",
  expandHandExpectation:
    "the interpreter of the scenarios' hand expectations, which a test checks against the oracle",
  MemoSource: 'a manifest source that reads each file once: the every-version renders read each version once',
};

describe('dead code', () => {
  it('every symbol exported by harness/ is used by the product: in its own file or another production file', () => {
    const dead: string[] = [];
    for (const f of FILES.filter((x) => x.path.startsWith('harness/') && !x.path.endsWith('.test.ts'))) {
      for (const name of exportedNames(f.text)) {
        if (occurrences(f.text, name) > 1 || name in KEPT_FOR_TESTS) continue;
        if (FILES.some((o) => o !== f && isProduction(o.path) && occurrences(o.text, name) > 0)) continue;
        const tests = FILES.filter((o) => !isProduction(o.path) && occurrences(o.text, name) > 0);
        dead.push(
          `${relative(ROOT, join(ROOT, f.path))}: ${name}${tests.length ? ` (only ${tests.map((t) => t.path).join(', ')})` : ''}`,
        );
      }
    }
    expect(
      dead,
      'exported and used by no production code: delete them (or say in KEPT_FOR_TESTS why not)',
    ).toEqual([]);
  });

  it('KEPT_FOR_TESTS names only exports that exist and that the product does not use', () => {
    for (const name of Object.keys(KEPT_FOR_TESTS)) {
      const home = FILES.filter((f) => f.path.startsWith('harness/') && exportedNames(f.text).includes(name));
      expect(home, `${name} is exported by no harness file`).toHaveLength(1);
      const prodUsers = FILES.filter(
        (o) => o !== home[0] && isProduction(o.path) && occurrences(o.text, name) > 0,
      );
      expect(
        prodUsers.map((u) => u.path),
        `${name} has production users: drop it from KEPT_FOR_TESTS`,
      ).toEqual([]);
    }
  });

  it('every module under harness/ is imported by production code or is an entry point', () => {
    const entries = new Set(['harness/cli/main.ts']);
    const modules = FILES.filter((f) => f.path.startsWith('harness/') && !f.path.endsWith('.test.ts'));
    const orphans = modules.filter((m) => {
      if (entries.has(m.path)) return false;
      const base = m.path.replace(/\.ts$/, '').split('/').pop()!;
      return (
        !FILES.some(
          (o) =>
            o !== m &&
            isProduction(o.path) &&
            [...o.text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].some(
              (i) =>
                i[1]!.startsWith('.') &&
                resolve(ROOT, o.path, '..', i[1]!.replace(/\.js$/, '.ts')) === resolve(ROOT, m.path),
            ),
        ) && base !== ''
      );
    });
    expect(
      orphans.map((o) => o.path),
      'modules no production code imports: delete them',
    ).toEqual([]);
  });

  it('the scan finds an export nothing references', () => {
    expect(exportedNames('export function used() {}\nexport const unusedThing = 1;\nused();')).toEqual([
      'used',
      'unusedThing',
    ]);
    expect(occurrences('export const unusedThing = 1; // unusedThingy', 'unusedThing')).toBe(1);
  });
});
