/**
 * The teardown registry: whatever the harness creates registers how to undo it here (and in the state file),
 * and the registry undoes everything, newest first, on a normal end, on SIGINT/SIGTERM, on an uncaught exception
 * or an unhandled rejection, and when the run's deadline passes. It reports what it could not remove, so the
 * user knows exactly what is left and that `calico-conformance cleanup` will retry it.
 */
import { defaultRunner, type ProcessRunner } from '../exec/process.js';
import { removeResource } from './remove.js';
import type { ResourceKind, RunState } from './run-state.js';

export interface Tracked {
  /** the resource was removed: unregister it and drop it from the state file */
  release(): void;
  /** keep the resource: unregister it, leave it in the state file */
  keep(): void;
}

interface Entry {
  id: number;
  label: string;
  undo: () => Promise<void>;
  /** the state-file record to forget once undone */
  recorded?: { kind: ResourceKind; name: string };
}

export interface TeardownOptions {
  state?: RunState;
  runner?: ProcessRunner;
  log?: (line: string) => void;
}

export class Teardown {
  private entries: Entry[] = [];
  private nextId = 1;
  private running: Promise<string[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly runner: ProcessRunner;

  constructor(private readonly opts: TeardownOptions = {}) {
    this.runner = opts.runner ?? defaultRunner;
  }

  get pending(): string[] {
    return this.entries.map((e) => e.label);
  }

  /** Registers an undo; returns a function that unregisters it (call it after removing the thing yourself). */
  add(label: string, undo: () => Promise<void>, recorded?: { kind: ResourceKind; name: string }): () => void {
    const id = this.nextId++;
    this.entries.push({ id, label, undo, ...(recorded ? { recorded } : {}) });
    return () => {
      this.entries = this.entries.filter((e) => e.id !== id);
    };
  }

  /**
   * Records a resource in the state file (before it is created, so a crash in between still leaves a record) and
   * registers its removal. `release()` after removing it by other means; `keep()` to leave it on purpose (it
   * stays in the state file, so `cleanup --all` still finds it).
   */
  track(kind: ResourceKind, name: string, purpose?: string): Tracked {
    const rec = this.opts.state?.add(kind, name, purpose);
    const unregister = this.add(
      `${kind} ${name}`,
      async () => {
        const out = await removeResource(rec ?? { kind, name, createdAt: '' }, this.runner);
        if (!out.removed) throw new Error(out.detail);
      },
      { kind, name },
    );
    return {
      release: () => {
        unregister();
        this.opts.state?.forget(kind, name);
      },
      keep: () => {
        unregister();
        this.opts.state?.markKept(kind, name);
      },
    };
  }

  /** Undoes everything, newest first; resolves with what could not be undone. Concurrent calls share one run. */
  run(reason = 'end of run'): Promise<string[]> {
    this.running ??= this.runAll(reason);
    return this.running;
  }

  private async runAll(reason: string): Promise<string[]> {
    if (this.timer) clearTimeout(this.timer);
    const left: string[] = [];
    if (this.entries.length) this.opts.log?.(`teardown (${reason}): removing ${this.entries.length} item(s)`);
    while (this.entries.length > 0) {
      const e = this.entries.pop()!;
      try {
        await e.undo();
        if (e.recorded) this.opts.state?.forget(e.recorded.kind, e.recorded.name);
      } catch (err) {
        left.push(`${e.label}: ${(err as Error).message}`);
      }
    }
    for (const l of left) this.opts.log?.(`teardown could not remove ${l}`);
    if (left.length)
      this.opts.log?.('what is left is in the state file; `calico-conformance cleanup` retries it');
    this.running = undefined;
    return left;
  }

  /** Runs the teardown when `ms` pass (the run's deadline) and calls onExpire with what was left. */
  armDeadline(ms: number, onExpire: (left: string[]) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(`deadline of ${ms}ms passed`).then(onExpire), ms);
    this.timer.unref();
  }

  /**
   * Installs process handlers: SIGINT/SIGTERM run the teardown and exit 130/143; an uncaught exception or an
   * unhandled rejection runs it and exits 1. A second signal during teardown exits at once, naming what is left.
   * Returns a function that removes the handlers.
   */
  installProcessHandlers(exit: (code: number) => void = (c) => process.exit(c)): () => void {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals) => {
      const code = sig === 'SIGINT' ? 130 : 143;
      if (signalled) {
        this.opts.log?.(
          `${sig} again: exiting without finishing teardown; left: ${this.pending.join(', ') || 'nothing'}`,
        );
        exit(code);
        return;
      }
      signalled = true;
      void this.run(`${sig} received`).then(() => exit(code));
    };
    const onFatal = (err: unknown) => {
      this.opts.log?.(`fatal: ${(err as Error)?.stack ?? String(err)}`);
      void this.run('uncaught error').then(() => exit(1));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('uncaughtException', onFatal);
      process.off('unhandledRejection', onFatal);
    };
  }
}
