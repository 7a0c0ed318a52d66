/**
 * The inotify preflight: the host's per-user inotify instance limit that every kind node shares (two 3-node
 * clusters at once exhausted the default 128 on the lab). Read-only: a fake /proc here, and the real one
 * where there is one.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inotifyNeed, inotifyWarning, readInotify } from '../../../harness/preflight/inotify.js';

const proc = mkdtempSync(join(tmpdir(), 'cc-proc-'));
afterAll(() => rmSync(proc, { recursive: true, force: true }));
mkdirSync(join(proc, 'sys/fs/inotify'), { recursive: true });
writeFileSync(join(proc, 'sys/fs/inotify/max_user_instances'), '128\n');
const fds: Record<string, string[]> = {
  '1': ['anon_inode:inotify', 'socket:[123]', 'anon_inode:inotify'],
  '42': ['/dev/null', 'anon_inode:[eventpoll]', 'anon_inode:inotify'],
  self: ['anon_inode:inotify'], // not a pid: not counted
};
for (const [pid, links] of Object.entries(fds)) {
  mkdirSync(join(proc, pid, 'fd'), { recursive: true });
  for (const [i, target] of links.entries()) symlinkSync(target, join(proc, pid, 'fd', String(i)));
}
mkdirSync(join(proc, '77')); // a process whose fd directory cannot be read: skipped

describe('inotify preflight', () => {
  it("reads the limit and counts root's inotify instances (the user kind nodes run as); not root: unknown", () => {
    const asRoot = readInotify(proc, 0);
    expect(asRoot.limit).toBe(128);
    // the fake /proc's entries belong to whoever runs the test: counted only when that is root
    expect(asRoot.inUse).toBe(process.getuid?.() === 0 ? 3 : 0);
    expect(readInotify(proc, 1000)).toEqual({ limit: 128 });
    expect(readInotify(join(proc, 'nowhere'), 0)).toEqual({});
  });

  it('what clusters need: ~30 per control plane, ~16 per worker (as measured on the lab)', () => {
    expect(inotifyNeed([{ workers: 2 }])).toBe(62);
    expect(inotifyNeed([{ workers: 2 }, { workers: 2 }])).toBe(124);
  });

  it('warns when the clusters that exist at once do not fit in what is left, naming the limit and the fix', () => {
    // the lab's case: one 3-node cluster running, a second one about to be created
    const lab = { limit: 128, inUse: 70 };
    expect(inotifyWarning(lab, [{ workers: 2 }])).toMatch(
      /max_user_instances is 128 with 70 in use, and 1 cluster\(s\) of 3 nodes need about 62 .*sysctl fs\.inotify\.max_user_instances=512/,
    );
    expect(inotifyWarning({ limit: 128, inUse: 20 }, [{ workers: 2 }])).toBeUndefined();
    expect(inotifyWarning({ limit: 128, inUse: 20 }, [{ workers: 2 }, { workers: 2 }])).toMatch(
      /2 cluster\(s\) of 3, 3 nodes/,
    );
    expect(inotifyWarning({ limit: 512, inUse: 100 }, [{ workers: 2 }, { workers: 2 }])).toBeUndefined();
    expect(inotifyWarning({ inUse: 0 }, [{ workers: 9 }])).toBeUndefined();
    // not root: what runs already is unknown, so only a need over the whole limit is said
    expect(inotifyWarning({ limit: 128 }, [{ workers: 2 }, { workers: 2 }])).toBeUndefined();
    expect(inotifyWarning({ limit: 128 }, [{ workers: 8 }])).toMatch(
      /max_user_instances is 128, and 1 cluster\(s\) of 9 nodes/,
    );
    expect(inotifyWarning({ limit: 128, inUse: 127 }, [])).toBeUndefined();
  });

  it.runIf(existsSync('/proc/sys/fs/inotify/max_user_instances'))('reads this machine’s own limit', () => {
    const here = readInotify();
    expect(here.limit).toBeGreaterThan(0);
    expect(here.inUse).toBeGreaterThanOrEqual(0);
  });
});
