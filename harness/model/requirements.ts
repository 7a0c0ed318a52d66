/**
 * What a cell, a connectivity check or a policy scenario needs from the cell and the machine it runs on,
 * declared where it is defined (`requires: [...]`), and the one place that says whether it is met and, when
 * not, the reason it is skipped with (as cilium's connectivity test declares feature requirements on its
 * tests and evaluates them centrally). Suites and the pipeline describe the environment they know; they
 * never write a skip reason of their own.
 */
import type { InstallPath } from '../config/catalogue.js';
import { type Cell, isIpip } from '../config/cell.js';

export type Requirement =
  /** the projectcalico.org/v3 API: the Calico API server (operator install) or a user-supplied calicoctl */
  | 'calico-api'
  /** the host kernel's ipip support (kind nodes share the host kernel) */
  | 'ipip-kernel'
  /** at least two nodes: something to cross between */
  | 'two-nodes'
  /** the operator install path can run here */
  | 'operator-path'
  /** the manifest install path can run here */
  | 'manifest-path';

export const REQUIREMENTS: readonly Requirement[] = [
  'calico-api',
  'ipip-kernel',
  'two-nodes',
  'operator-path',
  'manifest-path',
];

/**
 * What is known about where the check runs. A fact left out is one the caller cannot know yet (the node
 * count before the cluster exists, the kernel when running against an existing cluster) and holds nothing
 * back; `calicoctl` left out means none was given.
 */
export interface Environment {
  cell: Pick<Cell, 'install' | 'encapsulation'>;
  /** nodes of the live cluster */
  nodes?: number;
  /** a calicoctl was given (`run --calicoctl`) */
  calicoctl?: boolean;
  /** the host kernel's ipip support, from the preflight */
  ipip?: { available: boolean; reason?: string };
  /** install paths that cannot run here, each with why (e.g. the operator path on a lab without it) */
  unavailablePaths?: Partial<Record<InstallPath, string>>;
}

export interface Unmet {
  requirement: Requirement;
  reason: string;
}

function reasonFor(r: Requirement, env: Environment): string | undefined {
  switch (r) {
    case 'calico-api':
      return env.cell.install === 'operator' || env.calicoctl
        ? undefined
        : 'Calico projectcalico.org/v3 policy needs the Calico API server (operator install) or calicoctl; ' +
            'this cell uses the manifest install and no calicoctl was given';
    case 'ipip-kernel':
      return env.ipip && !env.ipip.available
        ? (env.ipip.reason ?? 'the host kernel has no ipip support, and kind nodes share the host kernel')
        : undefined;
    case 'two-nodes':
      return env.nodes !== undefined && env.nodes < 2
        ? `needs two nodes to cross between, and this cell has ${env.nodes === 1 ? 'only one' : 'none'}`
        : undefined;
    case 'operator-path':
    case 'manifest-path': {
      const path: InstallPath = r === 'operator-path' ? 'operator' : 'manifest';
      const unavailable = env.unavailablePaths?.[path];
      if (unavailable !== undefined) return unavailable;
      return env.cell.install === path
        ? undefined
        : `needs the ${path} install, and this cell uses the ${env.cell.install} install`;
    }
  }
}

/** Every requirement that is not met here, in the order declared, each with its reason. */
export function unmetRequirements(requires: readonly Requirement[], env: Environment): Unmet[] {
  const out: Unmet[] = [];
  for (const requirement of new Set(requires)) {
    const reason = reasonFor(requirement, env);
    if (reason !== undefined) out.push({ requirement, reason });
  }
  return out;
}

/** Why something that requires `requires` is skipped here (the first unmet requirement's reason), or undefined. */
export function skipReason(requires: readonly Requirement[], env: Environment): string | undefined {
  return unmetRequirements(requires, env)[0]?.reason;
}

/** What a cell itself needs: its install path, and the host's ipip for IPIP and IPIPCrossSubnet. */
export function cellRequirements(cell: Pick<Cell, 'install' | 'encapsulation'>): Requirement[] {
  return [`${cell.install}-path`, ...(isIpip(cell.encapsulation) ? (['ipip-kernel'] as const) : [])];
}
