/**
 * A probe session: ONE long-lived exec per source pod (PodExecutor.openStream) running the session loop of
 * script.ts, which takes every round's batch of that pod as one line on stdin and answers with one line per
 * probe and an end sentinel carrying the batch's id. A round through a session costs no exec set-up (no
 * API-server upgrade, no kubelet/CRI exec, no runc exec, no `sh` start): on the 2-core lab about half of
 * a round's CPU was that set-up when every round opened one exec per source pod (README, Benchmarks).
 *
 * A session serves one batch at a time. Anything short of "the probes' lines, then the sentinel with this
 * batch's id" within the deadline — the stream closed, a stray line, the wrong id, no sentinel in time — is
 * a ProbeInfrastructureError of that batch, never a verdict, and leaves the session broken: the prober
 * drops it and opens a new one for the next round.
 */
import { tailOf } from '../exec/process.js';
import { sleep } from '../time/clock.js';
import {
  type PodExecutor,
  type PodRef,
  type PodStream,
  type PodStreamEnd,
  ProbeInfrastructureError,
  podKey,
} from './executor.js';
import { PROBE_END, type ScriptProbe, sessionRequestLine } from './script.js';

interface Waiting {
  id: number;
  lines: string[];
  resolve: (text: string) => void;
  reject: (e: ProbeInfrastructureError) => void;
}

/** How long a closing session may take to finish its batch and exit before its stream is cut. */
export const SESSION_CLOSE_GRACE_MS = 5000;

export class ProbeSession {
  private partial = '';
  private waiting: Waiting | undefined;
  private nextId = 1;
  private broken: string | undefined;
  private closing: Promise<PodStreamEnd> | undefined;
  /** when the last batch ended (performance.now()), for the idle limit */
  lastUsed = performance.now();
  /** batches this session answered */
  batches = 0;

  constructor(
    readonly pod: string,
    private readonly stream: PodStream,
  ) {
    stream.onStdout((c) => this.onStdout(c));
    void stream.ended.then((end) => {
      const why = `the probe session ended: ${end.reason}${end.stderr.trim() ? `; stderr: ${tailOf(end.stderr, 3).trim()}` : ''}`;
      this.fail(why);
    });
  }

  /** whether the session can take a batch (not broken, not closing, its stream not ended) */
  get usable(): boolean {
    return this.broken === undefined && this.closing === undefined;
  }

  /** why it cannot, when it cannot */
  get brokenReason(): string | undefined {
    return this.broken ?? (this.closing ? 'closed' : undefined);
  }

  /**
   * Runs one batch: resolves with its output (the probes' lines and the sentinel line, as the one-shot
   * script prints them) or rejects with a ProbeInfrastructureError, after which the session is broken.
   */
  batch(probes: readonly ScriptProbe[], deadlineMs: number, signal?: AbortSignal): Promise<string> {
    // one batch at a time on the stream: a second one for the same pod waits for the first (two rounds of
    // one Prober at once stay as safe as they were with one exec per round); its deadline starts when it does
    const start = () => this.runBatch(probes, deadlineMs, signal);
    const run = this.pending === 0 ? start() : this.queue.then(start);
    this.pending++;
    const done = () => {
      this.pending--;
    };
    this.queue = run.then(done, done);
    return run;
  }

  /** the tail of the batches written or waiting, and how many there are */
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;

