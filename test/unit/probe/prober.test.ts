import { describe, expect, it } from 'vitest';
import { ProbeInfrastructureError } from '../../../harness/probe/executor.js';
import {
  ControlConvergenceError,
  ControlRoundError,
  type ProbeRequest,
  ProbeRoundError,
  Prober,
} from '../../../harness/probe/prober.js';
import { SimulatedExecutor } from './simulated.js';

const pod = (name: string) => ({ namespace: 'x', name });
const req = (
  from: string,
  to: string,
  host: string,
  port: number,
  protocol: 'TCP' | 'UDP',
): ProbeRequest => ({
  source: pod(from),
  from: `x/${from}`,
  to: `x/${to}`,
  host,
  port,
  protocol,
  expectName: to,
});
const NAMES: Record<string, string> = { '10.0.0.1': 'a', '10.0.0.2': 'b', '10.0.0.3': 'c' };

describe('Prober', () => {
  it('runs one exec per source pod and returns records in request order', async () => {
    const ex = new SimulatedExecutor((p) => ({ tool: 'nc', rc: 0, out: NAMES[p.host] ?? '', err: '' }));
    const prober = new Prober(ex, { probeTimeoutMs: 1500 });
    const reqs = [
      req('a', 'b', '10.0.0.2', 80, 'TCP'),
      req('b', 'a', '10.0.0.1', 80, 'TCP'),
      req('a', 'c', '10.0.0.3', 81, 'UDP'),
      req('a', 'b', '10.0.0.2', 81, 'UDP'),
    ];
    const records = await prober.round(reqs);
    expect(ex.calls.map((c) => [c.pod, c.probes.length])).toEqual([
      ['x/a', 3],
      ['x/b', 1],
    ]);
    // the in-pod timeout is whole seconds, rounded up; the exec deadline leaves room for it
    expect(ex.calls[0]?.probes.map((p) => [p.mode, p.timeoutSeconds])).toEqual([
      ['tcp', 2],
      ['udp', 2],
      ['udp', 2],
    ]);
    expect(ex.calls[0]?.timeoutMs).toBeGreaterThan(4000);
    expect(
      records.map((r) => `${r.from}>${r.to}:${r.protocol}/${r.port}=${r.verdict}@${r.answeredBy}`),
    ).toEqual([
      'x/a>x/b:TCP/80=connected@b',
      'x/b>x/a:TCP/80=connected@a',
      'x/a>x/c:UDP/81=connected@c',
      'x/a>x/b:UDP/81=connected@b',
    ]);
    expect(records.every((r) => r.durationMs === 3 && typeof r.at === 'string')).toBe(true);
  });

  it('puts on every record the command that repeats that one probe, the way the executor reaches the pod', async () => {
    const ex = new SimulatedExecutor((p) => ({ tool: 'nc', rc: 0, out: NAMES[p.host] ?? '', err: '' }));
    const reqs = [
      { ...req('a', 'b', '10.0.0.2', 80, 'TCP'), source: { ...pod('a'), container: 'cont-80' } },
      req('a', 'c', '10.0.0.3', 81, 'UDP'),
    ];
    const records = await new Prober(ex, { probeTimeoutMs: 1500 }).round(reqs);
    expect(records.map((r) => r.command)).toEqual([
      'kubectl exec -n x a -c cont-80 -- nc -v -z -w 2 10.0.0.2 80',
      "kubectl exec -n x a -- sh -c 'echo hostname | nc -u -W 1 -w 2 10.0.0.3 81'",
    ]);
    // an executor that cannot say how a person would reach the pod: no command, the verdicts stand
    const bare = new Prober({ exec: (p, argv, o) => ex.exec(p, argv, o) }, { probeTimeoutMs: 1500 });
    const plain = await bare.round(reqs);
    expect(plain.map((r) => [r.verdict, r.command])).toEqual([
      ['connected', undefined],
      ['connected', undefined],
    ]);
  });

  it('limits how many sources exec at once', async () => {
    let running = 0;
    let peak = 0;
    const inner = new SimulatedExecutor(() => ({ tool: 'nc', rc: 0, out: 'b', err: '' }));
    const prober = new Prober(
      {
        exec: async (p, argv, o) => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          return inner.exec(p, argv, o);
        },
      },
      { probeTimeoutMs: 1000, concurrency: 2 },
    );
    await prober.round(['a', 'c', 'd', 'e', 'f'].map((s) => req(s, 'b', '10.0.0.2', 80, 'TCP')));
    expect(peak).toBe(2);
  });

  it('turns a missing sentinel, a non-zero exec and a failed exec into infrastructure failures, never verdicts', async () => {
    const ex = new SimulatedExecutor(() => ({
      tool: 'nc',
      rc: 1,
      err: 'nc: connect failed: Connection refused',
      out: '',
    }));
    ex.faults.set('x/a', 'no-sentinel');
    ex.faults.set('x/b', 'reject');
    ex.faults.set('x/c', 'exit-1');
    const prober = new Prober(ex, { probeTimeoutMs: 1000 });
    const err = await prober
      .round([
        req('a', 'b', '10.0.0.2', 80, 'TCP'),
        req('b', 'a', '10.0.0.1', 80, 'TCP'),
        req('c', 'a', '10.0.0.1', 80, 'TCP'),
        req('d', 'a', '10.0.0.1', 80, 'TCP'),
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeRoundError);
    const e = err as ProbeRoundError;
    expect(e.failures.map((f) => [f.pod, f.reason])).toEqual([
      ['x/a', 'no end sentinel (1/1 probe lines)'],
      ['x/b', 'websocket closed before the status frame'],
      ['x/c', 'exec exited 1'],
    ]);
    expect(e.failures.every((f) => f instanceof ProbeInfrastructureError)).toBe(true);
    // the source whose exec worked still has its (refused) verdict
    expect(e.completed.map((r) => [r.from, r.verdict])).toEqual([['x/d', 'refused']]);
    expect(e.message).toMatch(/infrastructure, not a verdict/);
  });

  it('control round: everything must connect, otherwise the error lists the cells and prints the grids', async () => {
    const ex = new SimulatedExecutor((p) =>
      p.host === '10.0.0.3'
        ? { tool: 'nc', rc: 1, out: '', err: 'connect to 10.0.0.3 port 80 (tcp) failed: Connection refused' }
        : { tool: 'nc', rc: 0, out: NAMES[p.host] ?? '', err: '' },
    );
    const prober = new Prober(ex, { probeTimeoutMs: 1000 });
    const ok = await prober.controlRound([req('a', 'b', '10.0.0.2', 80, 'TCP')]);
    expect(ok[0]).toMatchObject({ verdict: 'connected', check: 'control' });
    const err = await prober
      .controlRound([req('a', 'b', '10.0.0.2', 80, 'TCP'), req('a', 'c', '10.0.0.3', 80, 'TCP')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlRoundError);
    const msg = (err as Error).message;
    expect(msg).toContain('x/a → x/c:80/TCP: refused');
    // the one grid format: rows are sources, columns destinations; the failure list has the command
    expect(msg).toMatch(/observed:\n.*\n0 x\/a \. R/);
    expect(msg).toContain('  x/a → x/c: expected allowed, observed refused');
    expect(msg).toContain('    kubectl exec -n x a -- nc -v -z -w 1 10.0.0.3 80');
    expect((err as ControlRoundError).failing).toHaveLength(1);
  });

  it('names the bad field of a probe before running anything', async () => {
    const ex = new SimulatedExecutor(() => ({ tool: 'nc', rc: 0, out: 'b', err: '' }));
    const prober = new Prober(ex, { probeTimeoutMs: 1000 });
    const err = await prober.round([req('a', 'b', '--help', 80, 'TCP')]).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ProbeRoundError);
    expect((err as Error).message).toMatch(/probes\[0\]\.host: "--help"/);
    expect(ex.calls).toHaveLength(0);
    expect(() => new Prober(ex, { probeTimeoutMs: 0 })).toThrow(/probeTimeoutMs/);
  });
});

