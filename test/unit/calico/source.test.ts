import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  defaultCacheDir,
  type FetchLike,
  HttpsCacheSource,
  LocalDirSource,
  loadLock,
  ManifestError,
  type ManifestLock,
  MemoSource,
  sha256,
} from '../../../harness/calico/source.js';
import { EnvironmentError, UsageError } from '../../../harness/errors.js';

const GOOD = 'kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n';
const URL_2825 = 'https://raw.githubusercontent.com/projectcalico/calico/v3.28.5/manifests/calico.yaml';

/** A fetch double that never touches the network: serves `body` per URL, or fails like an offline host. */
function fakeFetch(bodies: Record<string, string>, calls: string[] = []): FetchLike {
  return async (url) => {
    calls.push(url);
    const body = bodies[url];
    if (body === undefined) throw new TypeError('fetch failed');
    return { ok: true, status: 200, text: async () => body };
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cc-source-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lockFor = (text: string): ManifestLock => ({
  versions: { 'v3.28.5': { 'calico.yaml': sha256(text) } },
});

describe('LocalDirSource', () => {
  it('reads <dir>/<version>/<file>', async () => {
    await mkdir(join(dir, 'v3.28.5'));
    await writeFile(join(dir, 'v3.28.5', 'calico.yaml'), GOOD);
    expect(await new LocalDirSource(dir).read('v3.28.5', 'calico.yaml')).toBe(GOOD);
  });

  it('a missing file names the file and both ways out', async () => {
    const err = await new LocalDirSource(dir).read('v3.28.5', 'tigera-operator.yaml').catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain(join(dir, 'v3.28.5', 'tigera-operator.yaml'));
    expect(err.message).toContain('--manifests-dir');
    expect(err.message).toMatch(/drop --manifests-dir to download it over HTTPS/);
  });

  it('an unknown version is a usage error listing the catalogue', async () => {
    const err = await new LocalDirSource(dir).read('v9.9.9', 'calico.yaml').catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/not in the version catalogue; catalogued: v3\.24\.0, .*master/);
  });
});

describe('HttpsCacheSource', () => {
  it('downloads the upstream raw URL once, verifies it and serves the cache afterwards', async () => {
    const calls: string[] = [];
    const src = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: false,
      fetch: fakeFetch({ [URL_2825]: GOOD }, calls),
    });
    expect(await src.read('v3.28.5', 'calico.yaml')).toBe(GOOD);
    expect(await readFile(join(dir, 'v3.28.5', 'calico.yaml'), 'utf8')).toBe(GOOD);
    expect(await src.read('v3.28.5', 'calico.yaml')).toBe(GOOD);
    expect(calls).toEqual([URL_2825]);
  });

  it('a sha256 mismatch is an error naming the URL and both sums', async () => {
    const src = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: false,
      fetch: fakeFetch({ [URL_2825]: `${GOOD}# altered\n` }),
    });
    const err = await src.read('v3.28.5', 'calico.yaml').catch((e) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect(err.message).toContain(URL_2825);
    expect(err.message).toContain(sha256(GOOD));
    expect(err.message).toContain(sha256(`${GOOD}# altered\n`));
    expect(err.message).toContain('--allow-unpinned');
  });

  it('--allow-unpinned accepts a mismatch with a warning', async () => {
    const warnings: string[] = [];
    const src = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: true,
      fetch: fakeFetch({ [URL_2825]: 'other: 1\n' }),
      warn: (m) => warnings.push(m),
    });
    expect(await src.read('v3.28.5', 'calico.yaml')).toBe('other: 1\n');
    expect(warnings.join()).toMatch(/differs from the lock/);
  });

  it('a corrupted cache entry is downloaded again', async () => {
    await mkdir(join(dir, 'v3.28.5'));
    await writeFile(join(dir, 'v3.28.5', 'calico.yaml'), 'tampered');
    const calls: string[] = [];
    const src = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: false,
      fetch: fakeFetch({ [URL_2825]: GOOD }, calls),
    });
    expect(await src.read('v3.28.5', 'calico.yaml')).toBe(GOOD);
    expect(calls).toHaveLength(1);
  });

  it('offline and not cached: says which file and both ways out', async () => {
    const src = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: false,
      fetch: fakeFetch({}),
    });
    const err = await src.read('v3.28.5', 'calico.yaml').catch((e) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err.missing).toEqual(['v3.28.5/calico.yaml']);
    expect(err.message).toContain('v3.28.5 manifests/calico.yaml');
    expect(err.message).toContain('--manifests-dir DIR');
    expect(err.message).toContain('connectivity');
  });

  it('offline but cached and verified: serves the cache', async () => {
    await mkdir(join(dir, 'v3.28.5'));
    await writeFile(join(dir, 'v3.28.5', 'calico.yaml'), GOOD);
    const src = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: false,
      fetch: fakeFetch({}),
    });
    expect(await src.read('v3.28.5', 'calico.yaml')).toBe(GOOD);
  });

  it('master cannot be pinned: refused without --allow-unpinned, downloaded with it', async () => {
    const url = 'https://raw.githubusercontent.com/projectcalico/calico/master/manifests/calico.yaml';
    const strict = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: false,
      fetch: fakeFetch({}),
    });
    const err = await strict.read('master', 'calico.yaml').catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/moving branch.*--allow-unpinned.*--manifests-dir/);
    const loose = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: true,
      fetch: fakeFetch({ [url]: GOOD }),
    });
    expect(await loose.read('master', 'calico.yaml')).toBe(GOOD);
    // offline later: the unpinned file falls back to the cached copy
    const offline = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: true,
      fetch: fakeFetch({}),
    });
    expect(await offline.read('master', 'calico.yaml')).toBe(GOOD);
  });

  it('an HTTP error status is reported', async () => {
    const src = new HttpsCacheSource({
      cacheDir: dir,
      lock: lockFor(GOOD),
      allowUnpinned: false,
      fetch: async () => ({ ok: false, status: 404, text: async () => 'not found' }),
    });
    await expect(src.read('v3.28.5', 'calico.yaml')).rejects.toThrow(/HTTP 404/);
  });
});

describe('lock, cache dir and memo', () => {
  it('the committed lock pins every catalogued release and not master', async () => {
    const lock = await loadLock();
    expect(Object.keys(lock.versions)).toContain('v3.24.0');
    expect(lock.versions.master).toBeUndefined();
    for (const files of Object.values(lock.versions)) {
      for (const sum of Object.values(files)) expect(sum).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('uses XDG_CACHE_HOME when set', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/calico-conformance/manifests');
    expect(defaultCacheDir({ HOME: '/h' })).toMatch(/\.cache\/calico-conformance\/manifests$/);
  });

  it('MemoSource reads each file once', async () => {
    let reads = 0;
    const memo = new MemoSource({
      describe: 'counting',
      read: async () => {
        reads++;
        return GOOD;
      },
    });
    await memo.read('v3.28.5', 'calico.yaml');
    await memo.read('v3.28.5', 'calico.yaml');
    expect(reads).toBe(1);
  });
});
