/**
 * Where upstream Calico manifests come from: a local folder laid out `<version>/<file>` (air-gapped use,
 * the mirror scenario of the users' guide), or HTTPS from upstream into a user cache dir, verified against
 * the sha256 lock committed in harness/calico/manifests.lock.json.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CalicoFile, getVersion, upstreamUrl } from '../config/catalogue.js';
import { EnvironmentError, UsageError } from '../errors.js';

export interface ManifestSource {
  /** the upstream text of `manifests/<file>` of a catalogued version */
  read(version: string, file: CalicoFile): Promise<string>;
  /** a short description for messages and for `render`'s output */
  readonly describe: string;
}

/** Upstream manifest data that cannot be used: wrong checksum, malformed YAML, an unknown form. */
export class ManifestError extends UsageError {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message, file);
    this.name = 'ManifestError';
  }
}

const WAYS_OUT = (version: string, file: string) =>
  `either pass --manifests-dir DIR with the file at DIR/${version}/${file} (air-gapped use), ` +
  'or run once with connectivity to raw.githubusercontent.com so it is downloaded into the cache';

/** Reads `<dir>/<version>/<file>`. */
export class LocalDirSource implements ManifestSource {
  readonly describe: string;
  constructor(readonly dir: string) {
    this.describe = `local folder ${dir}`;
  }

  async read(version: string, file: CalicoFile): Promise<string> {
    getVersion(version);
    const path = join(this.dir, version, file);
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(
        `--manifests-dir: ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}; ` +
          `the folder must hold upstream manifests laid out <version>/<file>. Ways out: put Calico ${version}'s ` +
          `manifests/${file} there, or drop --manifests-dir to download it over HTTPS (needs connectivity)`,
        'manifests-dir',
      );
    }
  }
}

/** The committed lock: version → file → sha256 hex. master is absent: a branch cannot be pinned. */
export interface ManifestLock {
  versions: Record<string, Partial<Record<string, string>>>;
}

export function lockPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'manifests.lock.json');
}

export async function loadLock(path = lockPath()): Promise<ManifestLock> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<ManifestLock>;
  if (!parsed.versions || typeof parsed.versions !== 'object') {
    throw new Error(`${path}: the manifest lock has no "versions" table`);
  }
  return { versions: parsed.versions };
}

/** `$XDG_CACHE_HOME/calico-conformance/manifests`, else `~/.cache/calico-conformance/manifests`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'calico-conformance', 'manifests');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** How long one manifest download may take. */
export const DOWNLOAD_TIMEOUT_MS = 60_000;

export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export interface HttpsCacheOptions {
  cacheDir: string;
  lock: ManifestLock;
  /** accept files the lock does not pin (master) or whose sha256 differs from the lock */
  allowUnpinned: boolean;
  /** injected in tests; defaults to the global fetch */
  fetch?: FetchLike;
  /** told about unpinned or re-downloaded files */
  warn?: (message: string) => void;
}

/**
 * Downloads `https://raw.githubusercontent.com/projectcalico/calico/<ref>/manifests/<file>` into
 * `<cacheDir>/<version>/<file>`. A pinned file is served from the cache only when its sha256 still matches
 * the lock; an unpinned one (master) is downloaded afresh and the cache is only a fallback when offline.
 */
export class HttpsCacheSource implements ManifestSource {
  readonly describe: string;
  private readonly fetchFn: FetchLike;

  constructor(private readonly opts: HttpsCacheOptions) {
    this.describe = `HTTPS from raw.githubusercontent.com, cached in ${opts.cacheDir}`;
    // a stalled download is an error after a minute, not a wait on the HTTP client's own minutes-long defaults
    this.fetchFn = opts.fetch ?? ((url) => fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) }));
  }

  async read(version: string, file: CalicoFile): Promise<string> {
    const entry = getVersion(version);
    const url = upstreamUrl(entry, file);
    const pinned = this.opts.lock.versions[version]?.[file];
    const cachePath = join(this.opts.cacheDir, version, file);
    if (!pinned && !this.opts.allowUnpinned) {
      throw new UsageError(
        `${version}/${file} is not pinned in harness/calico/manifests.lock.json` +
          (version === 'master' ? ' (master is a moving branch and cannot be pinned)' : '') +
          `; pass --allow-unpinned to download it unverified, or --manifests-dir DIR with the file at DIR/${version}/${file}`,
        'allow-unpinned',
      );
    }
    const cached = await readFile(cachePath, 'utf8').catch(() => undefined);
    if (pinned && cached !== undefined && sha256(cached) === pinned) return cached;

    let text: string;
    try {
      const res = await this.fetchFn(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } catch (err) {
      if (!pinned && cached !== undefined) {
        this.opts.warn?.(
          `${version}/${file}: download failed (${(err as Error).message}); using the cached copy`,
        );
        return cached;
      }
      // the machine cannot reach upstream: an environment problem (exit 3), with both ways out
      throw new EnvironmentError(
        `cannot get Calico ${version} manifests/${file}: downloading ${url} failed (${(err as Error).message}) ` +
          `and it is not in the cache ${cachePath}. Ways out: ${WAYS_OUT(version, file)}`,
        [`${version}/${file}`],
      );
    }
    const actual = sha256(text);
    if (pinned && actual !== pinned) {
      if (!this.opts.allowUnpinned) {
        throw new ManifestError(
          `${url}: sha256 ${actual} does not match the lock (${pinned}) in harness/calico/manifests.lock.json; ` +
            'the upstream file changed or the download was altered. Pass --allow-unpinned to use it anyway, ' +
            'or --manifests-dir with a verified copy',
          `${version}/${file}`,
        );
      }
      this.opts.warn?.(
        `${version}/${file}: sha256 ${actual} differs from the lock; used because --allow-unpinned`,
      );
    } else if (!pinned) {
      this.opts.warn?.(`${version}/${file}: not pinned (sha256 ${actual}); used because --allow-unpinned`);
    }
    await mkdir(dirname(cachePath), { recursive: true });
    const tmp = `${cachePath}.${process.pid}.tmp`;
    await writeFile(tmp, text, 'utf8');
    await rename(tmp, cachePath);
    return text;
  }
}

/** Serves each file once per process: renders of many cells of one version read the same upstream text. */
export class MemoSource implements ManifestSource {
  private readonly memo = new Map<string, Promise<string>>();
  readonly describe: string;
  constructor(private readonly inner: ManifestSource) {
    this.describe = inner.describe;
  }
  read(version: string, file: CalicoFile): Promise<string> {
    const key = `${version}/${file}`;
    let p = this.memo.get(key);
    if (!p) {
      p = this.inner.read(version, file);
      p.catch(() => this.memo.delete(key));
      this.memo.set(key, p);
    }
    return p;
  }
}
