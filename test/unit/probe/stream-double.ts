/**
 * The plumbing every probe-session stream double shares (PodStream: stdout listeners, the end promise,
 * close): a double only says what it does with a request line (`write`).
 */
import type { PodStream, PodStreamEnd } from '../../../harness/probe/executor.js';

export abstract class StreamDouble implements PodStream {
  closed = false;
  /** the grace close() was given */
  closeGrace: number | undefined;
  /** set once the stream has ended: later writes are refused */
  protected done = false;
  private listeners: ((c: string) => void)[] = [];
  private endWith!: (e: PodStreamEnd) => void;
  readonly ended = new Promise<PodStreamEnd>((r) => {
    this.endWith = r;
  });

  abstract write(text: string): boolean;

  onStdout(fn: (c: string) => void): void {
    this.listeners.push(fn);
  }

  /** stdout, in chunks of `chunk` characters (lines and the sentinel arrive torn); whole when omitted */
  emit(text: string, chunk = text.length || 1): void {
    for (let i = 0; i < text.length; i += chunk)
      for (const fn of this.listeners) fn(text.slice(i, i + chunk));
  }

  end(e: PodStreamEnd): void {
    this.done = true;
    this.endWith(e);
  }

  close(graceMs?: number): Promise<PodStreamEnd> {
    this.closed = true;
    this.closeGrace = graceMs;
    this.end({ exitCode: 0, reason: 'closed by the test', stderr: '' });
    return this.ended;
  }
}
