import { describe, expect, it } from 'vitest';
import type { ReachabilityGrid } from '../../../harness/probe/types.js';
import { cellState, formatGridText, gridMismatches, VERDICT_SYMBOL } from '../../../harness/report/grid.js';

const grid: ReachabilityGrid = {
  title: 'deny y',
  port: 80,
  protocol: 'TCP',
  peers: ['x/a', 'y/b', 'z/c'],
  expected: {
    'x/a': { 'y/b': false, 'z/c': true },
    'y/b': { 'x/a': true, 'z/c': true },
    'z/c': { 'x/a': true, 'y/b': false },
  },
  observed: {
    'x/a': { 'y/b': 'timeout', 'z/c': 'refused' },
    'y/b': { 'x/a': 'connected', 'z/c': 'dns-failure' },
    // z/c → x/a not probed; z/c → y/b connected although denied
    'z/c': { 'y/b': 'connected' },
  },
};

describe('formatGridText', () => {
  it('prints expected, observed and difference tables, one character per cell', () => {
    expect(formatGridText(grid)).toBe(
      [
        'deny y (TCP/80)',
        'expected:',
        '      0 1 2',
        '0 x/a - X .',
        '1 y/b . - .',
        '2 z/c . X -',
        'observed:',
        '      0 1 2',
        '0 x/a - T R',
        '1 y/b . - D',
        '2 z/c   . -',
        'difference:',
        '      0 1 2',
        '0 x/a - . X',
        '1 y/b . - X',
        '2 z/c   X -',
        '3 differences',
      ].join('\n'),
    );
  });

  it('has one distinct symbol per verdict kind, none of them blank (blank means not probed)', () => {
    const symbols = Object.values(VERDICT_SYMBOL);
    expect(new Set(symbols).size).toBe(6);
    expect(symbols).not.toContain(' ');
    expect(VERDICT_SYMBOL).toEqual({
      connected: '.',
      refused: 'R',
      timeout: 'T',
      'dns-failure': 'D',
      unreachable: 'U',
      error: 'E',
    });
  });

  it('counts a refused or timed-out probe as denied, and an unprobed pair as neither', () => {
    expect(cellState(grid, 'x/a', 'y/b')).toBe('match');
    expect(cellState(grid, 'x/a', 'z/c')).toBe('mismatch');
    expect(cellState(grid, 'z/c', 'x/a')).toBe('not-probed');
    expect(cellState(grid, 'x/a', 'x/a')).toBe('not-probed');
    expect(gridMismatches(grid)).toEqual([
      { from: 'x/a', to: 'z/c', expected: 'allowed', observed: 'refused' },
      { from: 'y/b', to: 'z/c', expected: 'allowed', observed: 'dns-failure' },
      { from: 'z/c', to: 'y/b', expected: 'denied', observed: 'connected' },
    ]);
  });

  it('says so when nothing differs', () => {
    const same: ReachabilityGrid = {
      ...grid,
      observed: {
        'x/a': { 'y/b': 'timeout', 'z/c': 'connected' },
        'y/b': { 'x/a': 'connected', 'z/c': 'connected' },
        'z/c': { 'x/a': 'connected', 'y/b': 'refused' },
      },
    };
    expect(formatGridText(same).split('\n').at(-1)).toBe('no differences');
  });
});
