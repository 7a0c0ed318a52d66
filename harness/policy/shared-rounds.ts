/**
 * Shared probe rounds: scenarios running at the same time (each in its own namespace set) ask for their
 * probe rounds through one SharedRounds, which starts ONE round of the underlying prober with every
 * waiting scenario's probes and hands each scenario back exactly its own records. A round costs about one
 * probe timeout whatever its size (one exec per source pod, every probe of that pod in parallel), so K
 * scenarios probing together pay for one round instead of K.
 *
 * A round starts as soon as every scenario that has joined is waiting for one, or `gatherMs` after the
 * first request when some are still busy (applying or deleting their policies): nobody waits for a slow
 * neighbour longer than that. A request that arrives while a round runs goes into the next one. When the
 * prober fails, every scenario of that round gets the error (the runner counts it as an infrastructure
 * error, never as a deny).
 */
import type { ProbeKey, ProbeRecord } from '../model/connectivity.js';
import type { PolicyProber } from './runner.js';

export interface RoundParticipant extends PolicyProber {
  /** leaves the rounds (the scenario is done); idempotent */
  leave(): void;
}

interface Pending {
  keys: ProbeKey[];
  resolve: (r: ProbeRecord[]) => void;
  reject: (e: unknown) => void;
}

const idOf = (k: ProbeKey) => `${k.from}>${k.to}>${k.protocol}/${k.port}`;

export class SharedRounds {
  private pending: Pending[] = [];
  private active = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** rounds started and the probes they carried (for the run's evidence and the benchmark) */
  readonly stats = { rounds: 0, probes: 0, largestRound: 0 };

  constructor(
    private readonly inner: PolicyProber,
    private readonly gatherMs = 150,
  ) {}

  /** Joins the rounds; the returned prober's `probe` waits for the next shared round. */
  join(): RoundParticipant {
    this.active++;
    let left = false;
    return {
      probe: (keys) =>
        new Promise<ProbeRecord[]>((resolve, reject) => {
          if (left) return reject(new Error('probe after leave(): this scenario left the shared rounds'));
          this.pending.push({ keys, resolve, reject });
          this.maybeStart();
        }),
      leave: () => {
        if (left) return;
        left = true;
        this.active--;
        this.maybeStart();
      },
    };
  }

  private maybeStart(): void {
    if (this.running || this.pending.length === 0) return;
    if (this.pending.length >= this.active) {
      void this.start();
      return;
    }
    this.timer ??= setTimeout(() => void this.start(), this.gatherMs);
  }

  private async start(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.pending.length === 0) return;
    this.running = true;
    const batch = this.pending.splice(0);
    const all = batch.flatMap((b) => b.keys);
    this.stats.rounds++;
    this.stats.probes += all.length;
    this.stats.largestRound = Math.max(this.stats.largestRound, all.length);
    try {
      const records = await this.inner.probe(all);
      const byId = new Map(records.map((r) => [idOf(r), r]));
      for (const b of batch)
        b.resolve(b.keys.map((k) => byId.get(idOf(k))).filter((r): r is ProbeRecord => r !== undefined));
    } catch (err) {
      for (const b of batch) b.reject(err);
    } finally {
      this.running = false;
      this.maybeStart();
    }
  }
}
