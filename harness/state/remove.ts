/**
 * Removing one recorded resource: the same code for the teardown of a live run and for `cleanup` of a dead one.
 * Every removal is idempotent ("already gone" is success) and says why when it fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ProcessRunner } from '../exec/process.js';
import type { RecordedResource } from './run-state.js';

export interface RemovalOutcome {
  resource: RecordedResource;
  removed: boolean;
  detail: string;
}

export async function removeResource(
  r: RecordedResource,
  runner: ProcessRunner,
  opts: { kindCommand?: string; dockerCommand?: string } = {},
): Promise<RemovalOutcome> {
  const docker = opts.dockerCommand ?? 'docker';
  const kind = opts.kindCommand ?? 'kind';
  const done = (removed: boolean, detail: string): RemovalOutcome => ({ resource: r, removed, detail });
  switch (r.kind) {
    case 'kind-cluster': {
      // `kind delete cluster` of a cluster that does not exist succeeds (kind quick-start), so it is idempotent.
      const res = await kindDelete(runner, kind, r.name);
      if (res.exitCode === 0) return done(true, 'kind delete cluster');
      // Without kind, remove the node containers by kind's own label.
      const ps = await runner.run(
        docker,
        ['ps', '-aq', '--filter', `label=io.x-k8s.kind.cluster=${r.name}`],
        {
          timeoutMs: 30_000,
        },
      );
      if (ps.exitCode !== 0)
        return done(
          false,
          `kind delete failed (${firstLine(res.stderr)}) and docker ps failed (${firstLine(ps.stderr)})`,
        );
      const ids = ps.stdout
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      if (ids.length === 0) return done(true, 'no node containers left');
      const rm = await runner.run(docker, ['rm', '-f', '-v', ...ids], { timeoutMs: 120_000 });
      return rm.exitCode === 0
        ? done(true, `removed ${ids.length} node container(s) with docker (kind: ${firstLine(res.stderr)})`)
        : done(false, `docker rm failed: ${firstLine(rm.stderr)}`);
    }
    case 'container': {
      const res = await runner.run(docker, ['rm', '-f', '-v', r.name], { timeoutMs: 60_000 });
      if (res.exitCode === 0 || /No such container/i.test(res.stderr)) return done(true, 'docker rm -f');
      return done(false, `docker rm failed: ${firstLine(res.stderr)}`);
    }
    case 'network': {
      const res = await runner.run(docker, ['network', 'rm', r.name], { timeoutMs: 30_000 });
      if (res.exitCode === 0 || /not found/i.test(res.stderr)) return done(true, 'docker network rm');
      return done(false, `docker network rm failed: ${firstLine(res.stderr)}`);
    }
    case 'temp-path': {
      // Only absolute paths are ever recorded; refuse anything else rather than resolve it against a cwd.
      if (!isAbsolute(r.name) || r.name === '/') return done(false, 'refusing to remove a non-absolute path');
      try {
        rmSync(r.name, { recursive: true, force: true });
        return done(true, 'removed');
      } catch (err) {
        return done(false, (err as Error).message);
      }
    }
  }
}

/**
 * `kind delete cluster`, pointed at a kubeconfig of our own: without `--kubeconfig` kind locks and rewrites the
 * user's default kubeconfig ($KUBECONFIG or ~/.kube/config) to drop the cluster's entry (kind
 * pkg/cluster/internal/kubeconfig RemoveKIND), and the harness never writes there. When the run's own kubeconfig
 * is known it is given; otherwise a throwaway path in a private temp dir (kind only logs that it has no entry).
 */
export async function kindDelete(runner: ProcessRunner, kind: string, name: string, kubeconfigPath?: string) {
  const scratch = kubeconfigPath ? undefined : mkdtempSync(join(tmpdir(), 'cc-kind-delete-'));
  try {
    return await runner.run(
      kind,
      ['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfigPath ?? join(scratch!, 'kubeconfig')],
      { timeoutMs: 180_000 },
    );
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
