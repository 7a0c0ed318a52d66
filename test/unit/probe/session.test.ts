/**
 * The probe session's framing, at the PodStream boundary: a double that reads the request lines the prober
 * writes and answers as the session loop does (probe lines, then `SENTINEL n ID`), in chunks cut anywhere.
 * The loop itself runs for real in test/docker/probe/session.docker.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type PodExecutor,
  type PodRef,
  type PodStream,
  ProbeInfrastructureError,
} from '../../../harness/probe/executor.js';
import { type ProbeRequest, ProbeRoundError, Prober } from '../../../harness/probe/prober.js';
import {
  PROBE_END,
  PROBE_SESSION_SCRIPT,
  sessionArgv,
  sessionRequestLine,
} from '../../../harness/probe/script.js';
import { loopCountLines, ProbeSession, sessionLoopsLeft } from '../../../harness/probe/session.js';
import { StreamDouble } from './stream-double.js';

type Reply = (id: number, words: string[]) => string | undefined;

/** A session stream double: `reply` turns one request line into the stdout text (undefined: say nothing). */
class FakeStream extends StreamDouble {
  readonly requests: string[] = [];

  constructor(
    private readonly reply: Reply,
    private readonly chunk = 7,
  ) {
    super();
  }

  write(text: string): boolean {
    if (this.done) return false;
    this.requests.push(text);
    const [id, ...words] = text.trim().split(' ');
    const out = this.reply(Number(id), words);
    if (out !== undefined) setTimeout(() => this.emit(out), 1);
    return true;
  }
  /** stdout in chunks of `chunk` characters: lines and the sentinel arrive torn */
  override emit(text: string, chunk = this.chunk): void {
    super.emit(text, chunk);
  }
}

/** What the loop prints for a batch: every probe connected to the name `n<host last octet>`. */
const answer: Reply = (id, words) => {
  const lines: string[] = [];
  for (let i = 0; i * 5 < words.length; i++) {
    const host = words[i * 5 + 1] ?? '';
    lines.push(`{"i":${i},"tool":"nc","rc":0,"ms":12}\x1fn${host.split('.').at(-1)}\x1f`);
  }
  return `${lines.reverse().join('\n')}\n${PROBE_END} ${lines.length} ${id}\n`;
};

const probe = (host: string) => ({ mode: 'tcp' as const, host, port: 80, arg: 0, timeoutSeconds: 2 });

describe('session request lines', () => {
  it('are the batch id and five validated words per probe, one line', () => {
    expect(sessionRequestLine(7, [probe('10.0.0.1'), { ...probe('b.svc'), mode: 'udp', port: 81 }])).toBe(
      '7 tcp 10.0.0.1 80 0 2 udp b.svc 81 0 2\n',
    );
    // nothing the loop's word splitting could read otherwise: no blanks, no newline, no glob
    expect(() => sessionRequestLine(1, [probe('a b')])).toThrow(/host/);
    expect(() => sessionRequestLine(1, [probe('a\nb')])).toThrow(/host/);
    expect(() => sessionRequestLine(1, [probe('a*')])).toThrow(/host/);
    expect(() => sessionRequestLine(-1, [probe('a')])).toThrow(/batch id/);
  });

  it('the session argv is the loop script with its idle limit; the loop turns globbing off and ends at end of input', () => {
    expect(sessionArgv(30)).toEqual(['sh', '-c', PROBE_SESSION_SCRIPT, 'ccprobe-session', '30']);
    expect(() => sessionArgv(0)).toThrow(/idleSeconds/);
    expect(PROBE_SESSION_SCRIPT).toContain('set -f');
    expect(PROBE_SESSION_SCRIPT).toContain('while read -r $rt req; do');
    expect(PROBE_SESSION_SCRIPT).toContain(`echo "${PROBE_END} $n $batch"`);
  });
});

