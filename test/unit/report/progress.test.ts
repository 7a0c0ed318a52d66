import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createProgress,
  LineProgress,
  renderProgressTable,
  stripAnsi,
  TtyProgress,
  verbosityFrom,
} from '../../../harness/progress/progress.js';
import { loadFixture } from './support.js';

const cellA = loadFixture().cells[0]!.cell;
const cellB = loadFixture().cells[1]!.cell;

function clock(start = Date.parse('2026-11-25T18:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LineProgress (CI)', () => {
  it('prints one line per phase start and end, with durations and reasons', () => {
    const lines: string[] = [];
    const c = clock();
    const p = new LineProgress((l) => lines.push(l), 'normal', c.now);
    p.cellStart(cellA);
    p.phaseStart(cellA.id, 'install', { waitingFor: 'Calico ready on every node', timeoutMs: 600_000 });
    c.advance(71_000);
    p.phaseEnd(cellA.id, 'install', 'passed', 71_000);
    p.phaseStart(cellA.id, 'connectivity');
    c.advance(9_400);
    p.phaseEnd(cellA.id, 'connectivity', 'failed', 9_400, '4 pairs differ\nx/a → y/b timeout');
    p.cellEnd(cellA.id, 'failed');
    p.log('debug', 'hidden at normal verbosity');
    p.log('warn', 'docker is slow');
    expect(lines).toEqual([
      '18:00:00 v3.30.7-manifest-ipip ▶ cell (manifest, IPIP, Calico v3.30.7)',
      '18:00:00 v3.30.7-manifest-ipip ▶ install (up to 10m for Calico ready on every node)',
      '18:01:11 v3.30.7-manifest-ipip ✓ install passed in 1m11s',
      '18:01:11 v3.30.7-manifest-ipip ▶ connectivity',
      '18:01:20 v3.30.7-manifest-ipip ✗ connectivity failed in 9.4s: 4 pairs differ ⏎ x/a → y/b timeout',
      '18:01:20 v3.30.7-manifest-ipip ✗ cell failed in 1m20s',
      '18:01:20 warn  docker is slow',
    ]);
  });

  it('says a reason shared by consecutive skipped or not-run phases once, then how many more had it', () => {
    const lines: string[] = [];
    const p = new LineProgress((l) => lines.push(l.slice(9)), 'normal', clock().now);
    const why = 'the host kernel has no ipip support';
    p.cellStart(cellA);
    for (const phase of ['preflight', 'create-cluster', 'baseline', 'install'] as const)
      p.phaseEnd(cellA.id, phase, 'skipped', 0, why);
    p.cellEnd(cellA.id, 'skipped');
    p.cellStart(cellB);
    p.phaseEnd(cellB.id, 'install', 'failed', 5_000, 'calico-node not ready');
    p.phaseEnd(cellB.id, 'verify', 'not-run', 0, 'install failed');
    p.phaseEnd(cellB.id, 'connectivity', 'not-run', 0, 'install failed');
    p.phaseStart(cellB.id, 'uninstall');
    p.phaseEnd(cellB.id, 'uninstall', 'passed', 3_000);
    p.phaseEnd(cellB.id, 'audit', 'not-run', 0, 'install failed');
    p.cellEnd(cellB.id, 'failed');
    expect(lines).toEqual([
      `${cellA.id} ▶ cell (manifest, IPIP, Calico v3.30.7)`,
      `${cellA.id} - preflight skipped in 0ms: ${why}`,
      `${cellA.id} - 3 more phases skipped for the same reason`,
      `${cellA.id} - cell skipped in 0ms`,
      `${cellB.id} ▶ cell (${cellB.install}, ${cellB.encapsulation}, Calico ${cellB.calicoVersion})`,
      `${cellB.id} ✗ install failed in 5s: calico-node not ready`,
      `${cellB.id} · verify not-run in 0ms: install failed`,
      `${cellB.id} · 1 more phase not-run for the same reason`,
      `${cellB.id} ▶ uninstall`,
      `${cellB.id} ✓ uninstall passed in 3s`,
      `${cellB.id} · audit not-run in 0ms: install failed`,
      `${cellB.id} ✗ cell failed in 0ms`,
    ]);
  });

  it('--quiet keeps only failures, cell results and warnings; --verbose adds debug', () => {
    const quiet: string[] = [];
    const q = new LineProgress((l) => quiet.push(l.slice(9)), 'quiet', clock().now);
    q.cellStart(cellA);
    q.phaseStart(cellA.id, 'install');
    q.phaseEnd(cellA.id, 'install', 'passed', 1000);
    q.phaseEnd(cellA.id, 'verify', 'error', 2000, 'kube API timed out');
    q.log('info', 'applied calico.yaml');
    q.log('error', 'boom');
    q.cellEnd(cellA.id, 'error');
    expect(quiet).toEqual([
      'v3.30.7-manifest-ipip ! verify error in 2s: kube API timed out',
      'error boom',
      'v3.30.7-manifest-ipip ! cell error in 0ms',
    ]);
    const verbose: string[] = [];
    new LineProgress((l) => verbose.push(l), 'verbose', clock().now).log('debug', 'kubectl apply …');
    expect(verbose).toHaveLength(1);
    expect(verbosityFrom({ quiet: true })).toBe('quiet');
    expect(verbosityFrom({ verbose: true })).toBe('verbose');
    expect(verbosityFrom({})).toBe('normal');
  });
});

describe('TTY live view', () => {
  it('renders a table of cells × phases: marks and durations, the running phase with its elapsed time', () => {
    const t0 = 1_000_000;
    const lines = renderProgressTable(
      [
        {
          id: 'v3.30.7-manifest-ipip',
          startedAt: t0,
          phases: [
            { phase: 'create-cluster', startedAt: t0, outcome: 'passed', durationMs: 48_000 },
            {
              phase: 'install',
              startedAt: t0 + 48_000,
              detail: { waitingFor: 'calico-node ready', timeoutMs: 600_000 },
            },
          ],
        },
        {
          id: 'v3.30.7-operator-vxlan',
          startedAt: t0,
          outcome: 'failed',
          endedAt: t0 + 30_000,
          phases: [
            { phase: 'install', startedAt: t0, outcome: 'failed', durationMs: 30_000 },
            { phase: 'teardown', startedAt: t0 + 30_000, outcome: 'passed', durationMs: 3_000 },
          ],
        },
      ],
      t0 + 60_000,
    ).map(stripAnsi);
    expect(lines).toEqual([
      'cell                     time  create  install tear',
      'v3.30.7-manifest-ipip      1m  ✓ 48s   … 12s           calico-node ready (≤ 10m)',
      'v3.30.7-operator-vxlan    30s          ✗ 30s   ✓ 3s    ✗ failed',
      '1/2 cells done, 1 failed ✗',
    ]);
  });

  it('cuts rows to the terminal width so a redraw never wraps', () => {
    const lines = renderProgressTable(
      [{ id: 'c'.repeat(30), startedAt: 0, phases: [{ phase: 'install', startedAt: 0 }] }],
      5000,
      20,
    );
    expect(stripAnsi(lines[1]!)).toHaveLength(20);
    expect(stripAnsi(lines[1]!).endsWith('…')).toBe(true);
  });

  it('redraws in place with ANSI, at most once per throttle interval, and prints logs above the table', () => {
    vi.useFakeTimers();
    const c = clock(0);
    const writes: string[] = [];
    const p = new TtyProgress((t) => writes.push(t), { now: c.now, throttleMs: 100, tickMs: 0 });
    p.cellStart(cellA); // first draw happens at once
    expect(writes).toHaveLength(1);
    p.phaseStart(cellA.id, 'create-cluster');
    p.phaseEnd(cellA.id, 'create-cluster', 'passed', 10);
    p.phaseStart(cellA.id, 'install');
    expect(writes).toHaveLength(1); // throttled: three events, no redraw yet
    c.advance(100);
    vi.advanceTimersByTime(100);
    expect(writes).toHaveLength(2);
    // the redraw moves the cursor up over the previous table (3 lines) and clears it
    expect(writes[1]!.startsWith('\x1b[3A\r\x1b[0J')).toBe(true);
    expect(stripAnsi(writes[1]!)).toMatch(/install\n.*✓ 10ms +… 100ms/);
    p.log('warn', 'slow image pull');
    const last = writes.at(-1)!;
    // one write: erase the table, the log line where it was, the table again below it
    expect(last.startsWith('\x1b[3A\r\x1b[0J')).toBe(true);
    expect(stripAnsi(last)).toMatch(/^\rwarn {2}slow image pull\ncell .*\nv3\.30\.7-manifest-ipip/);
    expect(stripAnsi(last)).toContain('0/1 cells done');
    c.advance(5000);
    p.phaseEnd(cellA.id, 'install', 'failed', 5000, 'calico-node CrashLoopBackOff');
    expect(stripAnsi(writes.at(-1)!)).toContain(
      'error v3.30.7-manifest-ipip install failed: calico-node CrashLoopBackOff',
    );
    p.cellEnd(cellA.id, 'failed');
    p.close();
    expect(stripAnsi(writes.at(-1)!)).toContain('1/1 cells done, 1 failed');
    const count = writes.length;
    p.log('info', 'after close');
    expect(writes).toHaveLength(count);
  });

  it('ticks elapsed times while a phase runs', () => {
    vi.useFakeTimers();
    const c = clock(0);
    const writes: string[] = [];
    const p = new TtyProgress((t) => writes.push(t), { now: c.now, throttleMs: 100, tickMs: 1000 });
    p.cellStart(cellA);
    p.phaseStart(cellA.id, 'install');
    for (let i = 0; i < 3; i++) {
      c.advance(1000);
      vi.advanceTimersByTime(1000);
    }
    expect(stripAnsi(writes.at(-1)!)).toContain('… 3s');
    p.close();
  });
});

describe('createProgress', () => {
  it('is live on a terminal, lines in CI, on a dumb terminal or when quiet', () => {
    const w = () => {};
    const live = createProgress({ isTTY: true, write: w, env: {} });
    expect(live).toBeInstanceOf(TtyProgress);
    live.close?.();
    expect(createProgress({ isTTY: false, write: w })).toBeInstanceOf(LineProgress);
    expect(createProgress({ isTTY: true, write: w, env: { CI: 'true' } })).toBeInstanceOf(LineProgress);
    expect(createProgress({ isTTY: true, write: w, env: { TERM: 'dumb' } })).toBeInstanceOf(LineProgress);
    expect(createProgress({ isTTY: true, write: w, env: {}, verbosity: 'quiet' })).toBeInstanceOf(
      LineProgress,
    );
  });
});