describe('Prober.convergeControl (the control round as a convergence window)', () => {
  /** a clock that advances by each sleep and by `roundMs` per exec round */
  const fakeClock = () => {
    let t = 0;
    return {
      clock: {
        now: () => t,
        sleep: async (ms: number) => {
          t += ms;
        },
      },
      tick: (ms: number) => {
        t += ms;
      },
    };
  };
  const reqs = [req('a', 'b', '10.0.0.2', 80, 'TCP'), req('b', 'a', '10.0.0.1', 81, 'UDP')];

  it('passes once every path connected in N consecutive rounds, though fresh pods failed the first rounds', async () => {
    const { clock, tick } = fakeClock();
    let round = 0;
    // b's endpoint is not programmed for the first two rounds (Calico briefly blocks a fresh pod)
    const ex = new SimulatedExecutor((p) => {
      if (p.host === '10.0.0.2' && round <= 2)
        return { tool: 'nc', rc: 1, out: '', err: 'nc: connect to 10.0.0.2 port 80 (tcp) timed out' };
      return { tool: 'nc', rc: 0, out: NAMES[p.host] ?? '', err: '' };
    });
    const prober = new Prober(
      {
        exec: async (pod, argv, opts) => {
          if (pod.name === 'a') {
            round++;
            tick(2000);
          }
          return ex.exec(pod, argv, opts);
        },
      },
      { probeTimeoutMs: 2000 },
    );
    // one unforgiving round fails on exactly this
    await expect(prober.controlRound(reqs)).rejects.toBeInstanceOf(ControlRoundError);
    round = 0;
    const r = await prober.convergeControl(reqs, {
      stableRounds: 2,
      timeoutMs: 60_000,
      intervalMs: 1000,
      clock,
    });
    expect(r.rounds).toBe(4);
    expect(r.history.map((h) => h.failing)).toEqual([1, 1, 0, 0]);
    expect(r.convergedMs).toBe(3 * 2000 + 2 * 1000);
    expect(r.records.every((x) => x.verdict === 'connected')).toBe(true);
  });

  it('needs the rounds in a row: a path that flaps restarts the streak', async () => {
    const { clock } = fakeClock();
    const pattern = [true, false, true, false, true, true];
    let round = -1;
    const ex = new SimulatedExecutor((p) =>
      p.host === '10.0.0.1' && !pattern[round]
        ? { tool: 'nc', rc: 124, out: '', err: '' }
        : { tool: 'nc', rc: 0, out: NAMES[p.host] ?? '', err: '' },
    );
    const prober = new Prober(
      {
        exec: async (pod, argv, opts) => {
          if (pod.name === 'a') round++;
          return ex.exec(pod, argv, opts);
        },
      },
      { probeTimeoutMs: 1000 },
    );
    const r = await prober.convergeControl(reqs, { stableRounds: 2, clock });
    expect(r.history.map((h) => h.failing)).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('counts a failed exec as a round that did not connect, never as a verdict, and retries', async () => {
    const { clock } = fakeClock();
    const ex = new SimulatedExecutor((p) => ({ tool: 'nc', rc: 0, out: NAMES[p.host] ?? '', err: '' }));
    ex.faults.set('x/b', 'reject');
    let calls = 0;
    const prober = new Prober(
      {
        exec: async (pod, argv, opts) => {
          if (pod.name === 'b' && ++calls === 2) ex.faults.delete('x/b');
          return ex.exec(pod, argv, opts);
        },
      },
      { probeTimeoutMs: 1000 },
    );
    const r = await prober.convergeControl(reqs, { stableRounds: 2, clock });
    expect(r.history.map((h) => [h.failing, Boolean(h.infrastructure)])).toEqual([
      [1, true],
      [0, false],
      [0, false],
    ]);
  });

  it("fails after the window with the last round's paths and every round summarised", async () => {
    const { clock, tick } = fakeClock();
    const ex = new SimulatedExecutor((p) =>
      p.host === '10.0.0.2'
        ? {
            tool: 'nc',
            rc: 1,
            out: '',
            err: 'nc: connect to 10.0.0.2 port 80 (tcp) failed: Connection refused',
          }
        : { tool: 'nc', rc: 0, out: NAMES[p.host] ?? '', err: '' },
    );
    const prober = new Prober(
      {
        exec: async (pod, argv, opts) => {
          tick(500);
          return ex.exec(pod, argv, opts);
        },
      },
      { probeTimeoutMs: 1000 },
    );
    const err = await prober
      .convergeControl(reqs, { stableRounds: 2, timeoutMs: 10_000, intervalMs: 1000, clock })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlConvergenceError);
    const e = err as ControlConvergenceError;
    expect(e.history.length).toBe(6);
    expect(e.history.at(-1)!.atMs).toBeGreaterThanOrEqual(10_000);
    expect(e.last).toBeInstanceOf(ControlRoundError);
    expect(e.message).toMatch(
      /no 2 consecutive rounds with every path connected within 10000ms \(6 rounds: 1 1 1 1 1 1/,
    );
    expect(e.message).toMatch(/x\/a → x\/b:80\/TCP: refused/);
  });
});
