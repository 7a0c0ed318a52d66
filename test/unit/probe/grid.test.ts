/**
 * The one grid text format (harness/probe/grid.ts): symbols, legend, the expected/observed/difference
 * tables, and the failure list with each failed probe's own detail and the command that repeats it.
 */
import { describe, expect, it } from 'vitest';
import { type ProbeRecord, type ReachabilityGrid, VERDICTS } from '../../../harness/model/connectivity.js';
import {
  cellState,
  formatGridText,
  GRID_LEGEND,
  GRID_LEGEND_PARTS,
  gridFailures,
  gridMismatches,
  gridPasses,
  gridsFromRecords,
  VERDICT_SYMBOL,
} from '../../../harness/probe/grid.js';

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

const TABLES = [
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
];

describe('the legend', () => {
  it('is one text, with T for timeout and X only for expected-denied and expected ≠ observed', () => {
    expect(GRID_LEGEND).toBe(
      'observed: . connected  R refused  T timeout  D dns-failure  U unreachable  E error  (blank) not probed  - self; ' +
        'expected: . allowed  X denied; ' +
        'difference: . as expected  X expected≠observed  E probe error (never counted as a deny)',
    );
  });

  it('is built from the same symbols the tables print', () => {
    expect(GRID_LEGEND_PARTS.observed.slice(0, VERDICTS.length)).toEqual(
      VERDICTS.map((v) => ({ symbol: VERDICT_SYMBOL[v], meaning: v })),
    );
    for (const part of Object.values(GRID_LEGEND_PARTS))
      for (const { symbol, meaning } of part)
        expect(GRID_LEGEND).toContain(`${symbol === ' ' ? '(blank)' : symbol} ${meaning}`);
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
});

describe('formatGridText', () => {
  it('prints title, legend, the three tables, the count and the failure list', () => {
    expect(formatGridText(grid)).toBe(
      [
        'deny y (TCP/80)',
        `legend: ${GRID_LEGEND}`,
        ...TABLES,
        '3 differences',
        'failures:',
        '  x/a → z/c: expected allowed, observed refused',
        '  y/b → z/c: expected allowed, observed dns-failure',
        '  z/c → y/b: expected denied, observed connected',
      ].join('\n'),
    );
  });

  it("gives each failure the probe's own detail and the command that repeats it, when known", () => {
    const withFailures: ReachabilityGrid = {
      ...grid,
      failures: {
        'x/a': {
          'z/c': {
            detail: 'nc rc=1: connect to 10.0.0.3 port 80 (tcp) failed: Connection refused',
            command: 'kubectl exec -n x a -c cont-80 -- nc -v -z -w 1 10.0.0.3 80',
          },
        },
        'z/c': { 'y/b': { command: 'kubectl exec -n z c -c cont-80 -- nc -v -z -w 1 10.0.0.2 80' } },
      },
    };
    expect(formatGridText(withFailures).split('\n').slice(-7)).toEqual([
      '3 differences',
      'failures:',
      '  x/a → z/c: expected allowed, observed refused (nc rc=1: connect to 10.0.0.3 port 80 (tcp) failed: Connection refused)',
      '    kubectl exec -n x a -c cont-80 -- nc -v -z -w 1 10.0.0.3 80',
      '  y/b → z/c: expected allowed, observed dns-failure',
      '  z/c → y/b: expected denied, observed connected',
      '    kubectl exec -n z c -c cont-80 -- nc -v -z -w 1 10.0.0.2 80',
    ]);
  });

  it('lists probe errors as failures, never as differences', () => {
    const errored: ReachabilityGrid = {
      ...grid,
      observed: { ...grid.observed, 'z/c': { 'x/a': 'error', 'y/b': 'timeout' } },
      failures: { 'z/c': { 'x/a': { detail: 'no end sentinel', command: 'kubectl exec -n z c -- true' } } },
    };
    const lines = formatGridText(errored).split('\n');
    expect(lines.slice(-6)).toEqual([
      '2 differences, 1 probe error',
      'failures:',
      '  x/a → z/c: expected allowed, observed refused',
      '  y/b → z/c: expected allowed, observed dns-failure',
      '  z/c → x/a: probe error, not a verdict (no end sentinel)',
      '    kubectl exec -n z c -- true',
    ]);
  });

  it('says so when nothing differs, and lists nothing', () => {
    const same: ReachabilityGrid = {
      ...grid,
      observed: {
        'x/a': { 'y/b': 'timeout', 'z/c': 'connected' },
        'y/b': { 'x/a': 'connected', 'z/c': 'connected' },
        'z/c': { 'x/a': 'connected', 'y/b': 'refused' },
      },
    };
    expect(formatGridText(same).split('\n').at(-1)).toBe('no differences');
    expect(gridPasses(same)).toBe(true);
  });

  it('prints sources as rows and destinations as columns, naming the columns that are no row', () => {
    const rect: ReachabilityGrid = {
      title: 'pod-service',
      port: 80,
      protocol: 'TCP',
      peers: ['p/c0', 'p/c1', 'p/s0', 'service/s'],
      expected: { 'p/c0': { 'p/s0': true, 'service/s': true }, 'p/c1': { 'p/s0': true, 'service/s': true } },
      observed: {
        'p/c0': { 'p/s0': 'connected', 'service/s': 'timeout' },
        'p/c1': { 'p/s0': 'error', 'service/s': 'connected' },
      },
    };
    expect(formatGridText(rect).split('\n').slice(2)).toEqual([
      'columns only:',
      '2 p/s0',
      '3 service/s',
      'expected:',
      '       2 3',
      '0 p/c0 . .',
      '1 p/c1 . .',
      'observed:',
      '       2 3',
      '0 p/c0 . T',
      '1 p/c1 E .',
      'difference:',
      '       2 3',
      '0 p/c0 . X',
      '1 p/c1 E .',
      '1 difference, 1 probe error',
      'failures:',
      '  p/c0 → service/s: expected allowed, observed timeout',
      '  p/c1 → p/s0: probe error, not a verdict',
    ]);
  });
});

describe('cell states', () => {
  it('counts a refused, timed-out or dns-failed probe as denied, an error as neither, an unprobed pair as neither', () => {
    expect(cellState(grid, 'x/a', 'y/b')).toBe('match');
    expect(cellState(grid, 'x/a', 'z/c')).toBe('mismatch');
    expect(cellState(grid, 'z/c', 'x/a')).toBe('not-probed');
    expect(cellState(grid, 'x/a', 'x/a')).toBe('not-probed');
    expect(gridMismatches(grid)).toEqual([
      { from: 'x/a', to: 'z/c', expected: 'allowed', observed: 'refused' },
      { from: 'y/b', to: 'z/c', expected: 'allowed', observed: 'dns-failure' },
      { from: 'z/c', to: 'y/b', expected: 'denied', observed: 'connected' },
    ]);
    expect(gridPasses(grid)).toBe(false);
  });

  it('a grid with a probe error does not pass, though nothing differs', () => {
    const errorOnly: ReachabilityGrid = { ...grid, observed: { 'x/a': { 'y/b': 'error' } } };
    expect(gridMismatches(errorOnly)).toEqual([]);
    expect(gridFailures(errorOnly)).toEqual([
      { from: 'x/a', to: 'y/b', state: 'error', expected: 'denied', observed: 'error' },
    ]);
    expect(gridPasses(errorOnly)).toBe(false);
  });
});

describe('gridsFromRecords', () => {
  const rec = (
    from: string,
    to: string,
    port: number,
    protocol: 'TCP' | 'UDP',
    verdict: ProbeRecord['verdict'],
    extra: Partial<ProbeRecord> = {},
  ): ProbeRecord => ({ from, to, port, protocol, verdict, durationMs: 1, ...extra });

  it('builds one grid per port/protocol, rows the sources and columns the destinations', () => {
    const grids = gridsFromRecords(
      [rec('x/a', 'x/b', 80, 'TCP', 'connected'), rec('x/a', 'x/b', 81, 'UDP', 'refused')],
      ['x/a', 'x/b'],
      (_f, _t, port) => port === 80,
      'check',
    );
    expect(grids.map((g) => `${g.protocol}/${g.port}`)).toEqual(['TCP/80', 'UDP/81']);
    expect(grids.every(gridPasses)).toBe(true);
    expect(grids[1]?.observed['x/a']?.['x/b']).toBe('refused');
    expect(Object.keys(grids[0]?.expected ?? {})).toEqual(['x/a']);
    expect(grids[0]?.failures).toBeUndefined();
  });

  it("keeps each failed cell's detail and command from its record, and nothing for the cells that passed", () => {
    const [g] = gridsFromRecords(
      [
        rec('x/a', 'x/b', 80, 'TCP', 'timeout', { detail: 'nc rc=1: timed out', command: 'cmd-ab' }),
        rec('x/a', 'x/c', 80, 'TCP', 'connected', { command: 'cmd-ac' }),
        rec('x/b', 'x/c', 80, 'TCP', 'error', { detail: 'answered by z, expected c', command: 'cmd-bc' }),
      ],
      ['x/a', 'x/b', 'x/c'],
      () => true,
      'check',
    );
    expect(g?.failures).toEqual({
      'x/a': { 'x/b': { detail: 'nc rc=1: timed out', command: 'cmd-ab' } },
      'x/b': { 'x/c': { detail: 'answered by z, expected c', command: 'cmd-bc' } },
    });
    expect(formatGridText(g!)).toContain(
      [
        '  x/a → x/b: expected allowed, observed timeout (nc rc=1: timed out)',
        '    cmd-ab',
        '  x/b → x/c: probe error, not a verdict (answered by z, expected c)',
        '    cmd-bc',
      ].join('\n'),
    );
  });
});
