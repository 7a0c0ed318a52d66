/**
 * Collects a node dump through a NodeShell: each command of the node dump (docs/contracts.md, "Node dump")
 * runs inside the node (its network namespace), and its stdout is stored verbatim. A command the node lacks
 * leaves its file absent, with the reason in the notes, so the audit says "not checked" instead of "clean".
 *
 * ipsets: the kind base image ships no `ipset` binary (kind `images/base/Dockerfile` package list). ipsets
 * live in the kernel per network namespace, so any `ipset` binary running in the node's netns sees them. When
 * the node lacks the binary, the collector runs the one in a helper image in a throw-away container that
 * joins the node container's network namespace (`docker run --rm --network container:<node> --cap-add
 * NET_ADMIN --entrypoint ipset <image> list -n`): no host tool, no host namespace, nothing installed into the
 * node.
 */
import { DockerNodeShell, type NodeShell } from '../cluster/node-shell.js';
import { defaultRunner, type ProcessRunner, type RunResult } from '../exec/process.js';
import {
  BASELINE_FILE,
  DUMP_COMMANDS,
  type DumpCommandFile,
  type DumpFile,
  type NodeDump,
} from '../node-state/dump.js';
import { CNI_BACKUP_DIR } from './node-rules.js';

/** Lists ipsets in a node's network namespace by other means than the node's own binary. */
export interface IpsetLister {
  /** a short description for notes and remediation, e.g. the helper image */
  readonly via: string;
  list(): Promise<RunResult>;
}

/** The image whose `ipset` lists a kind node's sets from inside its netns (kind nodes have none). */
export const DEFAULT_IPSET_HELPER_IMAGE =
  process.env.CALICO_CONFORMANCE_IPSET_IMAGE ?? 'calico-conformance-testnode:latest';

export interface CollectOptions {
  /**
   * used when the node has no `ipset` binary (kind nodes). Defaults, for a DockerNodeShell, to the helper
   * container in the node's netns with DEFAULT_IPSET_HELPER_IMAGE; `null` turns the fallback off.
   */
  ipsetFallback?: IpsetLister | null;
  /** `cni-bin-baseline.sha256` taken right after cluster creation (collectBaseline) */
  baseline?: string;
  timeoutMs?: number;
  now?: () => Date;
}

/** Commands whose non-zero exit still carries the complete answer. */
const PARTIAL_OK: Partial<Record<DumpCommandFile, number[]>> = {
  // find exits 1 when some of the roots do not exist; the ones that do are listed
  'files.txt': [1],
  // the glob stays literal when /opt/cni/bin is empty or absent: sha256sum exits 1 with no output
  'cni-bin.sha256': [1],
};

/** docker exec answers 126/127 when the executable is not in the container; a shell answers 127. */
export function commandMissing(r: RunResult): boolean {
  return (
    (r.exitCode === 126 || r.exitCode === 127) &&
    /not found|no such file|executable file/i.test(`${r.stderr}\n${r.stdout}`)
  );
}

/**
 * The docker CLI's own failure (container gone or stopped, daemon unreachable): `docker exec` then exits
 * 1 or 125 without running anything, so an exit 1 "partial" answer (find, sha256sum) must not be taken
 * for the command's.
 */
export function dockerExecFailed(r: RunResult): boolean {
  return /error response from daemon|no such container|is not running|cannot connect to the docker daemon/i.test(
    `${r.stderr}\n${r.stdout}`,
  );
}

function describeFailure(r: RunResult): string {
  if (r.timedOut) return `timed out after ${Math.round(r.durationMs)}ms`;
  const tail = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ');
  return commandMissing(r)
    ? `command not available on the node (${tail || `exit ${r.exitCode}`})`
    : `exited ${r.exitCode}${tail ? `: ${tail}` : ''}`;
}

