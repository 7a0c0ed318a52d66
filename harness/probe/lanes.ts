/**
 * Probe lanes: rounds that overlap on purpose, each through probe sessions of its own. A Prober with
 * sessions has one session per source pod, and a session serves one batch at a time, so a round started
 * while another runs waits behind it. A caller that overlaps rounds and stamps each with the time it
 * started (the upgrade's continuous traffic: a round every 250 ms, up to four in flight, each longer than
 * the interval because a denied probe waits out its timeout) would then record probes that ran seconds
 * after their stamp, and fewer of them. Lanes give every round in flight its own Prober, hence its own
 * session per source pod: a round takes an idle lane, or opens a new one when every lane is busy, so there
 * are as many lanes as rounds ever ran at once. close() ends every lane's sessions; a round asked for
 * after it fails as infrastructure (never a verdict) and opens nothing.
 */

import type { ProbeRecord } from '../model/connectivity.js';
import { type PodExecutor, type PodRef, ProbeInfrastructureError, podKey } from './executor.js';
import { type ProbeRequest, ProbeRoundError, Prober, type ProberOptions } from './prober.js';

export class ProbeLanes {
  private readonly all: Prober[] = [];
  private readonly idle: Prober[] = [];
  private closed = false;

  constructor(
    private readonly executor: PodExecutor,
    private readonly opts: Omit<ProberOptions, 'sessions'>,
  ) {}

  /** whether the rounds go through sessions (the executor can open them) */
  get usesSessions(): boolean {
    return typeof this.executor.openStream === 'function';
  }

  /** lanes opened so far: the most rounds that ran at once */
  get lanes(): number {
    return this.all.length;
  }

  /** sessions opened and batches they ran, over every lane */
  get sessionStats(): { opened: number; batches: number } {
    return this.all.reduce(
      (a, p) => ({ opened: a.opened + p.sessionStats.opened, batches: a.batches + p.sessionStats.batches }),
      { opened: 0, batches: 0 },
    );
  }

  /** every pod a lane opened a session in */
  get sessionPods(): PodRef[] {
    const byKey = new Map<string, PodRef>();
    for (const p of this.all) for (const pod of p.sessionPods) byKey.set(podKey(pod), pod);
    return [...byKey.values()];
  }

  /** One round (Prober.round) on an idle lane; it rejects as Prober.round does. */
  async round(requests: readonly ProbeRequest[], signal?: AbortSignal): Promise<ProbeRecord[]> {
    if (this.closed)
      throw new ProbeRoundError(
        [new ProbeInfrastructureError('probe lanes', 'the probe lanes were closed before this round')],
        [],
      );
    const lane = this.idle.pop() ?? this.open();
    try {
      return await lane.round(requests, signal);
    } finally {
      if (!this.closed) this.idle.push(lane);
    }
  }

  /** Closes every lane's sessions (a round still running fails as infrastructure). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    await Promise.all(this.all.map((p) => p.close()));
  }

  private open(): Prober {
    const p = new Prober(this.executor, { ...this.opts, sessions: true });
    this.all.push(p);
    return p;
  }
}
