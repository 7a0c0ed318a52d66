/**
 * A run owns SIGINT/SIGTERM: a handler a library adds while the run is armed is taken off again (vitest's
 * Node API adds one that calls process.exit with every suite run; on the lab a Ctrl-C during a suite exited
 * the run in the middle of its teardown). Exercised with vitest's own Node API, the library that did it.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ownSignals } from '../../../harness/cli/session.js';

const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
const settle = () => new Promise((r) => setTimeout(r, 0));
afterEach(() => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.off(sig, l);
});

describe('ownSignals', () => {
  it("takes off what is added for SIGINT/SIGTERM while armed, keeps the run's own handler and other events", async () => {
    const own = () => {};
    process.on('SIGINT', own);
    const disarm = ownSignals(own);
    const foreign = () => {};
    const other = () => {};
    process.once('SIGINT', foreign);
    process.on('SIGTERM', foreign);
    process.on('SIGUSR2', other);
    process.on('SIGINT', own);
    await settle();
    expect(process.listeners('SIGINT').filter((l) => l === own)).toHaveLength(2);
    expect(process.listeners('SIGINT')).not.toContain(foreign);
    expect(process.listeners('SIGTERM')).not.toContain(foreign);
    expect(process.listeners('SIGUSR2')).toContain(other);
    disarm();
    process.on('SIGTERM', foreign);
    await settle();
    expect(process.listeners('SIGTERM')).toContain(foreign);
    process.off('SIGUSR2', other);
  });

  it("vitest's Node API adds its exiting SIGINT handler when created; armed, none of it stays", async () => {
    const { createVitest } = await import('vitest/node');
    const make = () =>
      createVitest(
        'test',
        {
          root: join(import.meta.dirname, '../../..'),
          watch: false,
          run: true,
          include: ['nothing-matches'],
        },
        {},
        {},
      );
    const bare = process.listenerCount('SIGINT');
    const unguarded = await make();
    // the fact the guard is for: vitest's Logger registered a SIGINT handler of its own
    expect(process.listenerCount('SIGINT')).toBe(bare + 1);
    await unguarded.close();
    expect(process.listenerCount('SIGINT')).toBe(bare);

    const disarm = ownSignals(() => {});
    const guarded = await make();
    await settle();
    expect(process.listenerCount('SIGINT')).toBe(bare);
    await guarded.close();
    disarm();
  });
});
