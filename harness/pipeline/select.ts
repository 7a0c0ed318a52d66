/**
 * Which planned cells this invocation runs: `--cells REGEX` over the cell id, then `--shard i/n`, a
 * deterministic round-robin split of what remains (cell k, 0-based in plan order, goes to shard k mod n + 1),
 * so every CI job computes the same split from the same plan and the shards stay balanced in size.
 */
import { availableParallelism, totalmem } from 'node:os';
import type { Cell } from '../config/cell.js';
import { UsageError } from '../errors.js';

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(value: string | undefined, flag = '--shard'): Shard | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw new UsageError(
      `${flag}: ${JSON.stringify(value)} is not allowed; allowed: i/n with 1 ≤ i ≤ n (e.g. 1/4)`,
      'shard',
    );
  return { index, count };
}

export function parseCellsRegex(value: string | undefined, flag = '--cells'): RegExp | undefined {
  if (value === undefined) return undefined;
  try {
    return new RegExp(value);
  } catch (err) {
    throw new UsageError(
      `${flag}: ${JSON.stringify(value)} is not a valid regular expression: ${(err as Error).message}`,
      flag.slice(2),
    );
  }
}

export function selectCells(cells: readonly Cell[], opts: { cells?: RegExp; shard?: Shard }): Cell[] {
  let out = [...cells];
  if (opts.cells) {
    const re = opts.cells;
    out = out.filter((c) => re.test(c.id));
    if (out.length === 0)
      throw new UsageError(
        `--cells: ${re.source} matches none of the ${cells.length} planned cells (ids: ${cells
          .slice(0, 6)
          .map((c) => c.id)
          .join(', ')}${cells.length > 6 ? ', …' : ''})`,
        'cells',
      );
  }
  if (opts.shard) {
    const { index, count } = opts.shard;
    out = out.filter((_, k) => k % count === index - 1);
  }
  return out;
}

/** Key of what a kind cluster is made from: cells with equal keys can share one cluster (--reuse-cluster). */
export function clusterShapeKey(cell: Cell): string {
  return JSON.stringify([cell.workers, cell.nodeImage, cell.podCIDR, cell.serviceCIDR, cell.topology]);
}

/** Groups cells that can share a cluster, in plan order of each group's first cell. */
export function reuseGroups(cells: readonly Cell[]): Cell[][] {
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const k = clusterShapeKey(c);
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  return [...groups.values()];
}

/**
 * Rough capacity per cluster, for the --parallel warning. kubeadm (which kind runs in each node) asks for
 * "2 GB or more of RAM per machine" and "2 CPUs or more" for control-plane machines
 * (kubernetes.io/docs/setup/production-environment/tools/kubeadm/install-kubeadm/ "Before you begin").
 * kind nodes share the host's CPUs and memory, and only the control plane is busy at rest, so a 3-node
 * cluster with Calico and the probe pods is estimated at ~2 CPUs and ~4 GiB (control plane 2 GiB, workers
 * ~1 GiB each). A planning estimate for a warning, never a limit.
 */
export const PER_CLUSTER = { cpus: 2, memoryGiB: 4, nodes: 3 } as const;

export function capacityWarning(
  parallel: number,
  cells: readonly Cell[],
  machine: { cpus: number; memoryBytes: number } = { cpus: availableParallelism(), memoryBytes: totalmem() },
): string | undefined {
  if (cells.length === 0) return undefined;
  const maxNodes = Math.max(...cells.map((c) => c.workers + 1));
  const scale = Math.max(1, maxNodes / PER_CLUSTER.nodes);
  const clusters = Math.min(parallel, cells.length);
  const needCpus = Math.ceil(clusters * PER_CLUSTER.cpus * scale);
  const needGiB = Math.ceil(clusters * PER_CLUSTER.memoryGiB * scale);
  const haveGiB = machine.memoryBytes / 2 ** 30;
  if (machine.cpus >= needCpus && haveGiB >= needGiB) return undefined;
  const fit = Math.max(
    1,
    Math.floor(
      Math.min(machine.cpus / (PER_CLUSTER.cpus * scale), haveGiB / (PER_CLUSTER.memoryGiB * scale)),
    ),
  );
  return (
    `--parallel ${parallel}: ${clusters} cluster(s) of up to ${maxNodes} nodes want about ${needCpus} CPUs and ` +
    `${needGiB} GiB of memory (~${PER_CLUSTER.cpus} CPUs and ~${PER_CLUSTER.memoryGiB} GiB per ${PER_CLUSTER.nodes}-node cluster); ` +
    `this machine has ${machine.cpus} CPUs and ${haveGiB.toFixed(1)} GiB. Expect timeouts; --parallel ${fit} fits`
  );
}
