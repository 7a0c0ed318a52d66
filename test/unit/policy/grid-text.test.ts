import { describe, expect, it } from 'vitest';
import { formatGrid, formatGridView, gridDifferences } from '../../../harness/policy/grid-text.js';
import type { ReachabilityGrid } from '../../../harness/probe/types.js';

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
        '2 differences',
      ].join('\n'),
    );
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
