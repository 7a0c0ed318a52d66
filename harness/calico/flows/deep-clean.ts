/**
 * Deep clean of kind nodes after an uninstall: the user guide's uninstall steps 2–4 (user-guide.md) made safe
 * for kind, where every node shares the host's kernel.
 *
 * - Never `modprobe -r ipip`: it acts on the host kernel and every other cluster on it, usually fails because the
 *   module is in use, and the next IPIP install reloads it (calico-tests-uninstall.md §3.3). tunl0 is the
 *   kernel's fallback device, present in every netns while ipip is loaded, and cannot be deleted: flush its
 *   addresses and set it down instead (§3.4); the kernel drops the routes via it when it goes down.
 * - `vxlan.calico` / `vxlan-v6.calico` are ordinary netlink devices that survive calico-node (§3.5): delete them.
 * - Calico's CNI config and kubeconfig in /etc/cni/net.d and the IPAM state in /var/lib/cni (§2.4): remove them.
 *   Only Calico's files in /etc/cni/net.d are removed, not the whole directory (the guide's `rm -rf
 *   /etc/cni/net.d/*` would also take another CNI's config).
 * - Restart kubelet inside the node (kind nodes run systemd), so it re-reads the CNI config directory.
 *
 * Every command runs inside the node through its NodeShell. Each step reports done / absent / failed, and a
 * kubelet that cannot be restarted (no systemd) is reported as `unavailable`, never silently skipped.
 */
import type { NodeShell } from '../../cluster/node-shell.js';
import type { FlowEvent } from './context.js';

export type DeepCleanOutcome = 'done' | 'absent' | 'failed' | 'unavailable';

export interface DeepCleanStep {
  action: string;
  outcome: DeepCleanOutcome;
  detail?: string;
}

export interface DeepCleanReport {
  node: string;
  steps: DeepCleanStep[];
  /** every step done or absent */
  complete: boolean;
}

export const CALICO_CNI_FILES = ['/etc/cni/net.d/10-calico.conflist', '/etc/cni/net.d/calico-kubeconfig'];
export const CALICO_CNI_DIRS = ['/etc/cni/net.d/calico-tls', '/var/lib/cni'];
export const VXLAN_DEVICES = ['vxlan.calico', 'vxlan-v6.calico'];
const TIMEOUT = { timeoutMs: 30_000 };

export async function deepClean(
  nodes: readonly NodeShell[],
  opts: { status?: (e: FlowEvent) => void } = {},
): Promise<DeepCleanReport[]> {
  return Promise.all(nodes.map((n) => deepCleanNode(n, opts)));
}