export async function collectNodeDump(shell: NodeShell, opts: CollectOptions = {}): Promise<NodeDump> {
  const dump: NodeDump = {
    node: shell.node,
    files: {},
    notes: { unavailable: {}, collectedAt: (opts.now?.() ?? new Date()).toISOString() },
  };
  const unavailable = dump.notes.unavailable as Partial<Record<DumpFile, string>>;
  const entries = Object.entries(DUMP_COMMANDS) as [DumpCommandFile, readonly string[]][];
  const ipsetFallback =
    opts.ipsetFallback === undefined && shell instanceof DockerNodeShell
      ? dockerNetnsIpsetLister(shell.container, DEFAULT_IPSET_HELPER_IMAGE, defaultRunner)
      : (opts.ipsetFallback ?? undefined);
  // sequential on purpose: a dump is a snapshot of one node, and docker exec in parallel buys little
  for (const [file, argv] of entries) {
    let r = await shell.exec(argv, { timeoutMs: opts.timeoutMs ?? 30_000 });
    if (file === 'ipset-list.txt') {
      if (r.exitCode === 0) dump.notes.ipsetVia = 'node';
      else if (commandMissing(r) && ipsetFallback) {
        const viaHelper = await ipsetFallback.list();
        if (viaHelper.exitCode === 0) {
          dump.notes.ipsetVia = 'helper-container';
          dump.notes.ipsetHelperImage = ipsetFallback.via;
        } else {
          unavailable[file] =
            `no ipset binary on the node, and the helper (${ipsetFallback.via}) failed: ${describeFailure(viaHelper)}`;
          continue;
        }
        r = viaHelper;
      }
    }
    const ok =
      r.exitCode === 0 ||
      (!r.timedOut && !dockerExecFailed(r) && (PARTIAL_OK[file] ?? []).includes(r.exitCode));
    if (ok && !commandMissing(r)) dump.files[file] = r.stdout;
    else unavailable[file] = describeFailure(r);
  }
  if (opts.baseline !== undefined) dump.files[BASELINE_FILE] = opts.baseline;
  return dump;
}

/**
 * `sha256sum /opt/cni/bin/*`, taken right after the cluster was created and before Calico (Calico
 * overwrites host-local, loopback, portmap). It also keeps a copy of the node's own plugins inside the node
 * (CNI_BACKUP_DIR), from which the complete uninstall restores what Calico overwrote; a copy that could not
 * be made shows later as a failed restore, never as a restored binary.
 */
export async function collectBaseline(shell: NodeShell, timeoutMs = 30_000): Promise<string | undefined> {
  const backup = await shell.exec(['rm', '-rf', CNI_BACKUP_DIR], { timeoutMs });
  if (
    backup.exitCode === 0 &&
    (await shell.exec(['mkdir', '-p', CNI_BACKUP_DIR], { timeoutMs })).exitCode === 0
  )
    await shell.exec(['cp', '-a', '/opt/cni/bin/.', `${CNI_BACKUP_DIR}/`], { timeoutMs });
  const r = await shell.exec(DUMP_COMMANDS['cni-bin.sha256'], { timeoutMs });
  if (r.exitCode === 0 || (r.exitCode === 1 && !commandMissing(r) && !r.timedOut && !dockerExecFailed(r)))
    return r.stdout;
  return undefined;
}

export const IPSET_HELPER_LABEL = 'calico-conformance.helper';

/**
 * Runs the `ipset` of `image` with `args` in the network namespace of `container` (docker's
 * `--network container:`), never pulling (`--pull never`: no registry traffic from an audit). ipsets are
 * state of that network namespace, so this lists or destroys the node's own sets and nothing else.
 */
export function dockerNetnsIpset(
  container: string,
  image: string,
  runner: ProcessRunner,
  dockerCommand = 'docker',
): (args: readonly string[]) => Promise<RunResult> {
  return (args) =>
    runner.run(
      dockerCommand,
      [
        'run',
        '--rm',
        '--pull',
        'never',
        '--network',
        `container:${container}`,
        '--cap-add',
        'NET_ADMIN',
        '--label',
        `${IPSET_HELPER_LABEL}=ipset`,
        '--entrypoint',
        'ipset',
        image,
        ...args,
      ],
      { timeoutMs: 60_000 },
    );
}

/** `ipset list -n` in the node's netns through the helper image (kind nodes have no ipset binary). */
export function dockerNetnsIpsetLister(
  container: string,
  image: string,
  runner: ProcessRunner,
  dockerCommand = 'docker',
): IpsetLister {
  const ipset = dockerNetnsIpset(container, image, runner, dockerCommand);
  return { via: image, list: () => ipset(['list', '-n']) };
}