  private runBatch(
    probes: readonly ScriptProbe[],
    deadlineMs: number,
    signal?: AbortSignal,
  ): Promise<string> {
    if (!this.usable)
      return Promise.reject(
        new ProbeInfrastructureError(this.pod, `probe session not usable: ${this.brokenReason}`),
      );
    if (signal?.aborted)
      return Promise.reject(new ProbeInfrastructureError(this.pod, 'probe batch aborted before it started'));
    const id = this.nextId++;
    const line = sessionRequestLine(id, probes);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.fail(
            `no end sentinel for batch ${id} within ${deadlineMs}ms (${this.waiting?.lines.length ?? 0} lines so far)`,
          ),
        deadlineMs,
      );
      const onAbort = () => this.fail('probe batch aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiting = undefined;
        this.lastUsed = performance.now();
      };
      this.waiting = {
        id,
        lines: [],
        resolve: (text) => {
          settle();
          this.batches++;
          resolve(text);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      };
      if (!this.stream.write(line)) this.fail('the probe session stream is closed (stdin not writable)');
    });
  }

  /** Ends the session: stdin closed, the loop exits after its batch; cut after the grace. Idempotent. */
  close(graceMs = SESSION_CLOSE_GRACE_MS): Promise<PodStreamEnd> {
    if (!this.closing) {
      this.fail('the probe session was closed');
      this.closing = this.stream.close(graceMs);
    }
    return this.closing;
  }

  /** The session is broken: the waiting batch (if any) fails with `why`. */
  private fail(why: string): void {
    this.broken ??= why;
    const w = this.waiting;
    if (w) w.reject(new ProbeInfrastructureError(this.pod, why, w.lines.join('\n')));
  }

  private onStdout(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.onLine(l);
  }

  private onLine(line: string): void {
    const w = this.waiting;
    if (!w) {
      // output with no batch asked for: the stream and the prober no longer agree on where batches end
      if (line.trim()) this.fail(`output outside any batch: ${JSON.stringify(line.slice(0, 200))}`);
      return;
    }
    if (!line.startsWith(PROBE_END)) {
      w.lines.push(line);
      return;
    }
    const [, , id] = line.trim().split(/\s+/);
    if (Number(id) !== w.id) {
      this.fail(`end sentinel of batch ${id ?? '(none)'} while batch ${w.id} was running: ${line}`);
      return;
    }
    w.resolve([...w.lines, line].join('\n'));
  }
}

/** What a count of session loops found in one pod: how many, or why it could not be counted. */
export interface SessionLoopCount {
  pod: string;
  loops?: number;
  error?: string;
}

/** A count in words: the pods with loops left (`pod: n`) and the pods that could not be counted (`pod: why`). */
export function loopCountLines(counts: readonly SessionLoopCount[]): { left: string[]; uncounted: string[] } {
  return {
    left: counts.filter((c) => (c.loops ?? 0) > 0).map((c) => `${c.pod}: ${c.loops}`),
    uncounted: counts.filter((c) => c.error).map((c) => `${c.pod}: ${c.error}`),
  };
}

/**
 * Session loops still running in these pods (their command line names `ccprobe-session`, sessionArgv),
 * counted with one exec per pod; counted again while any is left, for up to `settleMs` (a loop cut under a
 * batch ends when its probes' timeouts have run). What a user of sessions runs after close(): a loop left
 * running in a pod is a session that close() did not end.
 */
export async function sessionLoopsLeft(
  executor: PodExecutor,
  pods: readonly PodRef[],
  opts: { settleMs?: number; timeoutMs?: number; pauseMs?: number } = {},
): Promise<SessionLoopCount[]> {
  const until = performance.now() + (opts.settleMs ?? 10_000);
  const count = async (pod: PodRef): Promise<SessionLoopCount> => {
    try {
      // the bracket keeps grep from counting its own `sh -c` (whose command line holds the pattern)
      const r = await executor.exec(
        pod,
        ['sh', '-c', "grep -la 'ccprobe-sessio[n]' /proc/[0-9]*/cmdline 2>/dev/null | wc -l"],
        { timeoutMs: opts.timeoutMs ?? 20_000 },
      );
      const n = Number(r.stdout.trim());
      return r.stdout.trim() !== '' && Number.isInteger(n)
        ? { pod: podKey(pod), loops: n }
        : { pod: podKey(pod), error: `exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout.trim())}` };
    } catch (e) {
      return { pod: podKey(pod), error: e instanceof Error ? e.message : String(e) };
    }
  };
  for (;;) {
    const counts = await Promise.all(pods.map(count));
    if (!counts.some((c) => (c.loops ?? 0) > 0) || performance.now() >= until) return counts;
    await sleep(opts.pauseMs ?? 1000);
  }
}
