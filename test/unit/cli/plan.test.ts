import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { memoryIO } from '../../../harness/cli/io.js';
import { main } from '../../../harness/cli/main.js';

describe('calico-conformance plan', () => {
  it('prints the 10 default cells as JSON with the contract fields', async () => {
    const io = memoryIO();
    expect(await main(['plan', '--output', 'json'], io)).toBe(0);
    const { cells } = JSON.parse(io.stdout) as { cells: Record<string, unknown>[] };
    expect(cells).toHaveLength(10);
    for (const key of [
      'id',
      'calicoVersion',
      'install',
      'encapsulation',
      'podCIDR',
      'serviceCIDR',
      'blockSize',
      'natOutgoing',
      'workers',
      'topology',
    ]) {
      expect(cells[0]).toHaveProperty(key);
    }
  });

  it('prints a readable table as text', async () => {
    const io = memoryIO();
    expect(await main(['plan', '--install', 'operator', '--encapsulation', 'VXLAN,None'], io)).toBe(0);
    expect(io.stdout).toMatch(/^2 cells:/);
    expect(io.stdout).toContain('v3.32.1-operator-none');
  });

  it('exits 2 naming the field for invalid input, before anything is created', async () => {
    const io = memoryIO();
    expect(await main(['plan', '--encapsulation', 'GRE'], io)).toBe(2);
    expect(io.stderr).toContain('--encapsulation: "GRE" is not allowed');
  });

  it('exits 2 for an unknown flag, an unknown output format and an unknown command', async () => {
    const a = memoryIO();
    expect(await main(['plan', '--pod-cird', '10.0.0.0/16'], a)).toBe(2);
    expect(a.stderr).toContain("Unknown option '--pod-cird'");
    const b = memoryIO();
    expect(await main(['plan', '--output', 'yaml'], b)).toBe(2);
    expect(b.stderr).toContain('allowed: text, json');
    const c = memoryIO();
    expect(await main(['deploy'], c)).toBe(2);
    expect(c.stderr).toContain('unknown command "deploy"');
  });

  it('prints usage to stderr with exit 2 when no command is given, to stdout with exit 0 for --help', async () => {
    const none = memoryIO();
    expect(await main([], none)).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('usage: calico-conformance <command>');
    const help = memoryIO();
    expect(await main(['--help'], help)).toBe(0);
    expect(help.stdout).toContain('usage: calico-conformance <command>');
  });

  it('reads a config file and reports a missing one as exit 2', async () => {
    const ok = memoryIO();
    expect(await main(['plan', '--config', 'examples/matrix.yaml', '--output', 'json'], ok)).toBe(0);
    expect(JSON.parse(ok.stdout).cells).toHaveLength(8);
    const missing = memoryIO();
    expect(await main(['plan', '--config', 'nope.yaml'], missing)).toBe(2);
    expect(missing.stderr).toContain('--config: cannot read nope.yaml');
  });

  it('works through the package bin, as `npx calico-conformance` runs it', () => {
    const out = execFileSync(process.execPath, ['bin/calico-conformance.js', 'plan', '--output', 'json'], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out).cells).toHaveLength(10);
    const bad = spawnSync(process.execPath, ['bin/calico-conformance.js', 'plan', '--workers', '0'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--workers: "0"');
  });
});
