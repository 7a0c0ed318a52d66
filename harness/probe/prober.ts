/**
 * The batched prober: a round groups the requested probes by source pod and runs ONE exec per source (all
 * sources concurrently, up to a limit); inside the pod every probe runs in parallel with its own timeout. A
 * 9-pod × 4-port matrix is therefore 9 execs per round instead of 288 (the per-probe design of the netpol
 * e2e, kubernetes test/e2e/network/netpol/probe.go, and cyclonus, pkg/connectivity/probe/job.go), and a round
 * costs about one probe timeout plus exec setup, whatever the number of denied cells.
 */

import type { ProbeKey, ProbeRecord } from '../model/connectivity.js';
import { type Clock, systemClock } from '../time/clock.js';
import { probeArgv } from './command.js';
import { type PodExecutor, type PodRef, ProbeInfrastructureError, podKey } from './executor.js';
import { formatGridText, gridsFromRecords } from './grid.js';
import {
  classify,
  type ProbeMode,
  parseScriptOutput,
  type ScriptProbe,
  SESSION_IDLE_SECONDS,
  scriptArgv,
  sessionArgv,
} from './script.js';
import { ProbeSession, type SessionLoopCount, sessionLoopsLeft } from './session.js';

/** One probe to run: who asks (the source pod), what it dials, and what counts as the right answer. */
export interface ProbeRequest extends ProbeKey {
  source: PodRef;
  /** IPv4 address or DNS name to dial */
  host: string;
  /** tcp/udp follow `protocol` when absent */
  mode?: ProbeMode;
  /** the name the intended target answers with (pod name; node name for hostNetwork) */
  expectName?: string;
  /** upload size (xfer) or ICMP payload size (ping) */
  arg?: number;
  /** this probe's in-pod timeout; the prober's default otherwise */
  timeoutMs?: number;
  check?: string;
}

export interface ProberOptions {
  /** default in-pod timeout of one probe (whole seconds in the pod; rounded up) */
  probeTimeoutMs: number;
  /** how many source pods exec at the same time (default: all) */
  concurrency?: number;
  /** exec deadline beyond the longest probe timeout: exec setup and output (default 15 s) */
  execSlackMs?: number;
  /**
   * one long-lived exec per source pod (session.ts) that takes every round's batch on stdin, instead of one
   * exec per source pod per round; needs an executor with openStream (else one-shot), and close() at the end
   */
  sessions?: boolean;
}

/** A round that could not be judged: one or more execs failed. Carries every failure and what did finish. */
export class ProbeRoundError extends Error {
  constructor(
    readonly failures: ProbeInfrastructureError[],
    readonly completed: ProbeRecord[],
  ) {
    super(
      `probe round failed for ${failures.length} source pod(s) (infrastructure, not a verdict):\n${failures
        .map((f) => `  - ${f.message.split('\n').join('\n    ')}`)
        .join('\n')}`,
    );
    this.name = 'ProbeRoundError';
  }
}

/** The control round found paths that do not connect before any policy: nothing after it can be judged. */
export class ControlRoundError extends Error {
  constructor(
    readonly records: ProbeRecord[],
    readonly failing: ProbeRecord[],
  ) {
    const peers = [...new Set(records.flatMap((r) => [r.from, r.to]))].sort();
    super(
      `control round: ${failing.length} of ${records.length} probes did not connect while everything must be reachable; ` +
        `a later "deny" could not be told from "nothing listening":\n${failing
          .slice(0, 20)
          .map((r) => `  ${r.from} → ${r.to}:${r.port}/${r.protocol}: ${r.verdict} (${r.detail ?? ''})`)
          .join('\n')}\n${gridsFromRecords(records, peers, () => true)
          .map((g) => formatGridText(g))
          .join('\n')}`,
    );
    this.name = 'ControlRoundError';
  }
}

export interface ConvergeOptions {
  /** consecutive rounds in which every probe must connect (default 2) */
  stableRounds?: number;
  /** how long agreement may take to begin (default 60 s); a streak under way may finish its rounds */
  timeoutMs?: number;
  /** pause between rounds (default 1 s) */
  intervalMs?: number;
  signal?: AbortSignal;
  /** time for the convergence window (tests pass a fake one) */
  clock?: Clock;
}

