/**
 * Cleanup of what earlier runs left behind: everything recorded in the state directory by runs whose process is
 * gone (with `all`, also by live runs and kept clusters), plus kind clusters whose name has the harness's
 * pattern and containers carrying the harness label, which a run killed before it could write its state may
 * have left. Resources of live runs on this host are never touched unless `all` is given.
 */
import { hostname } from 'node:os';
import { defaultRunner, type ProcessRunner, type RunResult } from '../exec/process.js';
import { type RemovalOutcome, removeResource } from './remove.js';
import { type RecordedResource, readRuns, runIsAlive, stateDir, writeRun } from './run-state.js';

/**
 * The pattern of names cluster/kind.ts's clusterNameFor produces: only these are removed by prefix in
 * `cleanup`.
 */
export const HARNESS_CLUSTER_PATTERN = /^cc-(?:[a-z0-9-]*-)?[0-9a-f]{6}$/;

/** Docker label on every container the harness itself starts; the value is `<hostname>:<pid>` of the owner. */
export const HARNESS_LABEL = 'calico-conformance.harness';

export function harnessLabelValue(pid: number = process.pid): string {
  return `${hostname()}:${pid}`;
}

export interface CleanupOptions {
  all?: boolean;
  dryRun?: boolean;
  dir?: string;
  runner?: ProcessRunner;
  kindCommand?: string;
  dockerCommand?: string;
  /** also look for unrecorded harness clusters and labelled containers (default true) */
  discover?: boolean;
}

export interface CleanupReport {
  removed: RemovalOutcome[];
  failed: RemovalOutcome[];
  /** would be removed (dry run) */
  planned: RecordedResource[];
  /** left alone, with why */
  skipped: { resource: RecordedResource; why: string }[];
  /** problems that stopped part of the search (no docker, unreadable state files) */
  notes: string[];
  /** the environment could not be searched (docker missing, its daemon unreachable): what, and how to fix it */
  unusable: { missing: string; problem: string }[];
}

/**
 * Whether a failed `docker` listing means the environment is not usable, rather than one odd failure: the
 * command is not installed (the runner reports exit 127, as a shell does, for ENOENT) or the client cannot
 * reach the daemon ("Cannot connect to the Docker daemon … Is the docker daemon running?", or permission
 * denied on /var/run/docker.sock).
 */
export function environmentProblem(
  r: RunResult,
  command: string,
): { missing: string; problem: string } | undefined {
  const said = `${r.stderr}\n${r.stdout}`.trim();
  const first = said.split('\n')[0] ?? '';
  if (r.exitCode === 127 || /command not found|executable file not found|ENOENT/i.test(said)) {
    return {
      missing: command,
      problem: `${command} is not installed or not on PATH (${first || `exit ${r.exitCode}`}); install Docker Engine (https://docs.docker.com/engine/install/) or pass the path of the docker CLI`,
    };
  }
  if (
    /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|permission denied.*docker\.sock/i.test(
      said,
    )
  ) {
    return {
      missing: 'docker daemon',
      problem: `the Docker daemon is not reachable (${first}); start it (e.g. \`sudo systemctl start docker\`), check DOCKER_HOST, or for "permission denied" add your user to the docker group`,
    };
  }
  return undefined;
}

