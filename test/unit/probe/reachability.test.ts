import { describe, expect, it } from 'vitest';
import {
  agrees,
  formatGrids,
  gridPasses,
  gridsFromRecords,
  Model,
  matchesPeer,
  Reachability,
  TruthTable,
} from '../../../harness/probe/reachability.js';
import type { ProbeRecord } from '../../../harness/probe/types.js';

const peers = ['x/a', 'x/b', 'y/a'];

describe('reachability vocabulary', () => {
  it('Model rejects duplicate peers and an empty port list', () => {
    expect(
      () =>
        new Model(
          [
            { namespace: 'x', pod: 'a' },
            { namespace: 'x', pod: 'a' },
          ],
          [{ port: 80, protocol: 'TCP' }],
        ),
    ).toThrow(/model\.peers: x\/a appears twice/);
    expect(() => new Model([{ namespace: 'x', pod: 'a' }], [])).toThrow(/model\.ports/);
    expect(new Model([{ namespace: 'x', pod: 'a' }], [{ port: 80, protocol: 'TCP' }]).keys()).toEqual([
      'x/a',
    ]);
  });

  it('peer filters take wildcards per field, like ExpectPeer', () => {
    expect(matchesPeer('*', 'x/a')).toBe(true);
    expect(matchesPeer('x/*', 'x/b')).toBe(true);
    expect(matchesPeer('*/a', 'y/a')).toBe(true);
    expect(matchesPeer('*/a', 'x/b')).toBe(false);
    expect(matchesPeer('x/a', 'y/a')).toBe(false);
  });

  it('TruthTable refuses unknown peers and sets matching cells', () => {
    const t = new TruthTable(peers, peers, true);
    t.setMatching('*', 'y/*', false);
    expect(t.get('x/a', 'y/a')).toBe(false);
    expect(t.get('x/a', 'x/b')).toBe(true);
    expect(() => t.set('z/q', 'x/a', true)).toThrow(/unknown source peer z\/q/);
  });

  it('a deny agrees with timeout, refused and unreachable, never with dns-failure or error', () => {
    expect(agrees(false, 'timeout')).toBe(true);
    expect(agrees(false, 'refused')).toBe(true);
    expect(agrees(false, 'unreachable')).toBe(true);
    expect(agrees(false, 'dns-failure')).toBe(false);
    expect(agrees(false, 'error')).toBe(false);
    expect(agrees(true, 'connected')).toBe(true);
    expect(agrees(true, 'timeout')).toBe(false);
    expect(agrees(true, undefined)).toBe(false);
  });

  it('summarises right, wrong and ignored cells (loopback ignored) and prints three grids', () => {
    const r = new Reachability(peers, 80, 'TCP', true).expectAllIngress('y/a', false);
    r.observe('x/a', 'x/b', 'connected')
      .observe('x/a', 'y/a', 'timeout')
      .observe('x/b', 'y/a', 'connected')
      .observe('x/a', 'x/a', 'connected');
    const s = r.summary();
    expect(s).toMatchObject({ right: 2, wrong: 1 });
    expect(s.ignored).toBe(6);
    expect(s.wrongCells).toEqual([{ from: 'x/b', to: 'y/a', expected: false, observed: 'connected' }]);
    const grid = r.toGrid('ingress to y/a denied');
    expect(grid.expected['x/b']?.['y/a']).toBe(false);
    expect(grid.observed['x/a']?.['y/a']).toBe('timeout');
    expect(gridPasses(grid)).toBe(false);
    const text = formatGrids(grid);
    expect(text).toBe(
      [
        'ingress to y/a denied — TCP/80: 1 wrong',
        '  peers: 1=x/a  2=x/b  3=y/a',
        '  legend: expected . allow, X deny; observed . connected, X timeout, R refused, U unreachable, D dns-failure, E error, ? not probed',
        '  expected',
        '      1 2 3',
        '   1  . . X',
        '   2  . . X',
        '   3  . . X',
        '  observed',
        '      1 2 3',
        '   1  . . X',
        '   2  ? ? .',
        '   3  ? ? ?',
        '  difference (X = wrong)',
        '      1 2 3',
        '   1  . . .',
        '   2  ? ? X',
        '   3  ? ? ?',
      ].join('\n'),
    );
  });

  it('builds one grid per port/protocol from probe records', () => {
    const rec = (
      from: string,
      to: string,
      port: number,
      protocol: 'TCP' | 'UDP',
      verdict: ProbeRecord['verdict'],
    ) => ({ from, to, port, protocol, verdict, durationMs: 1 }) as ProbeRecord;
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
  });
});