/** One round of a converging control: how many probes did not connect, or why the round could not run. */
export interface ControlRoundView {
  round: number;
  atMs: number;
  failing: number;
  infrastructure?: string;
}

export interface ConvergedControl {
  /** the records of the last (stable) round */
  records: ProbeRecord[];
  rounds: number;
  /** from the start until the first round of the stable streak */
  convergedMs: number;
  history: ControlRoundView[];
}

/**
 * The control never settled: within the window no streak of `stableRounds` rounds had every probe
 * connected. Carries the last round's failure (a ControlRoundError with its paths and grids, or the
 * ProbeRoundError of failed execs) and every round's summary.
 */
export class ControlConvergenceError extends Error {
  constructor(
    readonly last: ControlRoundError | ProbeRoundError,
    readonly history: ControlRoundView[],
    readonly stableRounds: number,
    readonly timeoutMs: number,
  ) {
    super(
      `control round did not converge: no ${stableRounds} consecutive rounds with every path connected within ${timeoutMs}ms ` +
        `(${history.length} rounds: ${history
          .map((h) => (h.infrastructure ? 'E' : h.failing === 0 ? '.' : String(h.failing)))
          .join(
            ' ',
          )}; . all connected, N paths failing, E probe infrastructure failed); last round:\n${last.message}`,
    );
    this.name = 'ControlConvergenceError';
  }
}

/** A session idle this long is replaced before its in-pod idle limit could end it under a batch. */
const SESSION_REUSE_MS = (SESSION_IDLE_SECONDS - 60) * 1000;

export class Prober {
  /** the open probe sessions, by source pod (opts.sessions) */
  private readonly sessions = new Map<string, ProbeSession>();
  /** sessions opened and batches they ran (for the benches' evidence) */
  readonly sessionStats = { opened: 0, batches: 0 };
  /** every pod a session was ever opened in, by podKey (where to look for loops left after close) */
  private readonly sessionPodRefs = new Map<string, PodRef>();

  constructor(
    private readonly executor: PodExecutor,
    private readonly opts: ProberOptions,
  ) {
    if (!Number.isFinite(opts.probeTimeoutMs) || opts.probeTimeoutMs < 1) {
      throw new Error(`probeTimeoutMs: ${opts.probeTimeoutMs} must be a positive number of milliseconds`);
    }
  }

  /** whether rounds go through long-lived sessions (asked for, and the executor can open them) */
  get usesSessions(): boolean {
    return this.opts.sessions === true && typeof this.executor.openStream === 'function';
  }

  /**
   * Closes every probe session (their loops exit at end of input; a stream still open after the grace is
   * cut). A later round opens new ones. Nothing to do without sessions.
   */
  async close(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(open.map((s) => s.close()));
  }

  /**
   * close(), then the session loops left in every pod a session ran in (sessionLoopsLeft): none may outlive
   * close(). Count while the pods still exist. Empty when no session was opened.
   */
  async closeAndCountLoops(): Promise<SessionLoopCount[]> {
    await this.close();
    return this.sessionPodRefs.size ? sessionLoopsLeft(this.executor, this.sessionPods) : [];
  }

  /** every pod this prober opened a session in (closed or not), for counting loops left after close() */
  get sessionPods(): PodRef[] {
    return [...this.sessionPodRefs.values()];
  }

  private session(pod: PodRef): ProbeSession {
    const k = podKey(pod);
    const have = this.sessions.get(k);
    if (have?.usable && performance.now() - have.lastUsed < SESSION_REUSE_MS) return have;
    if (have) void have.close();
    const open = this.executor.openStream;
    if (!open) throw new Error('probe sessions need an executor with openStream');
    const s = new ProbeSession(k, open.call(this.executor, pod, sessionArgv()));
    this.sessions.set(k, s);
    this.sessionPodRefs.set(k, pod);
    this.sessionStats.opened++;
    return s;
  }

  /** One batch through the pod's session; a failed batch closes the session (the next round opens another). */
  private async sessionBatch(
    pod: PodRef,
    probes: readonly ScriptProbe[],
    deadlineMs: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const s = this.session(pod);
    try {
      const out = await s.batch(probes, deadlineMs, signal);
      this.sessionStats.batches++;
      return out;
    } catch (e) {
      if (this.sessions.get(podKey(pod)) === s) this.sessions.delete(podKey(pod));
      void s.close(0);
      throw e;
    }
  }