export async function deepCleanNode(
  node: NodeShell,
  opts: { status?: (e: FlowEvent) => void } = {},
): Promise<DeepCleanReport> {
  const steps: DeepCleanStep[] = [];
  const stepName = `deep clean ${node.node}`;
  opts.status?.({ flow: 'deep-clean', step: stepName, state: 'start' });
  const started = performance.now();

  const run = async (argv: string[]) => node.exec(argv, TIMEOUT);
  const failed = (
    action: string,
    r: { exitCode: number; stderr: string; stdout: string; timedOut?: boolean; durationMs?: number },
  ) =>
    steps.push({
      action,
      outcome: 'failed',
      detail: r.timedOut
        ? `timed out after ${Math.round(r.durationMs ?? 0)}ms${(r.stderr || r.stdout).trim() ? `: ${(r.stderr || r.stdout).trim()}` : ''}`
        : `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`,
    });

  // tunl0: flush and down, never delete or unload.
  const tunl = await run(['ip', '-o', 'link', 'show', 'dev', 'tunl0']);
  if (deviceAbsent(tunl)) steps.push({ action: 'tunl0: flush addresses, set down', outcome: 'absent' });
  else if (tunl.exitCode !== 0 || tunl.timedOut) failed('tunl0: flush addresses, set down', tunl);
  else {
    const flush = await run(['ip', 'addr', 'flush', 'dev', 'tunl0']);
    const down = flush.exitCode === 0 ? await run(['ip', 'link', 'set', 'dev', 'tunl0', 'down']) : flush;
    if (down.exitCode === 0) steps.push({ action: 'tunl0: flush addresses, set down', outcome: 'done' });
    else failed('tunl0: flush addresses, set down', down);
  }

  for (const dev of VXLAN_DEVICES) {
    const show = await run(['ip', '-o', 'link', 'show', 'dev', dev]);
    if (deviceAbsent(show)) {
      steps.push({ action: `delete ${dev}`, outcome: 'absent' });
      continue;
    }
    if (show.exitCode !== 0 || show.timedOut) {
      failed(`delete ${dev}`, show);
      continue;
    }
    const del = await run(['ip', 'link', 'del', 'dev', dev]);
    if (del.exitCode === 0) steps.push({ action: `delete ${dev}`, outcome: 'done' });
    else failed(`delete ${dev}`, del);
  }

  for (const path of [...CALICO_CNI_FILES, ...CALICO_CNI_DIRS]) {
    const exists = await run(['test', '-e', path]);
    if (pathAbsent(exists)) {
      steps.push({ action: `remove ${path}`, outcome: 'absent' });
      continue;
    }
    if (exists.exitCode !== 0 || exists.timedOut) {
      failed(`remove ${path}`, exists);
      continue;
    }
    const rm = await run(['rm', '-rf', '--one-file-system', path]);
    if (rm.exitCode !== 0 || rm.timedOut) {
      failed(`remove ${path}`, rm);
      continue;
    }
    const still = await run(['test', '-e', path]);
    if (pathAbsent(still)) steps.push({ action: `remove ${path}`, outcome: 'done' });
    else
      failed(
        `remove ${path}`,
        still.exitCode === 0 && !still.timedOut
          ? { exitCode: 0, stderr: 'still present after rm', stdout: '' }
          : still,
      );
  }

  const restart = await node.exec(['systemctl', 'restart', 'kubelet'], { timeoutMs: 90_000 });
  const out = `${restart.stderr}\n${restart.stdout}`.trim();
  if (restart.exitCode === 0) steps.push({ action: 'restart kubelet', outcome: 'done' });
  else if (
    restart.exitCode === 127 ||
    /executable file not found|command not found|not been booted with systemd|Failed to connect to bus|System has not been booted/i.test(
      out,
    )
  )
    steps.push({
      action: 'restart kubelet',
      outcome: 'unavailable',
      detail: `this node has no running systemd to restart kubelet with (${out.split('\n')[0] || `exit ${restart.exitCode}`}); kubelet was not restarted`,
    });
  else failed('restart kubelet', restart);

  const complete = steps.every((s) => s.outcome === 'done' || s.outcome === 'absent');
  const problems = steps.filter((s) => s.outcome === 'failed' || s.outcome === 'unavailable');
  opts.status?.({
    flow: 'deep-clean',
    step: stepName,
    state: complete ? 'done' : 'failed',
    durationMs: performance.now() - started,
    ...(problems.length
      ? { detail: problems.map((p) => `${p.action}: ${p.outcome} ${p.detail ?? ''}`.trim()).join('; ') }
      : {}),
  });
  return { node: node.node, steps, complete };
}

/** what the docker CLI prints when `docker exec` itself could not run the command in the container */
const DOCKER_EXEC_FAILED =
  /error response from daemon|no such container|is not running|cannot connect to the docker daemon/i;

type Answer = { exitCode: number; stderr: string; stdout: string; timedOut: boolean };

/**
 * iproute2's own "no such device" answer: `ip link show dev X` exits 1 and prints `Device "X" does not
 * exist.` Any other failure (exit 127: no `ip`; 126/125 or 1 from a failed `docker exec`; a timeout) says
 * nothing about the device, so it is not "absent".
 */
export function deviceAbsent(r: Answer): boolean {
  const out = `${r.stderr}\n${r.stdout}`;
  return !r.timedOut && r.exitCode === 1 && /does not exist/i.test(out) && !DOCKER_EXEC_FAILED.test(out);
}

/**
 * `test -e PATH` answers exit 1 (silently) when PATH is not there; 2+ is a usage error, 126/127 a missing
 * `test`, and a docker exec that could not start says so on stderr (exit 1 from the docker CLI with
 * "Error response from daemon" / "No such container"), so those are failures, not absence.
 */
export function pathAbsent(r: Answer): boolean {
  return !r.timedOut && r.exitCode === 1 && !DOCKER_EXEC_FAILED.test(`${r.stderr}\n${r.stdout}`);
}
