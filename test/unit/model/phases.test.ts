import { describe, expect, it } from 'vitest';
import { runHelp } from '../../../harness/cli/commands/run.js';
import { CLEANUP_PHASES, PHASES, RUN_PHASES, UNTIL_PHASES } from '../../../harness/model/results.js';

describe('the one phase list', () => {
  it('run records every phase but upgrade, in the same order; upgrade runs between installing A and verifying B', () => {
    expect(RUN_PHASES).toEqual(PHASES.filter((p) => p !== 'upgrade'));
    expect(PHASES.indexOf('upgrade')).toBe(PHASES.indexOf('install') + 1);
    expect(PHASES.indexOf('verify')).toBe(PHASES.indexOf('upgrade') + 1);
  });

  it('the cleanup phases are the uninstall and everything after it', () => {
    expect(CLEANUP_PHASES).toEqual(['uninstall', 'audit', 'complete-uninstall', 'final-audit', 'teardown']);
  });

  it('--until names the run phases after preflight that leave Calico on a cluster, and run --help lists them', () => {
    expect(UNTIL_PHASES).toEqual([
      'create-cluster',
      'baseline',
      'install',
      'verify',
      'connectivity',
      'policy',
    ]);
    const help = runHelp.replace(/\s+/g, ' ');
    const until = help.slice(help.indexOf('--until PHASE'), help.indexOf('--allow'));
    for (const p of UNTIL_PHASES) expect(until).toContain(p);
  });
});