  /** The pod-side argv for one source's batch (exposed for the per-probe baseline and reproduction). */
  argvFor(requests: readonly ProbeRequest[]): string[] {
    return scriptArgv(requests.map((r) => this.scriptProbe(r)));
  }

  /**
   * The command a person pastes to repeat this one probe by hand (probe/command.ts), the way the executor
   * reaches the source pod; undefined when the executor cannot say. Every record carries it.
   */
  commandFor(request: ProbeRequest): string | undefined {
    return this.executor.commandFor?.(request.source, probeArgv(this.scriptProbe(request)));
  }

  /**
   * Runs one round. Resolves with one record per request (in request order) or rejects with a
   * ProbeRoundError when any exec failed — after every source has finished, so nothing keeps running.
   */
  async round(requests: readonly ProbeRequest[], signal?: AbortSignal): Promise<ProbeRecord[]> {
    const bySource = new Map<string, { pod: PodRef; items: { req: ProbeRequest; index: number }[] }>();
    requests.forEach((req, index) => {
      const k = podKey(req.source);
      const entry = bySource.get(k) ?? { pod: req.source, items: [] };
      entry.items.push({ req, index });
      bySource.set(k, entry);
    });
    // bad input is the caller's error, named before any exec runs (not an infrastructure failure)
    for (const b of bySource.values()) this.argvFor(b.items.map((x) => x.req));
    const out: (ProbeRecord | undefined)[] = new Array(requests.length);
    const failures: ProbeInfrastructureError[] = [];
    const batches = [...bySource.values()];
    const limit = Math.max(1, this.opts.concurrency ?? batches.length);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const batch = batches[next++];
        if (!batch) return;
        try {
          const records = await this.runBatch(
            batch.pod,
            batch.items.map((x) => x.req),
            signal,
          );
          records.forEach((rec, j) => {
            const item = batch.items[j];
            if (item) out[item.index] = rec;
          });
        } catch (e) {
          failures.push(
            e instanceof ProbeInfrastructureError
              ? e
              : new ProbeInfrastructureError(podKey(batch.pod), e instanceof Error ? e.message : String(e)),
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, batches.length) }, worker));
    const completed = out.filter((r): r is ProbeRecord => r !== undefined);
    if (failures.length > 0) throw new ProbeRoundError(failures, completed);
    return completed;
  }

  /**
   * The control round: the same probes, all of which must connect to their intended target. Run it before
   * any policy so that a later timeout/refused means "denied", not "nothing listening".
   */
  async controlRound(requests: readonly ProbeRequest[], signal?: AbortSignal): Promise<ProbeRecord[]> {
    const records = await this.round(
      requests.map((r) => ({ ...r, check: r.check ?? 'control' })),
      signal,
    );
    const failing = records.filter((r) => r.verdict !== 'connected');
    if (failing.length > 0) throw new ControlRoundError(records, failing);
    return records;
  }

  /**
   * The control round as a convergence window, not one unforgiving round: rounds until every probe
   * connected in `stableRounds` consecutive rounds, or the window ends. Fresh pods can miss a round or two
   * while Calico programs their endpoints (the policy suite's control round takes the same window), and a
   * round whose exec failed counts as not connected, never as a verdict. Throws ControlConvergenceError.
   */
  async convergeControl(
    requests: readonly ProbeRequest[],
    opts: ConvergeOptions = {},
  ): Promise<ConvergedControl> {
    const stable = opts.stableRounds ?? 2;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const intervalMs = opts.intervalMs ?? 1000;
    const clock = opts.clock ?? systemClock;
    if (!Number.isInteger(stable) || stable < 1)
      throw new Error(`stableRounds: ${stable} must be a positive integer`);
    const start = clock.now();
    const history: ControlRoundView[] = [];
    let streak = 0;
    let streakStart = 0;
    for (;;) {
      opts.signal?.throwIfAborted();
      const round = history.length + 1;
      let records: ProbeRecord[] | undefined;
      let failure: ControlRoundError | ProbeRoundError;
      try {
        records = await this.controlRound(requests, opts.signal);
      } catch (e) {
        if (!(e instanceof ControlRoundError) && !(e instanceof ProbeRoundError)) throw e;
        failure = e;
      }
      const atMs = clock.now() - start;
      if (records) {
        history.push({ round, atMs, failing: 0 });
        if (streak === 0) streakStart = atMs;
        streak++;
        if (streak >= stable) return { records, rounds: round, convergedMs: streakStart, history };
      } else {
        const f = failure!;
        history.push(
          f instanceof ControlRoundError
            ? { round, atMs, failing: f.failing.length }
            : { round, atMs, failing: requests.length - f.completed.length, infrastructure: f.message },
        );
        streak = 0;
        if (atMs >= timeoutMs) throw new ControlConvergenceError(f, history, stable, timeoutMs);
      }
      await clock.sleep(intervalMs, opts.signal);
    }
  }

  /** All of one source pod's probes: one exec, or one batch of the pod's session (opts.sessions). */
  async runBatch(
    pod: PodRef,
    requests: readonly ProbeRequest[],
    signal?: AbortSignal,
  ): Promise<ProbeRecord[]> {
    const probes = requests.map((r) => this.scriptProbe(r));
    const longest = Math.max(...probes.map((p) => p.timeoutSeconds));
    const deadlineMs = (longest + 2) * 1000 + (this.opts.execSlackMs ?? 15_000);
    const at = new Date().toISOString();
    const started = performance.now();
    // the one-shot exec's exit: checked after its output, as a missing sentinel says more than the code
    let exit: { code: number; stderr: string } | undefined;
    let stdout: string;
    if (this.usesSessions) {
      stdout = await this.sessionBatch(pod, probes, deadlineMs, signal);
    } else {
      const res = await this.executor.exec(pod, scriptArgv(probes), {
        timeoutMs: deadlineMs,
        ...(signal ? { signal } : {}),
      });
      stdout = res.stdout;
      exit = { code: res.exitCode, stderr: res.stderr };
    }
    const elapsed = performance.now() - started;
    const parsed = parseScriptOutput(stdout, requests.length);
    if (!parsed.ok)
      throw new ProbeInfrastructureError(podKey(pod), parsed.reason, `${stdout}\n${exit?.stderr ?? ''}`);
    if (exit && exit.code !== 0)
      throw new ProbeInfrastructureError(podKey(pod), `exec exited ${exit.code}`, exit.stderr);
    const byIndex = new Map(parsed.results.map((r) => [r.i, r]));
    return requests.map((req, i) => {
      const raw = byIndex.get(i);
      if (!raw) throw new ProbeInfrastructureError(podKey(pod), `probe ${i} has no result`);
      const mode = this.modeOf(req);
      const c = classify(mode, raw, req.expectName, req.arg);
      const rec: ProbeRecord = {
        from: req.from,
        to: req.to,
        port: req.port,
        protocol: req.protocol,
        verdict: c.verdict,
        durationMs: raw.ms >= 0 ? raw.ms : Math.round(elapsed),
        detail: c.detail,
        at,
      };
      if (c.answeredBy !== undefined) rec.answeredBy = c.answeredBy;
      if (c.sourceIp !== undefined) rec.sourceIp = c.sourceIp;
      if (req.check !== undefined) rec.check = req.check;
      const command = this.commandFor(req);
      if (command !== undefined) rec.command = command;
      return rec;
    });
  }

  private modeOf(r: ProbeRequest): ProbeMode {
    if (r.mode) return r.mode;
    if (r.protocol === 'TCP') return 'tcp';
    if (r.protocol === 'UDP') return 'udp';
    throw new Error(`protocol: ${r.protocol} is not probed by this engine (TCP, UDP)`);
  }

  private timeoutSeconds(r: ProbeRequest): number {
    return Math.max(1, Math.ceil((r.timeoutMs ?? this.opts.probeTimeoutMs) / 1000));
  }

  private scriptProbe(r: ProbeRequest): ScriptProbe {
    return {
      mode: this.modeOf(r),
      host: r.host,
      port: r.port,
      arg: r.arg ?? 0,
      timeoutSeconds: this.timeoutSeconds(r),
    };
  }
}
