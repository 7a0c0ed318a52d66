/**
 * The matrix: cells one after another by default; `--parallel N` keeps N clusters busy at once;
 * `--reuse-cluster` runs the cells that can share a cluster (same nodes, image, CIDRs, topology) on one
 * cluster, uninstalling between them. Reuse doubles as an uninstall test: a mode change after an incomplete
 * uninstall is a classic real failure (a stale IPPool keeps the old encapsulation, a leftover
 * 10-calico.conflist points kubelet at a plugin whose datastore is gone; docs/calico-facts.md, "What an
 * uninstall leaves"). `--fail-fast` starts no new cell once one failed; the cells it did not start are
 * `not-run` with the reason.
 */
import type { Cell } from '../config/cell.js';
import { type CellResult, PHASES, RUN_PHASES, type RunResults } from '../model/results.js';
import type { PreflightReport } from '../preflight/preflight.js';
import { type CellRunOptions, type ClusterSlot, notRunCell, runCell } from './cell.js';
import type { PipelineDeps, ProgressSink } from './deps.js';
import { reuseGroups } from './select.js';

export interface MatrixOptions
  extends Omit<CellRunOptions, 'slot' | 'keepForNextCell' | 'index' | 'total' | 'leftBehind' | 'preflight'> {
  preflight: PreflightReport;
  parallel?: number;
  reuseCluster?: boolean;
  failFast?: boolean;
  progress: ProgressSink;
  toolVersion: string;
}

const isBad = (r: CellResult) => r.outcome === 'failed' || r.outcome === 'error';

export async function runMatrix(
  cells: readonly Cell[],
  deps: PipelineDeps,
  opts: MatrixOptions,
): Promise<RunResults> {
  const startedAt = new Date();
  const t0 = performance.now();
  const results = new Map<string, CellResult>();
  const leftBehind: string[] = [];
  let failedCell: string | undefined;
  const index = new Map(cells.map((c, i) => [c.id, i]));
  const phases = opts.upgrade ? PHASES : RUN_PHASES;
  const notRun = (cell: Cell, reason: string) => notRunCell(cell, reason, phases);

  // --kubeconfig: every cell runs on the one existing cluster, so one group in plan order
  const groups: Cell[][] = opts.kubeconfig
    ? [[...cells]]
    : opts.reuseCluster
      ? reuseGroups(cells)
      : cells.map((c) => [c]);

  const stopReason = (): string | undefined => {
    if (opts.signal?.aborted) {
      const r = opts.signal.reason;
      return `interrupted by ${typeof r === 'string' ? r : 'SIGINT'} before this cell started`;
    }
    if (opts.failFast && failedCell) return `--fail-fast: not started after ${failedCell} failed`;
    return undefined;
  };

  async function runGroup(group: Cell[]): Promise<void> {
    const slot: ClusterSlot = {};
    for (let k = 0; k < group.length; k++) {
      const cell = group[k]!;
      const stop = stopReason();
      if (stop) {
        results.set(cell.id, notRun(cell, stop));
        continue;
      }
      const isLast = k === group.length - 1;
      const r = await runCell(cell, deps, {
        ...opts,
        slot,
        keepForNextCell: !isLast,
        index: index.get(cell.id) ?? 0,
        total: cells.length,
        leftBehind,
      });
      results.set(cell.id, r);
      if (isBad(r)) failedCell ??= cell.id;
      // a group cut short (fail-fast, SIGINT) still deletes its cluster
      if (slot.handle && (isLast || stopReason())) {
        // normally the last cell's teardown phase deleted it; this is the safety net
        const keep = slot.attached === true || opts.keepCluster === true;
        const left = await slot.handle.dispose({ keep });
        if (!keep) leftBehind.push(...left);
        slot.handle = undefined;
      }
    }
  }

  const queue = [...groups];
  const workers = Math.max(1, Math.min(opts.parallel ?? 1, queue.length));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let g = queue.shift(); g; g = queue.shift()) await runGroup(g);
    }),
  );

  const finishedAt = new Date();
  const interrupted = opts.signal?.aborted ? String(opts.signal.reason ?? 'SIGINT') : undefined;
  return {
    tool: { name: 'calico-conformance', version: opts.toolVersion },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    host: {
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      ...(opts.preflight.kind.version ? { kindVersion: opts.preflight.kind.version } : {}),
      ...(opts.preflight.docker.version ? { dockerVersion: opts.preflight.docker.version } : {}),
    },
    cells: cells.map((c) => results.get(c.id) ?? notRun(c, 'not started')),
    leftBehind,
    ...(interrupted ? { interrupted } : {}),
  };
}
