import { describe, expect, it } from 'vitest';
import type { ProbeRecord, ReachabilityGrid } from '../../../harness/model/connectivity.js';
import {
  formatGrid,
  formatGridView,
  GRID_LEGEND,
  gridDifferences,
  withProbeCommands,
} from '../../../harness/policy/grid-text.js';

const grid: ReachabilityGrid = {
  title: 'deny-b',
  port: 80,
  protocol: 'TCP',
  peers: ['x/a', 'x/b', 'y/c'],
  expected: {
    'x/a': { 'x/b': false, 'y/c': true },
    'x/b': { 'x/a': true, 'y/c': true },
    'y/c': { 'x/a': true, 'x/b': false },
  },
  observed: {
    // x/a → x/b connected although denied: a difference; y/c → x/a broke: an error, not a deny
    'x/a': { 'x/b': 'connected', 'y/c': 'connected' },
    'x/b': { 'x/a': 'refused', 'y/c': 'connected' },
    'y/c': { 'x/a': 'error', 'x/b': 'timeout' },
  },
};

describe('grid text (netpol e2e style)', () => {
  it('prints expected, observed and difference tables, one character per cell', () => {
    expect(formatGrid(grid)).toBe(
      [
        'deny-b (TCP/80)',
        `legend: ${GRID_LEGEND}`,
        'expected:',
        '      0 1 2',
        '0 x/a - X .',
        '1 x/b . - .',
        '2 y/c . X -',
        'observed:',
        '      0 1 2',
        '0 x/a - . .',
        '1 x/b R - .',
        '2 y/c E T -',
        'difference:',
        '      0 1 2',
        '0 x/a - X .',
        '1 x/b X - .',
        '2 y/c E . -',
        '2 differences, 1 probe error',
        'failures:',
        '  x/a → x/b: expected denied, observed connected',
        '  x/b → x/a: expected allowed, observed refused',
        '  y/c → x/a: probe error, not a verdict',
      ].join('\n'),
    );
  });

  it("gives the failed cells the detail and command of the round's records (withProbeCommands)", () => {
    const copy = structuredClone(grid);
    const rec = (from: string, to: string, verdict: ProbeRecord['verdict'], port = 80): ProbeRecord => ({
      from,
      to,
      port,
      protocol: 'TCP',
      verdict,
      durationMs: 1,
      detail: `nc rc=${verdict === 'connected' ? 0 : 1}`,
      command: `kubectl exec -n ${from[0]} ${from[2]} -c cont-80 -- nc -v -z -w 1 ip-of-${to} ${port}`,
    });
    const out = withProbeCommands(
      [copy],
      [
        rec('x/a', 'x/b', 'connected'), // a difference
        rec('x/a', 'y/c', 'connected'), // as expected: nothing kept
        rec('y/c', 'x/a', 'error'), // a probe error
        rec('x/b', 'x/a', 'refused', 81), // another port: not this grid
      ],
    );
    expect(out[0]).toBe(copy);
    expect(copy.failures).toEqual({
      'x/a': {
        'x/b': { detail: 'nc rc=0', command: 'kubectl exec -n x a -c cont-80 -- nc -v -z -w 1 ip-of-x/b 80' },
      },
      'y/c': {
        'x/a': { detail: 'nc rc=1', command: 'kubectl exec -n y c -c cont-80 -- nc -v -z -w 1 ip-of-x/a 80' },
      },
    });
    expect(formatGrid(copy).split('\n').slice(-6)).toEqual([
      'failures:',
      '  x/a → x/b: expected denied, observed connected (nc rc=0)',
      '    kubectl exec -n x a -c cont-80 -- nc -v -z -w 1 ip-of-x/b 80',
      '  x/b → x/a: expected allowed, observed refused',
      '  y/c → x/a: probe error, not a verdict (nc rc=1)',
      '    kubectl exec -n y c -c cont-80 -- nc -v -z -w 1 ip-of-x/a 80',
    ]);
  });

  it('lists differences without counting errors or unprobed cells as verdicts', () => {
    expect(gridDifferences(grid)).toEqual([
      { from: 'x/a', to: 'x/b', expected: false, observed: 'connected' },
      { from: 'x/b', to: 'x/a', expected: true, observed: 'refused' },
    ]);
    const unprobed = { ...grid, observed: {} };
    expect(gridDifferences(unprobed)).toEqual([]);
    expect(formatGridView(unprobed, 'observed')).toContain('0 x/a -');
    expect(formatGridView(unprobed, 'difference').split('\n')[2]).toBe('0 x/a -');
  });
});
