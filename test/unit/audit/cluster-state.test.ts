/**
 * cluster.json from a dump directory is input: every item the rules read is validated, and a wrong type is
 * a UsageError (exit 2) naming the field, never a TypeError (exit 1) inside the rules.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readClusterStateFile } from '../../../harness/audit/cluster-state.js';
import { auditReport } from '../../../harness/audit/rules.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { main } from '../../../harness/cli/main.js';
import { ExitCode, exitCodeOf, UsageError } from '../../../harness/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dumpDir(cluster: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cc-cstate-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'n1'));
  writeFileSync(join(dir, 'n1', 'ip-link.json'), '[]');
  writeFileSync(join(dir, 'cluster.json'), cluster);
  return dir;
}

function usageErrorOf(cluster: string): UsageError {
  try {
    readClusterStateFile(dumpDir(cluster));
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`cluster.json ${cluster} was accepted`);
}

describe('readClusterStateFile validation', () => {
  it.each([
    ['null', 'cluster.json (top level)'],
    ['[]', 'cluster.json (top level)'],
    ['{"nodes":[1]}', 'cluster.json nodes[0]'],
    ['{"nodes":[{"conditions":[]}]}', 'cluster.json nodes[0].name'],
    ['{"nodes":[{"name":"a","conditions":"Ready"}]}', 'cluster.json nodes[0].conditions'],
    [
      '{"nodes":[{"name":"a","conditions":[{"type":"Ready"}]}]}',
      'cluster.json nodes[0].conditions[0].status',
    ],
    ['{"nodes":[{"name":"a","annotations":{"x":1}}]}', 'cluster.json nodes[0].annotations.x'],
    ['{"nodes":[{"name":"a","taints":[{"key":"k"}]}]}', 'cluster.json nodes[0].taints[0].effect'],
    ['{"crds":[null]}', 'cluster.json crds[0]'],
    ['{"crds":"x"}', 'cluster.json crds'],
    ['{"namespaces":[{"name":"a","finalizers":[2]}]}', 'cluster.json namespaces[0].finalizers[0]'],
    ['{"webhooks":[{"kind":"other","name":"w"}]}', 'cluster.json webhooks[0].kind'],
    ['{"ipPools":[{"name":"p","cidr":5}]}', 'cluster.json ipPools[0].cidr'],
  ])('%s → UsageError naming %s', (text, field) => {
    const err = usageErrorOf(text);
    expect(err.field).toBe(field);
    expect(err.message).toContain(field);
    expect(exitCodeOf(err)).toBe(ExitCode.Usage);
  });

  it('a node without annotations, conditions or taints gets empty ones, and the rules run on it', () => {
    const state = readClusterStateFile(dumpDir('{"nodes":[{"name":"kind-worker"}],"crds":["x.y.z"]}'))!;
    expect(state.nodes).toEqual([{ name: 'kind-worker', annotations: {}, conditions: [], taints: [] }]);
    expect(state.namespaces).toEqual([]);
    expect(() => auditReport({ cluster: state })).not.toThrow();
  });

  it('audit --node-dump with a malformed cluster.json exits 2 naming the field (was a TypeError, exit 1)', async () => {
    const dir = dumpDir('{"nodes":[{"name":"a","conditions":null,"taints":7}]}');
    const io = memoryIO();
    const code = await main(['audit', '--node-dump', dir], io);
    expect(code).toBe(2);
    expect(io.stderr).toContain('cluster.json nodes[0].taints');
  });
});
