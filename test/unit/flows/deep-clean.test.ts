import { describe, expect, it } from 'vitest';
import type { FlowEvent } from '../../../harness/calico/flows/context.js';
import { deepClean } from '../../../harness/calico/flows/deep-clean.js';
import type { NodeShell } from '../../../harness/cluster/node-shell.js';
import type { RunResult } from '../../../harness/exec/process.js';

/** A node whose state is a set of devices and paths; commands change it the way the kernel/fs would. */
class ScriptedNode implements NodeShell {
  readonly commands: string[] = [];
  constructor(
    readonly node: string,
    readonly devices: Set<string>,
    readonly paths: Set<string>,
    private readonly systemctl: Partial<RunResult> = { exitCode: 0 },
  ) {}
  async exec(argv: readonly string[]): Promise<RunResult> {
    const line = argv.join(' ');
    this.commands.push(line);
    const res = (r: Partial<RunResult>): RunResult => ({
      command: argv[0]!,
      args: argv.slice(1),
      exitCode: 0,
      stdout: '',
      stderr: '',
      timedOut: false,
      durationMs: 1,
      ...r,
    });
    const dev = argv[argv.length - 1]!;
    if (line.startsWith('ip -o link show dev'))
      return res({ exitCode: this.devices.has(dev) ? 0 : 1, stderr: 'Device does not exist.' });
    if (line.startsWith('ip link del dev')) {
      this.devices.delete(dev);
      return res({});
    }
    if (line.startsWith('ip addr flush') || line.startsWith('ip link set')) return res({});
    if (argv[0] === 'test') return res({ exitCode: this.paths.has(dev) ? 0 : 1 });
    if (argv[0] === 'rm') {
      this.paths.delete(dev);
      return res({});
    }
    if (argv[0] === 'systemctl') return res(this.systemctl);
    return res({ exitCode: 127, stderr: `${argv[0]}: not found` });
  }
}

