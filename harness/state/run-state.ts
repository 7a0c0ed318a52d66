/**
 * The state file: every kind cluster, container, docker network and temp path the harness creates is written
 * down, with the owning process id, before the harness relies on it — so an interrupted or crashed run can be
 * cleaned up later by `calico-conformance cleanup`. One file per run (`run-<pid>-<id>.json`) in the state
 * directory, written atomically (temp file + rename), so parallel runs never share a writer.
 *
 * State directory: $CALICO_CONFORMANCE_STATE_DIR, else $XDG_STATE_HOME/calico-conformance, else
 * ~/.local/state/calico-conformance (the XDG base-directory default for state data).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

export const RESOURCE_KINDS = ['kind-cluster', 'container', 'network', 'temp-path'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export interface RecordedResource {
  kind: ResourceKind;
  /** cluster name, container name, network name, or absolute path */
  name: string;
  createdAt: string;
  /** what it is for, shown by cleanup */
  purpose?: string;
  /** left on purpose (`--keep-cluster`): `cleanup` removes it only with --all */
  kept?: boolean;
}

export interface RunRecord {
  pid: number;
  hostname: string;
  startedAt: string;
  resources: RecordedResource[];
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CALICO_CONFORMANCE_STATE_DIR) return env.CALICO_CONFORMANCE_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'calico-conformance');
}

/** The state of this run: record before use, forget after removal. */
export class RunState {
  readonly file: string;
  private record: RunRecord;

  constructor(
    readonly dir: string = stateDir(),
    pid: number = process.pid,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, `run-${pid}-${randomBytes(3).toString('hex')}.json`);
    this.record = { pid, hostname: hostname(), startedAt: new Date().toISOString(), resources: [] };
  }

  get resources(): readonly RecordedResource[] {
    return this.record.resources;
  }

  add(kind: ResourceKind, name: string, purpose?: string): RecordedResource {
    const r: RecordedResource = {
      kind,
      name,
      createdAt: new Date().toISOString(),
      ...(purpose ? { purpose } : {}),
    };
    this.record.resources.push(r);
    this.write();
    return r;
  }

  forget(kind: ResourceKind, name: string): void {
    this.record.resources = this.record.resources.filter((r) => !(r.kind === kind && r.name === name));
    this.write();
  }

  markKept(kind: ResourceKind, name: string): void {
    for (const r of this.record.resources) if (r.kind === kind && r.name === name) r.kept = true;
    this.write();
  }

  /** Writes synchronously: a signal handler or an exit hook may be the next thing to run. */
  private write(): void {
    if (this.record.resources.length === 0) {
      rmSync(this.file, { force: true });
      return;
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.record, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

export interface RunFile {
  file: string;
  run: RunRecord;
}

/** Every run file in the state directory; unreadable files are reported, not skipped silently. */
export function readRuns(dir: string = stateDir()): { runs: RunFile[]; unreadable: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { runs: [], unreadable: [] };
  }
  const runs: RunFile[] = [];
  const unreadable: string[] = [];
  for (const n of names.filter((f) => /^run-.*\.json$/.test(f))) {
    const file = join(dir, n);
    try {
      const run = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
      if (typeof run.pid !== 'number' || !Array.isArray(run.resources)) throw new Error('not a run record');
      runs.push({ file, run });
    } catch {
      unreadable.push(file);
    }
  }
  return { runs, unreadable };
}

export function writeRun(file: string, run: RunRecord): void {
  if (run.resources.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(run, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Whether the run's process still exists on this host (signal 0 probes without signalling). */
export function runIsAlive(run: RunRecord, host: string = hostname()): boolean {
  if (run.hostname !== host) return true; // another machine's run: not ours to judge
  try {
    process.kill(run.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
