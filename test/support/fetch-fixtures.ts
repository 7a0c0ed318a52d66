/**
 * `npm run fixtures:fetch -- DIR`: fetches exactly the upstream Calico manifests that
 * harness/calico/manifests.lock.json pins (every `versions` entry, plus `fixtureOnly`: master at the commit
 * the fixture-backed tests were written against) into DIR/<version>/<file>, checks each file's sha256
 * against the lock, and writes DIR/SOURCES.md (what test/support/fixtures.ts looks for) only once every file
 * is there and verified. A file already in DIR with the locked sha256 is kept without a download; one with
 * another digest is downloaded again. A download or digest that fails leaves no file behind and no
 * SOURCES.md, and the command exits 1 naming each failure.
 *
 * Then `CALICO_FIXTURES_DIR=DIR npm test` runs the fixture-backed tests (ci.yml does so on GitHub).
 *
 * Options: --version V (repeatable: only these versions), --base-url URL (instead of
 * raw.githubusercontent.com/projectcalico/calico; the tests serve from 127.0.0.1), --lock FILE.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DOWNLOAD_TIMEOUT_MS, lockPath } from '../../harness/calico/source.js';
import { UPSTREAM_RAW_BASE } from '../../harness/config/catalogue.js';

/** One file to fetch: where it goes, where it comes from, what it must hash to. */
export interface LockedFile {
  version: string;
  /** the git ref upstream serves it at: the tag, or a commit for fixtureOnly entries */
  ref: string;
  file: string;
  sha256: string;
}

interface LockJson {
  source?: string;
  versions?: Record<string, Record<string, string>>;
  fixtureOnly?: Record<string, { ref?: string; files?: Record<string, string> } | string>;
}

/** Every file the lock pins, in a stable order. */
export function lockedFiles(lock: LockJson): LockedFile[] {
  const out: LockedFile[] = [];
  for (const [version, files] of Object.entries(lock.versions ?? {}))
    for (const [file, sha256] of Object.entries(files)) out.push({ version, ref: version, file, sha256 });
  for (const [version, entry] of Object.entries(lock.fixtureOnly ?? {})) {
    if (typeof entry === 'string') continue; // a $comment
    if (!entry.ref || !entry.files) throw new Error(`lock fixtureOnly.${version}: needs "ref" and "files"`);
    for (const [file, sha256] of Object.entries(entry.files))
      out.push({ version, ref: entry.ref, file, sha256 });
  }
  for (const f of out)
    if (!/^[0-9a-f]{64}$/.test(f.sha256))
      throw new Error(`lock ${f.version}/${f.file}: not a sha256: ${f.sha256}`);
  return out.sort((a, b) => `${a.version}/${a.file}`.localeCompare(`${b.version}/${b.file}`));
}

export interface FetchOptions {
  dir: string;
  lockFile?: string;
  baseUrl?: string;
  versions?: readonly string[];
  /** attempts per file for a network error, HTTP 429 or 5xx (default 3) */
  attempts?: number;
  log?: (line: string) => void;
  /** between attempts (tests shorten it) */
  retryDelayMs?: number;
}

export interface FetchReport {
  fetched: LockedFile[];
  kept: LockedFile[];
  failed: { file: LockedFile; reason: string }[];
}

