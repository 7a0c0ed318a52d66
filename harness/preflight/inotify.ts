/**
 * kind nodes are containers on the host's kernel, and every process in them runs as the host's root: they
 * all draw on one per-user inotify instance limit (`fs.inotify.max_user_instances`, 128 by default). On
 * the lab (2026-12-06) a kind node held 28–30 instances as a control plane and 14–16 as a worker (systemd,
 * containerd, kubelet, kube-proxy, Calico), so two 3-node clusters at once left nothing: node containers
 * exited seconds after their start (kind: "could not find a log line that matches …") and kube-proxy
 * crash-looped with "too many open files", which made calico-node's install-cni reach 10.96.0.1:443
 * without kube-proxy's rule (a certificate "without IP SANs"). kind's known-issues page names the same
 * limit. The harness never changes a host setting: this reads the limit and what is in use, read-only, and
 * says before anything is created when the planned clusters will not fit.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** inotify instances per kind node, as measured on the lab (the upper end of what was seen) */
export const INOTIFY_PER_CONTROL_PLANE = 30;
export const INOTIFY_PER_WORKER = 16;

export interface InotifyState {
  /** fs.inotify.max_user_instances, or undefined when it cannot be read */
  limit?: number;
  /**
   * inotify instances open by root's processes (the user kind nodes run as, whose limit it is); undefined
   * when this process cannot read root's processes (not root): the nodes already running are then unknown
   */
  inUse?: number;
}

/**
 * Reads the limit and counts the inotify instances of root's processes under PROC (read-only). `uid`: this
 * process's user (only root can read other root processes' descriptors).
 */
export function readInotify(proc = '/proc', uid = process.getuid?.() ?? -1): InotifyState {
  let limit: number | undefined;
  try {
    const n = Number(readFileSync(join(proc, 'sys/fs/inotify/max_user_instances'), 'utf8').trim());
    if (Number.isInteger(n) && n > 0) limit = n;
  } catch {
    // no procfs (not Linux): nothing to say
  }
  const known = limit !== undefined ? { limit } : {};
  if (uid !== 0) return known;
  let inUse = 0;
  let pids: string[] = [];
  try {
    pids = readdirSync(proc).filter((d) => /^\d+$/.test(d));
  } catch {
    return known;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      // the limit is per user: only root's processes (every kind node's) count against it
      if (statSync(join(proc, pid)).uid !== 0) continue;
      fds = readdirSync(join(proc, pid, 'fd'));
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(join(proc, pid, 'fd', fd)) === 'anon_inode:inotify') inUse++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return { ...known, inUse };
}

/** What CLUSTERS clusters of these node counts need at once. */
export function inotifyNeed(clusters: readonly { workers: number }[]): number {
  return clusters.reduce((n, c) => n + INOTIFY_PER_CONTROL_PLANE + c.workers * INOTIFY_PER_WORKER, 0);
}

/**
 * The warning for clusters that will not fit in what is left of the limit, or undefined. `clusters`: the
 * largest set of clusters that exist at once (with --parallel N, the N largest).
 */
export function inotifyWarning(
  state: InotifyState,
  clusters: readonly { workers: number }[],
): string | undefined {
  if (state.limit === undefined || clusters.length === 0) return undefined;
  const need = inotifyNeed(clusters);
  const free = state.limit - (state.inUse ?? 0);
  if (need <= free) return undefined;
  const used = state.inUse === undefined ? '' : ` with ${state.inUse} in use`;
  return (
    `inotify: fs.inotify.max_user_instances is ${state.limit}${used}, and ${clusters.length} ` +
    `cluster(s) of ${clusters.map((c) => c.workers + 1).join(', ')} nodes need about ${need} ` +
    `(~${INOTIFY_PER_CONTROL_PLANE} per control plane, ~${INOTIFY_PER_WORKER} per worker, shared with every other kind ` +
    'node on this host): nodes may exit while booting and kube-proxy crash with "too many open files" (a kind ' +
    'known issue). Raise it on the host (sysctl fs.inotify.max_user_instances=512; the harness never changes ' +
    'host settings) or run fewer clusters at once'
  );
}