describe('deepClean (command level)', () => {
  it('flushes and downs tunl0, deletes both vxlan devices, removes Calico CNI files and /var/lib/cni, restarts kubelet', async () => {
    const n = new ScriptedNode(
      'cc-x-worker',
      new Set(['tunl0', 'vxlan.calico', 'vxlan-v6.calico']),
      new Set(['/etc/cni/net.d/10-calico.conflist', '/etc/cni/net.d/calico-kubeconfig', '/var/lib/cni']),
    );
    const events: FlowEvent[] = [];
    const [report] = await deepClean([n], { status: (e) => events.push(e) });
    expect(report!.complete).toBe(true);
    expect(report!.steps.map((s) => `${s.action}: ${s.outcome}`)).toEqual([
      'tunl0: flush addresses, set down: done',
      'delete vxlan.calico: done',
      'delete vxlan-v6.calico: done',
      'remove /etc/cni/net.d/10-calico.conflist: done',
      'remove /etc/cni/net.d/calico-kubeconfig: done',
      'remove /etc/cni/net.d/calico-tls: absent',
      'remove /var/lib/cni: done',
      'restart kubelet: done',
    ]);
    expect(n.commands).toContain('ip addr flush dev tunl0');
    expect(n.commands).toContain('ip link set dev tunl0 down');
    expect(n.commands).toContain('systemctl restart kubelet');
    // tunl0 is never deleted and no module is ever unloaded: kind nodes share the host kernel
    expect(n.commands.join('\n')).not.toMatch(/modprobe|rmmod|link del dev tunl0/);
    expect(n.devices).toEqual(new Set(['tunl0']));
    expect(events.map((e) => e.state)).toEqual(['start', 'done']);
  });

  it('a node without systemd reports the kubelet restart as unavailable and the clean as incomplete', async () => {
    const n = new ScriptedNode('test-node', new Set(), new Set(), {
      exitCode: 1,
      stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.",
    });
    const events: FlowEvent[] = [];
    const [report] = await deepClean([n], { status: (e) => events.push(e) });
    expect(report!.complete).toBe(false);
    expect(report!.steps.at(-1)).toMatchObject({ action: 'restart kubelet', outcome: 'unavailable' });
    expect(report!.steps.at(-1)!.detail).toMatch(/not been booted with systemd.*kubelet was not restarted/);
    expect(events.at(-1)).toMatchObject({
      state: 'failed',
      detail: expect.stringContaining('restart kubelet: unavailable'),
    });
  });

  it('a kubelet restart that fails for another reason is failed, not unavailable', async () => {
    const n = new ScriptedNode('n', new Set(), new Set(), {
      exitCode: 1,
      stderr: 'Job for kubelet.service failed',
    });
    const [report] = await deepClean([n]);
    expect(report!.steps.at(-1)).toMatchObject({
      outcome: 'failed',
      detail: 'exit 1: Job for kubelet.service failed',
    });
  });

  /** a node where every command answers `answer` except systemctl (done) */
  class BrokenNode implements NodeShell {
    constructor(
      readonly node: string,
      private readonly answer: (argv: readonly string[]) => Partial<RunResult>,
    ) {}
    async exec(argv: readonly string[]): Promise<RunResult> {
      return {
        command: argv[0]!,
        args: argv.slice(1),
        exitCode: 0,
        stdout: '',
        stderr: '',
        timedOut: false,
        durationMs: 1,
        ...(argv[0] === 'systemctl' ? {} : this.answer(argv)),
      };
    }
  }

  it('exit 127 (no ip, no test on the node) is failed with the detail, never absent, and the clean is incomplete', async () => {
    const n = new BrokenNode('n', (argv) => ({
      exitCode: 127,
      stderr: `OCI runtime exec failed: exec: "${argv[0]}": executable file not found in $PATH`,
    }));
    const [report] = await deepClean([n]);
    expect(report!.complete).toBe(false);
    const cleanSteps = report!.steps.filter((s) => s.action !== 'restart kubelet');
    expect(cleanSteps.length).toBe(7);
    for (const s of cleanSteps) {
      expect(s.outcome).toBe('failed');
      expect(s.detail).toMatch(/^exit 127: .*executable file not found/);
    }
  });

  it('a timed-out exec is failed with "timed out", never absent', async () => {
    const n = new BrokenNode('n', () => ({ exitCode: 1, timedOut: true, durationMs: 30_000 }));
    const [report] = await deepClean([n]);
    expect(report!.complete).toBe(false);
    expect(report!.steps.find((s) => s.action === 'delete vxlan.calico')).toMatchObject({
      outcome: 'failed',
      detail: 'timed out after 30000ms',
    });
    expect(report!.steps.find((s) => s.action === 'remove /var/lib/cni')).toMatchObject({
      outcome: 'failed',
      detail: 'timed out after 30000ms',
    });
    expect(report!.steps.filter((s) => s.outcome === 'absent')).toEqual([]);
  });

  it('a docker exec that could not reach the container (exit 1, daemon error) is failed, not absent', async () => {
    const n = new BrokenNode('n', () => ({
      exitCode: 1,
      stderr: 'Error response from daemon: container abc is not running',
    }));
    const [report] = await deepClean([n]);
    expect(report!.complete).toBe(false);
    expect(report!.steps.filter((s) => s.outcome === 'absent')).toEqual([]);
    expect(report!.steps.find((s) => s.action === 'remove /var/lib/cni')!.detail).toMatch(/not running/);
  });

  it('ip exit 1 without "does not exist" is failed; exit 1 with it is absent', async () => {
    const n = new BrokenNode('n', (argv) =>
      argv[0] === 'ip'
        ? argv.includes('tunl0')
          ? { exitCode: 1, stderr: 'Device "tunl0" does not exist.' }
          : { exitCode: 1, stderr: 'Cannot open netlink socket: Permission denied' }
        : { exitCode: 1 },
    );
    const [report] = await deepClean([n]);
    expect(report!.steps[0]).toMatchObject({ outcome: 'absent' });
    expect(report!.steps[1]).toMatchObject({
      action: 'delete vxlan.calico',
      outcome: 'failed',
      detail: 'exit 1: Cannot open netlink socket: Permission denied',
    });
    expect(report!.steps.find((s) => s.action === 'remove /var/lib/cni')).toMatchObject({
      outcome: 'absent',
    });
  });
});
