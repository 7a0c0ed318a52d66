import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClusterStateReader, writeClusterState } from '../../audit/cluster-state.js';
import { collectLiveCluster } from '../../audit/live.js';
import { nothingCollected } from '../../audit/rules.js';
import { ExitCode, UsageError } from '../../errors.js';
import { defaultRunner, type ProcessRunner } from '../../exec/process.js';
import { BASELINE_FILE, writeNodeDump } from '../../node-state/dump.js';
import { parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';

export const collectHelp = `calico-conformance collect --cluster NAME --out DIR [--ipset-helper-image IMAGE] [--baseline-dir DIR]
  Writes a node dump of a live kind cluster: DIR/<node>/<file> per node (docs/contracts.md "Node dump"), and
  DIR/cluster.json when \`kind get kubeconfig\` answers. A baseline already in DIR/<node>/ (or in
  --baseline-dir) is kept. kind nodes have no ipset binary: the sets are listed by IMAGE's ipset in a
  throw-away container that joins the node's network namespace (never pulled). Exit 1 when nothing could be
  collected on some node (its notes say why).`;

export interface CollectDeps {
  runner?: ProcessRunner;
  stateReaderFor?: (kubeconfigPath: string) => Promise<ClusterStateReader>;
}

export async function collectCommand(argv: string[], io: CliIO, deps: CollectDeps = {}): Promise<number> {
  const { values: raw } = parseCommandArgs('collect', argv, {
    cluster: { type: 'string' },
    out: { type: 'string' },
    'ipset-helper-image': { type: 'string' },
    'baseline-dir': { type: 'string' },
  });
  const values = stringValues(raw);
  if (!values.cluster) throw new UsageError('collect: --cluster NAME is required', 'cluster');
  if (!values.out) throw new UsageError('collect: --out DIR is required', 'out');
  const out = values.out;
  const runner = deps.runner ?? defaultRunner;
  const baselineDir = values['baseline-dir'];
  // a baseline taken right after cluster creation, already in DIR/<node>/ or in --baseline-dir, is kept
  const baselineFor = (node: string): string | undefined => {
    for (const d of [baselineDir, out].filter((x): x is string => Boolean(x))) {
      const p = join(d, node, BASELINE_FILE);
      if (existsSync(p)) return readFileSync(p, 'utf8');
    }
    return undefined;
  };
  const live = await collectLiveCluster(values.cluster, {
    runner,
    baselines: baselineFor,
    ...(values['ipset-helper-image'] ? { ipsetHelperImage: values['ipset-helper-image'] } : {}),
    ...(deps.stateReaderFor ? { stateReaderFor: deps.stateReaderFor } : {}),
  });
  mkdirSync(out, { recursive: true });
  const empty: string[] = [];
  for (const d of live.dumps) {
    writeNodeDump(out, d);
    const u = nothingCollected(d);
    if (u) {
      // a node with no command output cannot be audited: say so and fail, never a quiet "written"
      empty.push(u.node);
      io.err(`node ${u.node}: nothing could be collected (${u.reason})`);
      continue;
    }
    const missing = Object.entries(d.notes.unavailable ?? {});
    io.out(
      `${d.node}: ${Object.keys(d.files).length} files${missing.length ? `; not collected: ${missing.map(([f, why]) => `${f} (${why})`).join(', ')}` : ''}${d.notes.ipsetVia === 'helper-container' ? `; ipsets listed via ${d.notes.ipsetHelperImage}` : ''}`,
    );
  }
  if (live.cluster) {
    writeClusterState(out, live.cluster);
    io.out(`cluster.json: ${live.cluster.nodes.length} nodes, ${live.cluster.crds.length} CRDs`);
  } else {
    io.err(`cluster.json not written: ${live.apiUnavailable}`);
  }
  io.out(`node dump written to ${out}`);
  if (empty.length) {
    io.err(`collect: nothing could be collected on ${empty.join(', ')}; the dump cannot audit them`);
    return ExitCode.Failed;
  }
  return ExitCode.Ok;
}

function stringValues(raw: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw))
    out[k] = typeof v === 'string' ? v : v === true ? 'true' : undefined;
  return out;
}