export async function cleanupLeftovers(opts: CleanupOptions = {}): Promise<CleanupReport> {
  const runner = opts.runner ?? defaultRunner;
  const docker = opts.dockerCommand ?? 'docker';
  const report: CleanupReport = {
    removed: [],
    failed: [],
    planned: [],
    skipped: [],
    notes: [],
    unusable: [],
  };
  const listingFailed = (r: RunResult) => {
    const p = environmentProblem(r, docker);
    if (p && !report.unusable.some((u) => u.problem === p.problem)) report.unusable.push(p);
  };
  const protectedNames = new Set<string>();
  const handled = new Set<string>();
  const key = (r: { kind: string; name: string }) => `${r.kind} ${r.name}`;

  const remove = async (r: RecordedResource): Promise<boolean> => {
    handled.add(key(r));
    if (opts.dryRun) {
      report.planned.push(r);
      return false;
    }
    const out = await removeResource(r, runner, opts);
    (out.removed ? report.removed : report.failed).push(out);
    return out.removed;
  };

  const { runs, unreadable } = readRuns(opts.dir ?? stateDir());
  for (const f of unreadable) report.notes.push(`unreadable state file left alone: ${f}`);
  for (const { file, run } of runs) {
    const alive = runIsAlive(run);
    const kept: RecordedResource[] = [];
    // newest first: a cluster before the temp dir that holds its kubeconfig
    for (const r of [...run.resources].reverse()) {
      if (alive && !opts.all) {
        protectedNames.add(key(r));
        report.skipped.push({ resource: r, why: `owned by running process ${run.pid} on ${run.hostname}` });
        kept.unshift(r);
      } else if (r.kept && !opts.all) {
        protectedNames.add(key(r));
        report.skipped.push({
          resource: r,
          why: 'kept on purpose (--keep-cluster); use cleanup --all to remove it',
        });
        kept.unshift(r);
      } else if (!(await remove(r))) kept.unshift(r);
    }
    if (!opts.dryRun) writeRun(file, { ...run, resources: kept });
  }

  if (opts.discover === false) return report;
  // What no state file mentions: clusters by name pattern, containers by the harness label.
  const clusters = await runner.run(
    docker,
    ['ps', '-a', '--filter', 'label=io.x-k8s.kind.cluster', '--format', '{{.Label "io.x-k8s.kind.cluster"}}'],
    { timeoutMs: 30_000 },
  );
  if (clusters.exitCode !== 0) {
    listingFailed(clusters);
    report.notes.push(
      `could not list kind node containers: ${clusters.stderr.trim() || `exit ${clusters.exitCode}`}`,
    );
  } else {
    const names = [...new Set(clusters.stdout.split('\n').map((s) => s.trim()))].filter((n) =>
      HARNESS_CLUSTER_PATTERN.test(n),
    );
    for (const name of names) {
      const r: RecordedResource = {
        kind: 'kind-cluster',
        name,
        createdAt: '',
        purpose: 'found by name pattern',
      };
      if (handled.has(key(r))) continue;
      if (protectedNames.has(key(r))) continue;
      await remove(r);
    }
  }
  const labelled = await runner.run(
    docker,
    [
      'ps',
      '-a',
      '--filter',
      `label=${HARNESS_LABEL}`,
      '--format',
      `{{.Names}}\t{{.Label "${HARNESS_LABEL}"}}`,
    ],
    { timeoutMs: 30_000 },
  );
  if (labelled.exitCode !== 0) {
    listingFailed(labelled);
    report.notes.push(
      `could not list harness containers: ${labelled.stderr.trim() || `exit ${labelled.exitCode}`}`,
    );
  } else {
    for (const line of labelled.stdout.split('\n')) {
      const [name, owner] = line.trim().split('\t');
      if (!name) continue;
      const r: RecordedResource = {
        kind: 'container',
        name,
        createdAt: '',
        purpose: `labelled ${owner ?? ''}`,
      };
      if (handled.has(key(r)) || protectedNames.has(key(r))) continue;
      const [host, pid] = (owner ?? '').split(':');
      if (
        !opts.all &&
        host &&
        pid &&
        runIsAlive({ pid: Number(pid), hostname: host, startedAt: '', resources: [] })
      ) {
        report.skipped.push({ resource: r, why: `owned by running process ${pid} on ${host}` });
        continue;
      }
      await remove(r);
    }
  }
  return report;
}

export function formatCleanupReport(r: CleanupReport, dryRun = false): string {
  const lines: string[] = [];
  const what = (x: RecordedResource) => `${x.kind} ${x.name}${x.purpose ? ` (${x.purpose})` : ''}`;
  if (dryRun) for (const p of r.planned) lines.push(`would remove ${what(p)}`);
  for (const x of r.removed) lines.push(`removed ${what(x.resource)}: ${x.detail}`);
  for (const x of r.failed) lines.push(`could not remove ${what(x.resource)}: ${x.detail}`);
  for (const s of r.skipped) lines.push(`left ${what(s.resource)}: ${s.why}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (lines.length === 0) lines.push('nothing to clean up');
  return lines.join('\n');
}
