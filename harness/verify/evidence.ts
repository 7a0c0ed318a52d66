/**
 * What the mode verification read, kept with the cell's results as `verify-dump/`: each node's dump at
 * verification time (`verify-dump/<node>/…`, the audit's node-dump format) and `verify-dump/verify-input.json`
 * with the rest of its input (IPPools, block affinities, pods, each node's addresses and BIRD's answer). A
 * real run's folder is therefore ground truth that verifyMode can be run on again (test/unit/verify/).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDumpDir, writeNodeDump } from '../node-state/dump.js';
import type { VerifyInput, VerifyNode } from './mode.js';

export const VERIFY_DUMP_DIR = 'verify-dump';
export const VERIFY_INPUT_FILE = 'verify-input.json';

type NodeRecord = Omit<VerifyNode, 'dump'>;

interface VerifyInputFile {
  pools: VerifyInput['pools'];
  blockAffinities: VerifyInput['blockAffinities'];
  pods: VerifyInput['pods'];
  nodes: NodeRecord[];
}

/** Writes DIR/<node>/… and DIR/verify-input.json; returns DIR. */
export function writeVerifyEvidence(dir: string, input: VerifyInput): string {
  mkdirSync(dir, { recursive: true });
  for (const n of input.nodes) writeNodeDump(dir, n.dump);
  const file: VerifyInputFile = {
    pools: input.pools,
    blockAffinities: input.blockAffinities,
    pods: input.pods,
    nodes: input.nodes.map(({ dump: _dump, ...rest }) => rest),
  };
  writeFileSync(join(dir, VERIFY_INPUT_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return dir;
}

/** Reads what writeVerifyEvidence wrote; a node without its dump directory gets an empty dump (its checks skip). */
export function readVerifyEvidence(dir: string): VerifyInput {
  const path = join(dir, VERIFY_INPUT_FILE);
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const file = JSON.parse(readFileSync(path, 'utf8')) as VerifyInputFile;
  const dumps = readDumpDir(dir);
  return {
    pools: file.pools,
    blockAffinities: file.blockAffinities,
    pods: file.pods,
    nodes: file.nodes.map((n) => ({
      ...n,
      dump: dumps.find((d) => d.node === n.name) ?? { node: n.name, files: {}, notes: {} },
    })),
  };
}