const MARKER = '<!-- written by npm run fixtures:fetch -->';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function fetchFixtures(opts: FetchOptions): Promise<FetchReport> {
  const log = opts.log ?? (() => {});
  const lock = JSON.parse(await readFile(opts.lockFile ?? lockPath(), 'utf8')) as LockJson;
  let files = lockedFiles(lock);
  if (opts.versions?.length) {
    const unknown = opts.versions.filter((v) => !files.some((f) => f.version === v));
    if (unknown.length) throw new Error(`--version ${unknown.join(', ')}: not in the lock`);
    files = files.filter((f) => opts.versions!.includes(f.version));
  }
  const base = (opts.baseUrl ?? UPSTREAM_RAW_BASE).replace(/\/+$/, '');
  const urlOf = (f: LockedFile) => `${base}/${f.ref}/manifests/${f.file}`;
  const report: FetchReport = { fetched: [], kept: [], failed: [] };
  // a folder that is only partly right must not look complete to the tests
  const sources = join(opts.dir, 'SOURCES.md');
  const ours = await readFile(sources, 'utf8').then(
    (t) => t.includes(MARKER),
    () => true,
  );
  if (ours) await rm(sources, { force: true });

  const one = async (f: LockedFile) => {
    const path = join(opts.dir, f.version, f.file);
    const have = await readFile(path).catch(() => undefined);
    if (have && sha256(have) === f.sha256) {
      report.kept.push(f);
      return;
    }
    const url = urlOf(f);
    try {
      const body = await download(url, opts.attempts ?? 3, opts.retryDelayMs ?? 2000);
      const actual = sha256(body);
      if (actual !== f.sha256)
        throw new Error(
          `sha256 ${actual} is not the locked ${f.sha256} (the file changed upstream, or in transit)`,
        );
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, path);
      report.fetched.push(f);
      log(`fetched ${f.version}/${f.file} (${body.length} bytes, sha256 verified)`);
    } catch (err) {
      if (have) await rm(path, { force: true }); // a stale copy with the wrong digest is no fixture
      report.failed.push({ file: f, reason: `${url}: ${(err as Error).message}` });
    }
  };
  // a few downloads at a time: quick, and gentle with upstream
  const queue = [...files];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) await one(f);
    }),
  );

  if (report.failed.length === 0 && ours) {
    const rows = files.map(
      (f) => `| \`${f.version}/${f.file}\` | \`${f.ref}\` | ${urlOf(f)} | \`${f.sha256}\` |`,
    );
    await mkdir(opts.dir, { recursive: true });
    await writeFile(
      sources,
      [
        MARKER,
        '# Calico upstream manifests, fetched',
        '',
        `Fetched by \`npm run fixtures:fetch\` from projectcalico/calico \`manifests/\`, each file checked against`,
        'the sha256 that harness/calico/manifests.lock.json pins. No file was edited.',
        '',
        '| file | ref | from | sha256 |',
        '|---|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
  }
  return report;
}

async function download(url: string, attempts: number, delayMs: number): Promise<Buffer> {
  let last = '';
  let tries = 0;
  while (tries < attempts) {
    if (tries > 0) await new Promise((r) => setTimeout(r, delayMs * tries));
    tries++;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
      if (res.ok) return Buffer.from(await res.arrayBuffer());
      last = `HTTP ${res.status}`;
      if (res.status !== 429 && res.status < 500) break; // 404 and the like do not get better
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new Error(`download failed (${last})${tries > 1 ? ` after ${tries} attempts` : ''}`);
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (err) {
    process.stderr.write(`fixtures:fetch: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`fixtures:fetch: give exactly one folder to fetch into\n${USAGE}\n`);
    return 2;
  }
  const dir = resolve(positionals[0]!);
  try {
    const r = await fetchFixtures({
      dir,
      ...(values.lock ? { lockFile: values.lock } : {}),
      ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
      ...(values.version?.length ? { versions: values.version } : {}),
      log: (l) => process.stdout.write(`${l}\n`),
    });
    for (const f of r.failed) process.stderr.write(`FAILED ${f.file.version}/${f.file.file}: ${f.reason}\n`);
    const total = r.fetched.length + r.kept.length + r.failed.length;
    process.stdout.write(
      `${total} locked files: ${r.fetched.length} fetched, ${r.kept.length} already there, ${r.failed.length} failed; ${dir}\n`,
    );
    return r.failed.length ? 1 : 0;
  } catch (err) {
    process.stderr.write(`fixtures:fetch: ${(err as Error).message}\n`);
    return 2;
  }
}

const USAGE =
  'usage: npm run fixtures:fetch -- DIR [--version V]... [--base-url URL] [--lock FILE]\n' +
  '  fetches the manifests harness/calico/manifests.lock.json pins into DIR/<version>/<file>, sha256-verified;\n' +
  '  then CALICO_FIXTURES_DIR=DIR npm test runs the fixture-backed tests';

function parseCli(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      version: { type: 'string', multiple: true },
      'base-url': { type: 'string' },
      lock: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