describe('ProbeSession framing', () => {
  it('hands back each batch whole, however stdout is cut, and keeps batches apart by id', async () => {
    const stream = new FakeStream(answer, 5);
    const s = new ProbeSession('x/a', stream);
    const one = await s.batch([probe('10.0.0.1'), probe('10.0.0.2')], 5000);
    const two = await s.batch([probe('10.0.0.3')], 5000);
    expect(one.split('\n')).toEqual([
      '{"i":1,"tool":"nc","rc":0,"ms":12}\x1fn2\x1f',
      '{"i":0,"tool":"nc","rc":0,"ms":12}\x1fn1\x1f',
      `${PROBE_END} 2 1`,
    ]);
    expect(two.split('\n').at(-1)).toBe(`${PROBE_END} 1 2`);
    expect(stream.requests).toEqual([
      '1 tcp 10.0.0.1 80 0 2 tcp 10.0.0.2 80 0 2\n',
      '2 tcp 10.0.0.3 80 0 2\n',
    ]);
    expect(s.batches).toBe(2);
    expect(s.usable).toBe(true);
  });

  it('two batches at once on one session run one after the other, each whole (the second waits, none fails)', async () => {
    const stream = new FakeStream(answer, 3);
    const s = new ProbeSession('x/a', stream);
    const [one, two] = await Promise.all([
      s.batch([probe('10.0.0.1')], 5000),
      s.batch([probe('10.0.0.2'), probe('10.0.0.3')], 5000),
    ]);
    expect(one.split('\n').at(-1)).toBe(`${PROBE_END} 1 1`);
    expect(two.split('\n').at(-1)).toBe(`${PROBE_END} 2 2`);
    // the second request was written only after the first batch's sentinel
    expect(stream.requests).toEqual([
      '1 tcp 10.0.0.1 80 0 2\n',
      '2 tcp 10.0.0.2 80 0 2 tcp 10.0.0.3 80 0 2\n',
    ]);
    expect(s.usable).toBe(true);
  });

  it('a stream that ends under a batch fails that batch as infrastructure and leaves the session unusable', async () => {
    const stream = new FakeStream(() => undefined);
    const s = new ProbeSession('x/a', stream);
    const p = s.batch([probe('10.0.0.1')], 5000);
    stream.emit('{"i":0,"tool":"nc","rc":0,"ms":1}\x1fn1\x1f\n');
    stream.end({ exitCode: 137, reason: 'the process in x/a exited 137', stderr: 'Killed\n' });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeInfrastructureError);
    expect((err as ProbeInfrastructureError).reason).toBe(
      'the probe session ended: the process in x/a exited 137; stderr: Killed',
    );
    // what the batch had printed travels with the error
    expect((err as ProbeInfrastructureError).output).toContain('"i":0');
    expect(s.usable).toBe(false);
    await expect(s.batch([probe('10.0.0.1')], 5000)).rejects.toThrow(/not usable: the probe session ended/);
  });

  it('no sentinel before the deadline is an infrastructure failure naming the batch', async () => {
    const s = new ProbeSession('x/a', new FakeStream(() => '{"i":0,"tool":"nc","rc":0,"ms":1}\x1fn1\x1f\n'));
    await expect(s.batch([probe('10.0.0.1')], 50)).rejects.toThrow(
      /no end sentinel for batch 1 within 50ms \(1 lines so far\)/,
    );
    expect(s.usable).toBe(false);
  });

  it("another batch's sentinel, or output when no batch runs, breaks the session", async () => {
    const wrong = new ProbeSession('x/a', new FakeStream((id) => `${PROBE_END} 0 ${id + 1}\n`));
    await expect(wrong.batch([], 5000)).rejects.toThrow(/end sentinel of batch 2 while batch 1 was running/);
    const stream = new FakeStream(answer);
    const stray = new ProbeSession('x/a', stream);
    await stray.batch([probe('10.0.0.1')], 5000);
    stream.emit('late line\n');
    expect(stray.usable).toBe(false);
    expect(stray.brokenReason).toMatch(/output outside any batch: "late line"/);
  });

  it('an abort fails the batch at once; close() ends the stream once', async () => {
    const stream = new FakeStream(() => undefined);
    const s = new ProbeSession('x/a', stream);
    const ac = new AbortController();
    const p = s.batch([probe('10.0.0.1')], 60_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toThrow(/probe batch aborted/);
    const a = s.close(0);
    expect(s.close()).toBe(a);
    expect(await a).toMatchObject({ reason: 'closed by the test' });
    expect(stream.closeGrace).toBe(0);
  });
});

/** An executor that only opens sessions (its one-shot exec must not be used when sessions are on). */
class SessionExecutor implements PodExecutor {
  readonly opened: { pod: string; stream: FakeStream }[] = [];
  execs = 0;
  constructor(private readonly reply: Reply = answer) {}
  async exec(): Promise<never> {
    this.execs++;
    throw new Error('one-shot exec used while sessions are on');
  }
  openStream(pod: PodRef, argv: string[]): PodStream {
    expect(argv).toEqual(sessionArgv());
    expect(pod.container).toBe('c');
    const stream = new FakeStream(this.reply);
    this.opened.push({ pod: `${pod.namespace}/${pod.name}`, stream });
    return stream;
  }
}

const req = (from: string, to: string, host: string): ProbeRequest => ({
  source: { namespace: 'x', name: from, container: 'c' },
  from: `x/${from}`,
  to: `x/${to}`,
  host,
  port: 80,
  protocol: 'TCP',
  expectName: `n${host.split('.').at(-1)}`,
});

