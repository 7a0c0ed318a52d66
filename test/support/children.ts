/**
 * Child processes a test starts: a failing test must not leave one running. `killIfRunning` in the test's
 * finally (and in afterAll) stops a child that is still running, and waits a little for it to go.
 */
import type { ChildProcess } from 'node:child_process';

export const running = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

export async function killIfRunning(c: ChildProcess): Promise<void> {
  if (!running(c)) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGKILL');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
}
