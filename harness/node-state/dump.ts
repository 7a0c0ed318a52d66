/**
 * The node dump (docs/contracts.md, "Node dump"): the exact output of a fixed list of commands, one file each,
 * per node. `collect` writes it, the live audit collects the same files in memory, and both are read by
 * the same parsers (parse.ts) and rules (audit/rules.ts). It is node state, below the audit: the cluster's
 * topology checks and the mode verification read the same files. A file that is absent means the command was not
 * available on that node: the checks that need it are reported as "not checked", never as clean.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * File → the command whose output it holds, run in the node's network namespace. The order is the
 * contract's. `sha256sum /opt/cni/bin/*` needs a shell for the glob; the script is a constant.
 */
export const DUMP_COMMANDS = {
  'ip-link.json': ['ip', '-d', '-j', 'link', 'show'],
  'ip-addr.json': ['ip', '-j', 'addr', 'show'],
  'ip-route.json': ['ip', '-j', 'route', 'show', 'table', 'all'],
  'ip6-route.json': ['ip', '-6', '-j', 'route', 'show', 'table', 'all'],
  'iptables-legacy-save.txt': ['iptables-legacy-save'],
  'iptables-nft-save.txt': ['iptables-nft-save'],
  'ip6tables-legacy-save.txt': ['ip6tables-legacy-save'],
  'ip6tables-nft-save.txt': ['ip6tables-nft-save'],
  'nft-tables.txt': ['nft', 'list', 'tables'],
  'ipset-list.txt': ['ipset', 'list', '-n'],
  // -xdev: never descend into a mount below a root (the cgroup2 mount calico-node leaves at
  // /run/calico/cgroup would list the whole cgroup tree); each root is listed even when it is a mount itself
  'files.txt': [
    'find',
    '/etc/cni/net.d',
    '/opt/cni/bin',
    '/var/lib/calico',
    '/var/run/calico',
    '/var/log/calico',
    '/var/run/nodeagent',
    '/var/lib/cni',
    '/var/lib/kubelet/plugins/csi.tigera.io',
    '/var/lib/kubelet/plugins_registry',
    '/sys/fs/bpf',
    '-xdev',
    '-maxdepth',
    '3',
    '-printf',
    '%y %p\\n',
  ],
  // the node container's mount table: the bpffs on /sys/fs/bpf and the cgroup2 at /run/calico/cgroup that
  // calico-node's init container mounts and nothing unmounts
  'mounts.txt': ['cat', '/proc/self/mountinfo'],
  'cni-bin.sha256': ['sh', '-c', 'sha256sum /opt/cni/bin/*'],
} as const satisfies Record<string, readonly string[]>;

export type DumpCommandFile = keyof typeof DUMP_COMMANDS;
export const BASELINE_FILE = 'cni-bin-baseline.sha256';
export type DumpFile = DumpCommandFile | typeof BASELINE_FILE;
export const DUMP_FILES: readonly DumpFile[] = [
  ...(Object.keys(DUMP_COMMANDS) as DumpCommandFile[]),
  BASELINE_FILE,
];

/** Notes the collector keeps beside the files (additive to the contract): why a file is absent, and how ipsets were listed. */
export const NOTES_FILE = 'collect-notes.json';

export interface DumpNotes {
  /** file → why it is absent (command missing, failed, timed out) */
  unavailable?: Partial<Record<DumpFile, string>>;
  /** how `ipset-list.txt` was produced: in the node, or by a helper container in the node's netns */
  ipsetVia?: 'node' | 'helper-container';
  /** the helper image when ipsetVia is helper-container */
  ipsetHelperImage?: string;
  collectedAt?: string;
}

export interface NodeDump {
  node: string;
  files: Partial<Record<DumpFile, string>>;
  notes: DumpNotes;
}

export function writeNodeDump(dir: string, dump: NodeDump): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(dump.node)) {
    throw new UsageError(
      `node dump: node name ${JSON.stringify(dump.node)} is not a safe directory name`,
      'node',
    );
  }
  const nodeDir = join(dir, dump.node);
  mkdirSync(nodeDir, { recursive: true });
  for (const f of DUMP_FILES) {
    const text = dump.files[f];
    if (text !== undefined) writeFileSync(join(nodeDir, f), text);
  }
  writeFileSync(join(nodeDir, NOTES_FILE), `${JSON.stringify(dump.notes, null, 2)}\n`);
  return nodeDir;
}

/** Reads one node's directory (`DIR/<node>/`); the node name is the directory name. */
export function readNodeDump(nodeDir: string): NodeDump {
  if (!existsSync(nodeDir) || !statSync(nodeDir).isDirectory()) {
    throw new UsageError(`node dump: ${nodeDir} is not a directory`, 'node-dump');
  }
  const files: Partial<Record<DumpFile, string>> = {};
  for (const f of DUMP_FILES) {
    const p = join(nodeDir, f);
    if (existsSync(p)) files[f] = readFileSync(p, 'utf8');
  }
  let notes: DumpNotes = {};
  const notesPath = join(nodeDir, NOTES_FILE);
  if (existsSync(notesPath)) {
    try {
      notes = JSON.parse(readFileSync(notesPath, 'utf8')) as DumpNotes;
    } catch (err) {
      throw new UsageError(
        `node dump: ${notesPath} is not valid JSON: ${(err as Error).message}`,
        'node-dump',
      );
    }
  }
  return { node: basename(nodeDir), files, notes };
}

/**
 * Reads a whole dump directory: every sub-directory holding at least one dump file (or the collector's
 * notes) is a node. A
 * directory that is itself a node's directory (has dump files) is read as a single node.
 */
export function readDumpDir(dir: string): NodeDump[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`--node-dump: ${dir} is not a directory`, 'node-dump');
  }
  // a node where nothing could be collected has only its notes: it is still a node, so the audit can
  // say it was not audited instead of silently leaving it out
  const isNodeDir = (d: string) => [...DUMP_FILES, NOTES_FILE].some((f) => existsSync(join(d, f)));
  if (isNodeDir(dir)) return [readNodeDump(dir)];
  const nodes = readdirSync(dir)
    .sort()
    .map((name) => join(dir, name))
    .filter((p) => statSync(p).isDirectory() && isNodeDir(p))
    .map(readNodeDump);
  if (nodes.length === 0) {
    throw new UsageError(
      `--node-dump: ${dir} holds no node dump (expected DIR/<node>/ with ${DUMP_FILES.slice(0, 3).join(', ')}, …)`,
      'node-dump',
    );
  }
  return nodes;
}