describe('Prober with sessions', () => {
  const round = [req('a', 'b', '10.0.0.2'), req('b', 'a', '10.0.0.1'), req('a', 'c', '10.0.0.3')];

  it('opens one session per source pod and reuses it for every round; close() ends them all', async () => {
    const ex = new SessionExecutor();
    const prober = new Prober(ex, { probeTimeoutMs: 1000, sessions: true });
    expect(prober.usesSessions).toBe(true);
    for (let r = 0; r < 3; r++) {
      const records = await prober.round(round);
      expect(records.map((x) => [x.from, x.to, x.verdict, x.durationMs])).toEqual([
        ['x/a', 'x/b', 'connected', 12],
        ['x/b', 'x/a', 'connected', 12],
        ['x/a', 'x/c', 'connected', 12],
      ]);
    }
    expect(ex.opened.map((o) => o.pod)).toEqual(['x/a', 'x/b']);
    expect(prober.sessionPods).toEqual([round[0]!.source, round[1]!.source]);
    expect(ex.opened.map((o) => o.stream.requests.length)).toEqual([3, 3]);
    expect(prober.sessionStats).toEqual({ opened: 2, batches: 6 });
    expect(ex.execs).toBe(0);
    await prober.close();
    expect(ex.opened.every((o) => o.stream.closed)).toBe(true);
  });

  it('a session broken in one round is a round error (never a verdict) and is reopened for the next round', async () => {
    const ex = new SessionExecutor();
    const prober = new Prober(ex, { probeTimeoutMs: 1000, sessions: true });
    await prober.round(round);
    ex.opened[0]!.stream.end({ reason: 'the exec stream of x/a closed without an exit status', stderr: '' });
    const err = await prober.round(round).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeRoundError);
    expect((err as ProbeRoundError).failures.map((f) => f.pod)).toEqual(['x/a']);
    expect((err as ProbeRoundError).completed.map((x) => x.from)).toEqual(['x/b']);
    const again = await prober.round(round);
    expect(again.every((x) => x.verdict === 'connected')).toBe(true);
    expect(ex.opened.map((o) => o.pod)).toEqual(['x/a', 'x/b', 'x/a']);
    await prober.close();
  });

  it('closeAndCountLoops closes every session, then counts in the pods sessions ran in; none opened, nothing counted', async () => {
    const ex = new SessionExecutor();
    const prober = new Prober(ex, { probeTimeoutMs: 1000, sessions: true });
    expect(await prober.closeAndCountLoops()).toEqual([]);
    expect(ex.execs).toBe(0);
    await prober.round(round);
    // this executor refuses one-shot execs: the count says it could not count, never 0
    const counts = await prober.closeAndCountLoops();
    expect(ex.opened.every((o) => o.stream.closed)).toBe(true);
    expect(counts.map((c) => c.pod)).toEqual(['x/a', 'x/b']);
    expect(loopCountLines(counts)).toEqual({
      left: [],
      uncounted: [
        'x/a: one-shot exec used while sessions are on',
        'x/b: one-shot exec used while sessions are on',
      ],
    });
    expect(
      loopCountLines([
        { pod: 'x/a', loops: 2 },
        { pod: 'x/b', loops: 0 },
      ]),
    ).toEqual({
      left: ['x/a: 2'],
      uncounted: [],
    });
  });

  it('without openStream, or without the option, a round is one exec per source pod as before', () => {
    const oneShot: PodExecutor = { exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }) };
    expect(new Prober(oneShot, { probeTimeoutMs: 1000, sessions: true }).usesSessions).toBe(false);
    expect(new Prober(new SessionExecutor(), { probeTimeoutMs: 1000 }).usesSessions).toBe(false);
  });
});

describe('sessionLoopsLeft (what a user of sessions counts after close)', () => {
  const pods: PodRef[] = [
    { namespace: 'x', name: 'a', container: 'c' },
    { namespace: 'x', name: 'b', container: 'c' },
  ];

  it('counts the loops per pod with one exec each, counting again while any is left, until none or the settle time', async () => {
    const replies: Record<string, string[]> = { 'x/a': ['1\n', '0\n'], 'x/b': ['0\n', '0\n'] };
    const argvs: string[][] = [];
    const ex: PodExecutor = {
      exec: async (pod, argv) => {
        argvs.push(argv);
        return { exitCode: 0, stdout: replies[`${pod.namespace}/${pod.name}`]!.shift() ?? '0\n', stderr: '' };
      },
    };
    expect(await sessionLoopsLeft(ex, pods, { pauseMs: 1 })).toEqual([
      { pod: 'x/a', loops: 0 },
      { pod: 'x/b', loops: 0 },
    ]);
    expect(argvs).toHaveLength(4);
    // the bracket keeps the counting shell itself out of the count
    expect(argvs[0]!.at(-1)).toContain("'ccprobe-sessio[n]'");
    const stuck: PodExecutor = { exec: async () => ({ exitCode: 0, stdout: '2\n', stderr: '' }) };
    expect(await sessionLoopsLeft(stuck, pods.slice(0, 1), { settleMs: 0 })).toEqual([
      { pod: 'x/a', loops: 2 },
    ]);
  });

  it('a pod it cannot count in is named with why, never counted as 0', async () => {
    const ex: PodExecutor = {
      exec: async (pod) => {
        if (pod.name === 'a') throw new ProbeInfrastructureError('x/a', 'exec failed: pod gone');
        return { exitCode: 1, stdout: '', stderr: 'no sh' };
      },
    };
    const counts = await sessionLoopsLeft(ex, pods, { settleMs: 0 });
    expect(counts.map((c) => c.loops)).toEqual([undefined, undefined]);
    expect(counts[0]!.error).toMatch(/pod gone/);
    expect(counts[1]!.error).toMatch(/exit 1/);
  });
});
