/**
 * An audit that could not look is never clean: a node whose every dump command failed (docker exec to a
 * stopped container, daemon gone) makes the report incomplete and unclean, says so in text and JSON, and
 * the CLI exits 1. A single missing command (ipset on kind) stays "not checked" and does not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectNodeDump } from '../../../harness/audit/collect.js';
import { auditReport } from '../../../harness/audit/rules.js';
import { auditCommand, formatAuditText } from '../../../harness/cli/commands/audit.js';
import { collectCommand } from '../../../harness/cli/commands/collect.js';
import { memoryIO } from '../../../harness/cli/io.js';
import type { NodeShell } from '../../../harness/cluster/node-shell.js';
import type { ProcessRunner, RunResult } from '../../../harness/exec/process.js';
import { type NodeDump, readDumpDir, writeNodeDump } from '../../../harness/node-state/dump.js';

const DUMPS = join(import.meta.dirname, '../../fixtures/dumps');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** a node whose container is gone: docker exec fails for every command */
const goneNode: NodeShell = {
  node: 'dev-worker',
  exec: async (argv): Promise<RunResult> => ({
    command: 'docker',
    args: ['exec', 'dev-worker', ...argv],
    exitCode: 1,
    stdout: '',
    stderr: 'Error response from daemon: container dev-worker is not running',
    timedOut: false,
    durationMs: 1,
  }),
};

async function goneDump(): Promise<NodeDump> {
  return collectNodeDump(goneNode, { ipsetFallback: null, baseline: 'x  /opt/cni/bin/loopback\n' });
}

describe('a node where nothing could be collected', () => {
  it('makes the report incomplete and unclean, naming the node and the reason', async () => {
    const r = auditReport({ dumps: [await goneDump()] });
    expect(r.findings).toEqual([]);
    expect(r.clean).toBe(false);
    expect(r.complete).toBe(false);
    expect(r.uncollected).toEqual([
      { node: 'dev-worker', reason: expect.stringMatching(/container dev-worker is not running/) },
    ]);
    const text = formatAuditText(r);
    expect(text).not.toMatch(/CLEAN/);
    expect(text).toMatch(
      /^NOT AUDITED: 1 node\(s\) where nothing could be collected; \d+ check\(s\) could not be made/,
    );
    expect(text).toContain(
      'node dev-worker: nothing could be collected (exited 1: Error response from daemon',
    );
  });

  it('beside an audited node: still unclean; the good node is audited', async () => {
    const good = readDumpDir(join(DUMPS, 'tunl0-fallback'))[0]!;
    const r = auditReport({ dumps: [good, await goneDump()] });
    expect(r.clean).toBe(false);
    expect(r.complete).toBe(false);
    expect(r.uncollected?.map((u) => u.node)).toEqual(['dev-worker']);
  });

  it('audit --node-dump of a collect output with such a node exits 1; JSON has complete:false and uncollected', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-uncollected-'));
    dirs.push(dir);
    writeNodeDump(dir, await goneDump());
    const io = memoryIO();
    expect(await auditCommand(['--node-dump', dir, '--output', 'json'], io)).toBe(1);
    const json = JSON.parse(io.stdout);
    expect(json.clean).toBe(false);
    expect(json.complete).toBe(false);
    expect(json.uncollected[0].node).toBe('dev-worker');
    const text = memoryIO();
    expect(await auditCommand(['--node-dump', dir], text)).toBe(1);
    expect(text.stdout).toContain('node dev-worker: nothing could be collected');
  });

  it('no dump and no cluster state: nothing audited is neither clean nor complete', () => {
    const r = auditReport({});
    expect(r.clean).toBe(false);
    expect(r.complete).toBe(false);
    expect(formatAuditText(r)).toMatch(/^NOT AUDITED: nothing could be checked/);
  });
});

describe('single missing commands stay "not checked"', () => {
  it('a node without ipset is complete and clean, and the text says how many checks were not made', () => {
    const good = readDumpDir(join(DUMPS, 'tunl0-fallback'))[0]!;
    const noIpset: NodeDump = {
      ...good,
      files: { ...good.files, 'ipset-list.txt': undefined },
      notes: { unavailable: { 'ipset-list.txt': 'command not available on the node' } },
    };
    delete noIpset.files['ipset-list.txt'];
    const r = auditReport({ dumps: [noIpset] });
    expect(r.clean).toBe(true);
    expect(r.complete).toBe(true);
    expect(r.uncollected).toEqual([]);
    expect(r.notChecked.some((n) => n.category === 'ipset')).toBe(true);
    expect(formatAuditText(r)).toMatch(/^CLEAN: no Calico leftovers, but \d+ check\(s\) could not be made/);
  });
});

describe('collect --cluster when a node answers nothing', () => {
  it('writes the node\'s notes, says "nothing could be collected" and exits 1; audit of that dump exits 1', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cc-collect-empty-'));
    dirs.push(out);
    const runner: ProcessRunner = {
      run: async (command, args) => {
        const r = (exitCode: number, stdout = '', stderr = ''): RunResult => ({
          command,
          args,
          exitCode,
          stdout,
          stderr,
          timedOut: false,
          durationMs: 1,
        });
        if (args[0] === 'ps') return r(0, 'dev-control-plane\n');
        if (args[0] === 'inspect') return r(0, '/dev-control-plane\tcontrol-plane\t172.18.0.2 \n');
        if (command === 'kind') return r(1, '', 'no cluster');
        return r(1, '', 'Error response from daemon: container dev-control-plane is not running');
      },
    };
    const io = memoryIO();
    expect(await collectCommand(['--cluster', 'dev', '--out', out], io, { runner })).toBe(1);
    expect(io.stderr).toContain('node dev-control-plane: nothing could be collected (');
    const audit = memoryIO();
    expect(await auditCommand(['--node-dump', out, '--output', 'json'], audit)).toBe(1);
    expect(JSON.parse(audit.stdout).uncollected.map((u: { node: string }) => u.node)).toEqual([
      'dev-control-plane',
    ]);
  });
});
