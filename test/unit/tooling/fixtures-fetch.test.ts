/**
 * `npm run fixtures:fetch`: fetches exactly what the lock pins, from a server laid out as
 * raw.githubusercontent.com/projectcalico/calico is (`/<ref>/manifests/<file>`), here an HTTP server on
 * 127.0.0.1 serving small files this test makes, with a lock written for them. The same fetch on the real
 * lock and the real upstream files is test/fixtures/calico/fetch.test.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lockPath } from '../../../harness/calico/source.js';
import { fetchFixtures, lockedFiles } from '../../support/fetch-fixtures.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** What the fake upstream serves, by URL path; a function answers per request (status, body). */
const routes = new Map<string, string | (() => { status: number; body: string })>();
const requests: string[] = [];
let server: Server;
let base: string;
const tmp = mkdtempSync(join(tmpdir(), 'cc-fetch-'));

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const r = routes.get(req.url ?? '');
    const { status, body } =
      r === undefined
        ? { status: 404, body: 'not found' }
        : typeof r === 'string'
          ? { status: 200, body: r }
          : r();
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  routes.clear();
  requests.length = 0;
});

const FILES = {
  'v9.1.0': { 'calico.yaml': 'kind: A\n', 'tigera-operator.yaml': 'kind: B\n' },
  'v9.2.0': { 'calico.yaml': 'kind: C\n' },
};
const MASTER = { 'calico.yaml': 'kind: M\n' };
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** A lock for FILES (versions) and MASTER (fixtureOnly at COMMIT), and the server serving all of it. */
function setup(name: string): { lock: string; dir: string } {
  const lock = {
    source: 'https://raw.githubusercontent.com/projectcalico/calico/<version>/manifests/<file>',
    versions: Object.fromEntries(
      Object.entries(FILES).map(([v, fs]) => [
        v,
        Object.fromEntries(Object.entries(fs).map(([f, t]) => [f, sha(t)])),
      ]),
    ),
    fixtureOnly: {
      $comment: 'test',
      master: { ref: COMMIT, files: Object.fromEntries(Object.entries(MASTER).map(([f, t]) => [f, sha(t)])) },
    },
  };
  const file = join(tmp, `${name}.lock.json`);
  writeFileSync(file, JSON.stringify(lock));
  for (const [v, fs] of Object.entries(FILES))
    for (const [f, t] of Object.entries(fs)) routes.set(`/${v}/manifests/${f}`, t);
  for (const [f, t] of Object.entries(MASTER)) routes.set(`/${COMMIT}/manifests/${f}`, t);
  // something upstream has that the lock does not pin: never fetched
  routes.set('/v9.2.0/manifests/tigera-operator.yaml', 'kind: unpinned\n');
  return { lock: file, dir: join(tmp, name) };
}

const listing = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

