import { describe, expect, it } from 'vitest';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { UsageError } from '../../../harness/errors.js';
import {
  capacityWarning,
  parseCellsRegex,
  parseShard,
  reuseGroups,
  selectCells,
} from '../../../harness/pipeline/select.js';

const cells = buildMatrix({ flags: { install: 'manifest,operator' } }); // 10 cells

describe('--shard i/n', () => {
  it('splits the planned cells into disjoint shards that together are the whole plan, the same way every time', () => {
    for (const count of [1, 2, 3, 4, 10, 12]) {
      const shards = Array.from({ length: count }, (_, i) =>
        selectCells(cells, { shard: { index: i + 1, count } }),
      );
      expect(
        shards
          .flat()
          .map((c) => c.id)
          .sort(),
      ).toEqual(cells.map((c) => c.id).sort());
      expect(new Set(shards.flat().map((c) => c.id)).size).toBe(cells.length);
      const sizes = shards.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(selectCells(cells, { shard: { index: 1, count } })).toEqual(shards[0]);
    }
  });

  it('is round-robin in plan order: shard 2/3 holds cells 1, 4, 7 (0-based)', () => {
    expect(selectCells(cells, { shard: { index: 2, count: 3 } }).map((c) => c.id)).toEqual(
      [1, 4, 7].map((i) => cells[i]!.id),
    );
  });

  it('shards what --cells selected', () => {
    const picked = selectCells(cells, { cells: /operator/, shard: { index: 1, count: 2 } });
    expect(picked.every((c) => c.install === 'operator')).toBe(true);
    expect(picked).toHaveLength(3);
  });

  it('rejects malformed shards, naming the flag and the form', () => {
    for (const bad of ['0/2', '3/2', '1/0', 'a/b', '1', '1/2/3']) {
      expect(() => parseShard(bad)).toThrow(UsageError);
      expect(() => parseShard(bad)).toThrow(/--shard: .* allowed: i\/n with 1 ≤ i ≤ n/);
    }
    expect(parseShard(' 2/5 ')).toEqual({ index: 2, count: 5 });
  });
});

describe('--cells REGEX', () => {
  it('selects by cell id and names the ids when nothing matches', () => {
    expect(selectCells(cells, { cells: /-vxlan$/ }).map((c) => c.encapsulation)).toEqual(['VXLAN', 'VXLAN']);
    expect(() => selectCells(cells, { cells: /nope/ })).toThrow(
      /--cells: nope matches none of the 10 planned cells \(ids: v/,
    );
    expect(() => parseCellsRegex('(')).toThrow(/--cells: "\(" is not a valid regular expression/);
  });
});

describe('--reuse-cluster groups', () => {
  it('puts cells of one cluster shape together and keeps plan order', () => {
    const mixed = buildMatrix({
      flags: { install: 'manifest', encapsulation: 'VXLAN,None', workers: '1,2' },
    });
    const groups = reuseGroups(mixed);
    expect(groups).toHaveLength(2);
    for (const g of groups) expect(new Set(g.map((c) => c.workers)).size).toBe(1);
    expect(groups.flat()).toHaveLength(mixed.length);
    expect(reuseGroups(cells)).toHaveLength(1);
  });
});

describe('--parallel capacity warning', () => {
  const GiB = 2 ** 30;
  it('is silent when the machine fits N clusters', () => {
    expect(capacityWarning(2, cells, { cpus: 8, memoryBytes: 16 * GiB })).toBeUndefined();
  });
  it('warns with the need, the machine and a --parallel that fits', () => {
    const w = capacityWarning(4, cells, { cpus: 4, memoryBytes: 8 * GiB });
    expect(w).toBe(
      '--parallel 4: 4 cluster(s) of up to 3 nodes want about 8 CPUs and 16 GiB of memory (~2 CPUs and ~4 GiB per 3-node cluster); ' +
        'this machine has 4 CPUs and 8.0 GiB. Expect timeouts; --parallel 2 fits',
    );
  });
  it('scales with bigger clusters', () => {
    const big = buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN', workers: '5' } });
    expect(capacityWarning(1, big, { cpus: 2, memoryBytes: 4 * GiB })).toMatch(
      /up to 6 nodes want about 4 CPUs and 8 GiB/,
    );
  });
});