describe('fixtures:fetch', () => {
  it('fetches exactly the locked files, at their refs, verified, and writes SOURCES.md', async () => {
    const { lock, dir } = setup('exact');
    const r = await fetchFixtures({ dir, lockFile: lock, baseUrl: base });
    expect(r.failed).toEqual([]);
    expect(r.fetched).toHaveLength(4);
    expect(requests.sort()).toEqual(
      [
        '/v9.1.0/manifests/calico.yaml',
        '/v9.1.0/manifests/tigera-operator.yaml',
        '/v9.2.0/manifests/calico.yaml',
        `/${COMMIT}/manifests/calico.yaml`,
      ].sort(),
    );
    expect(listing(dir)).toEqual([
      'SOURCES.md',
      'master/calico.yaml',
      'v9.1.0/calico.yaml',
      'v9.1.0/tigera-operator.yaml',
      'v9.2.0/calico.yaml',
    ]);
    expect(readFileSync(join(dir, 'v9.1.0/tigera-operator.yaml'), 'utf8')).toBe('kind: B\n');
    expect(readFileSync(join(dir, 'master/calico.yaml'), 'utf8')).toBe('kind: M\n');
    const sources = readFileSync(join(dir, 'SOURCES.md'), 'utf8');
    expect(sources).toContain(
      `| \`master/calico.yaml\` | \`${COMMIT}\` | ${base}/${COMMIT}/manifests/calico.yaml |`,
    );
    expect(sources).toContain(sha('kind: C\n'));
  });

  it('a file whose sha256 is not the locked one is refused: not written, no SOURCES.md, exit 1 naming it', async () => {
    const { lock, dir } = setup('tampered');
    routes.set('/v9.1.0/manifests/calico.yaml', 'kind: A\n# changed\n');
    const r = await execa(
      'npm',
      ['run', '-s', 'fixtures:fetch', '--', dir, '--lock', lock, '--base-url', base],
      { cwd: ROOT, reject: false },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(
      `FAILED v9.1.0/calico.yaml: ${base}/v9.1.0/manifests/calico.yaml: sha256 ${sha('kind: A\n# changed\n')} is not the locked ${sha('kind: A\n')}`,
    );
    expect(r.stdout).toMatch(/4 locked files: 3 fetched, 0 already there, 1 failed/);
    expect(existsSync(join(dir, 'v9.1.0/calico.yaml'))).toBe(false);
    expect(existsSync(join(dir, 'SOURCES.md'))).toBe(false);
  });

  it('a missing file is named with its URL and status; a transient 503 is retried', async () => {
    const { lock, dir } = setup('flaky');
    routes.delete('/v9.2.0/manifests/calico.yaml');
    let calls = 0;
    routes.set('/v9.1.0/manifests/calico.yaml', () =>
      ++calls === 1 ? { status: 503, body: 'busy' } : { status: 200, body: 'kind: A\n' },
    );
    const r = await fetchFixtures({ dir, lockFile: lock, baseUrl: base, retryDelayMs: 10 });
    expect(calls).toBe(2);
    expect(r.failed.map((f) => f.reason)).toEqual([
      `${base}/v9.2.0/manifests/calico.yaml: download failed (HTTP 404)`,
    ]);
    // a 404 is not retried
    expect(requests.filter((u) => u === '/v9.2.0/manifests/calico.yaml')).toHaveLength(1);
    expect(existsSync(join(dir, 'SOURCES.md'))).toBe(false);
  });

  it('again on a complete folder: no download; a file changed on disk is fetched afresh', async () => {
    const { lock, dir } = setup('again');
    expect((await fetchFixtures({ dir, lockFile: lock, baseUrl: base })).failed).toEqual([]);
    requests.length = 0;
    writeFileSync(join(dir, 'v9.2.0/calico.yaml'), 'edited by hand\n');
    const r = await fetchFixtures({ dir, lockFile: lock, baseUrl: base });
    expect(requests).toEqual(['/v9.2.0/manifests/calico.yaml']);
    expect(r.kept).toHaveLength(3);
    expect(readFileSync(join(dir, 'v9.2.0/calico.yaml'), 'utf8')).toBe('kind: C\n');
    expect(existsSync(join(dir, 'SOURCES.md'))).toBe(true);
  });

  it('--version fetches only those versions; an unknown one and a missing folder are usage errors', async () => {
    const { lock, dir } = setup('some');
    const r = await fetchFixtures({ dir, lockFile: lock, baseUrl: base, versions: ['v9.2.0'] });
    expect(r.fetched.map((f) => `${f.version}/${f.file}`)).toEqual(['v9.2.0/calico.yaml']);
    await expect(fetchFixtures({ dir, lockFile: lock, baseUrl: base, versions: ['v1.0.0'] })).rejects.toThrow(
      /--version v1\.0\.0: not in the lock/,
    );
    const none = await execa('npm', ['run', '-s', 'fixtures:fetch'], { cwd: ROOT, reject: false });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('give exactly one folder');
  });

  it('the real lock: every catalogued release pinned, master at a commit, each a sha256', async () => {
    const lock = JSON.parse(readFileSync(lockPath(), 'utf8'));
    expect(lock.source).toBe(
      'https://raw.githubusercontent.com/projectcalico/calico/<version>/manifests/<file>',
    );
    const files = lockedFiles(lock);
    expect(lock.versions.master).toBeUndefined();
    const master = files.filter((f) => f.version === 'master');
    expect(master.length).toBeGreaterThan(0);
    for (const f of master) expect(f.ref).toMatch(/^[0-9a-f]{40}$/);
    for (const f of files.filter((x) => x.version !== 'master')) expect(f.ref).toBe(f.version);
  });
});
