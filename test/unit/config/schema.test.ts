/**
 * schema/config.schema.json is the validator of a config's shape (harness/config/schema.ts): these tests
 * hold it to the code — the keys and enums the code reads, the defaults it falls back to, the examples —
 * and check that a bad document is reported by the loader in the project's words, not ajv's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { parse } from 'yaml';
import { CATALOGUE, ENCAPSULATIONS, INSTALL_PATHS } from '../../../harness/config/catalogue.js';
import { BGP_MODES, type Cell, DEFAULTS, TOPOLOGIES } from '../../../harness/config/cell.js';
import { buildMatrix, CELL_FIELD_NAMES, type CellField } from '../../../harness/config/matrix.js';
import {
  configSchema,
  optionValueSchema,
  resolveRef,
  SCHEMA_FORMATS,
  type SchemaNode,
  shapeProblem,
} from '../../../harness/config/schema.js';
import { UsageError } from '../../../harness/errors.js';
import { parseIpv4Cidr } from '../../../harness/net/cidr.js';

const schema = configSchema();
const cellSchema = resolveRef(schema.properties!.cells!.items!);

function message(config: unknown): string {
  try {
    buildMatrix({ config, configFile: 'm.yaml' });
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`);
}

describe('the schema and the code read the same config', () => {
  it('has exactly the options the loader reads, at the top level and in a cell, and nothing else', () => {
    // the loader reads CELL_FIELDS' keys, and they are exactly the Cell's fields (checked by tsc)
    expectTypeOf<CellField>().toEqualTypeOf<Exclude<keyof Cell, 'id'>>();
    expect(Object.keys(schema.properties!).sort()).toEqual([...CELL_FIELD_NAMES, 'cells', '$schema'].sort());
    expect(Object.keys(cellSchema.properties!).sort()).toEqual([...CELL_FIELD_NAMES].sort());
    for (const key of CELL_FIELD_NAMES) {
      // the top level and a cell take the same option schema
      expect(resolveRef(schema.properties![key]!), key).toBe(cellSchema.properties![key]);
      expect(optionValueSchema(key)?.type, key).toBeDefined();
    }
  });

  it('lists the values the code has types for: catalogued versions, install paths, encapsulations, topologies, BGP modes', () => {
    expect(optionValueSchema('calicoVersion')!.enum).toEqual(CATALOGUE.map((v) => v.version));
    expect(optionValueSchema('install')!.enum).toEqual([...INSTALL_PATHS]);
    expect(optionValueSchema('encapsulation')!.enum).toEqual([...ENCAPSULATIONS]);
    expect(optionValueSchema('topology')!.enum).toEqual([...TOPOLOGIES]);
    expect(optionValueSchema('bgp')!.enum).toEqual([...BGP_MODES]);
  });

  it('accepts the defaults the loader falls back to', () => {
    const defaults = Object.fromEntries(
      Object.entries(DEFAULTS).filter(([k]) => (CELL_FIELD_NAMES as string[]).includes(k)),
    );
    expect(Object.keys(defaults).length).toBeGreaterThan(5);
    expect(shapeProblem(defaults)).toBeUndefined();
  });

  const examples = readdirSync('examples').filter((f) => /\.ya?ml$/.test(f));
  it.each(examples)('accepts examples/%s, and the loader builds its cells', (file) => {
    const doc = parse(readFileSync(`examples/${file}`, 'utf8'));
    expect(shapeProblem(doc)).toBeUndefined();
    expect(buildMatrix({ configFile: `examples/${file}` }).length).toBeGreaterThan(0);
  });

  it('names every example the README points to', () => {
    const named = [...readFileSync('README.md', 'utf8').matchAll(/examples\/([\w.-]+\.ya?ml)/g)].map(
      (m) => m[1],
    );
    expect(named.length).toBeGreaterThan(0);
    for (const f of named) expect(examples).toContain(f);
  });

  it('has a CIDR pattern (what editors check) that agrees with the ipv4-cidr format (what the loader checks)', () => {
    const node = optionValueSchema('podCIDR')!;
    expect(node.format).toBe('ipv4-cidr');
    expect(SCHEMA_FORMATS[node.format!]).toBeDefined();
    const pattern = new RegExp(node.pattern as string, 'u');
    const samples = ['10.0.0.0/8', '0.0.0.0/0', '255.255.255.255/32', '10.0.0.0/08', '192.168.1.0/16'];
    const bad = [
      '256.0.0.0/8',
      '01.0.0.0/8',
      '10.0.0.0/33',
      '10.0.0.0/100',
      '10.0.0.0',
      '10.0.0/8',
      'fd00::/64',
      'x',
    ];
    for (const s of [...samples, ...bad]) {
      expect(pattern.test(s), s).toBe(parseIpv4Cidr(s, { allowHostBits: true }).ok);
    }
  });

  it('fills every x-allowed placeholder from a keyword beside it', () => {
    const nodes: SchemaNode[] = [];
    const walk = (n: unknown) => {
      if (n === null || typeof n !== 'object') return;
      if (!Array.isArray(n) && 'x-allowed' in n) nodes.push(n as SchemaNode);
      for (const v of Object.values(n)) walk(v);
    };
    walk(schema);
    expect(nodes.length).toBeGreaterThan(5);
    for (const n of nodes) {
      for (const [, keyword] of n['x-allowed']!.matchAll(/\{(\w+)\}/g)) {
        expect(n[keyword!], `${n['x-allowed']}: ${keyword}`).toBeDefined();
      }
    }
  });
});

describe('a bad config is reported by the loader, naming the field, the value and what is allowed', () => {
  const versions = CATALOGUE.map((v) => v.version).join(', ');
  const table: [string, unknown, string][] = [
    [
      'not a mapping',
      ['IPIP'],
      'm.yaml: the config must be a YAML mapping of cell options (see schema/config.schema.json)',
    ],
    [
      'an unknown key',
      { podCidr: '10.0.0.0/16' },
      'podCidr in m.yaml: unknown config key; allowed keys: calicoVersion, install, encapsulation, podCIDR, ' +
        'serviceCIDR, ipPoolCIDR, blockSize, natOutgoing, workers, nodeImage, topology, imageRegistry, bgp, cells ' +
        '(did you mean podCIDR?)',
    ],
    [
      'an unknown key in a cell',
      { cells: [{ install: 'operator' }, { mode: 'IPIP' }] },
      'cells[1].mode in m.yaml: unknown config key; allowed keys: calicoVersion, install, encapsulation, podCIDR, ' +
        'serviceCIDR, ipPoolCIDR, blockSize, natOutgoing, workers, nodeImage, topology, imageRegistry, bgp',
    ],
    [
      'a value outside an enum, in a cell',
      { cells: [{ install: 'operator' }, { encapsulation: 'GRE' }] },
      'cells[1].encapsulation in m.yaml: "GRE" is not allowed; allowed: IPIP, VXLAN, IPIPCrossSubnet, VXLANCrossSubnet, None',
    ],
    [
      'a list item outside an enum, with the near spelling',
      { encapsulation: ['IPIP', 'vxlan'] },
      'encapsulation in m.yaml: "vxlan" is not allowed; allowed: IPIP, VXLAN, IPIPCrossSubnet, VXLANCrossSubnet, None (did you mean VXLAN?)',
    ],
    [
      'an empty list',
      { install: [] },
      'install in m.yaml: [] is not allowed; allowed: a value or a non-empty list',
    ],
    [
      'an uncatalogued version',
      { calicoVersion: 'v3.25.0' },
      `calicoVersion in m.yaml: "v3.25.0" is not allowed; allowed: a catalogued version (vX.Y.Z or master): ${versions}. ` +
        'To add one, add an entry to harness/config/catalogue.ts and its sha256 lines to harness/calico/manifests.lock.json',
    ],
    [
      'a CIDR with host bits',
      { podCIDR: '192.168.1.0/16' },
      'podCIDR in m.yaml: "192.168.1.0/16" is not allowed; it has host bits set (the network is 192.168.0.0/16); allowed: an IPv4 CIDR such as 192.168.0.0/16',
    ],
    [
      'an IPv6 CIDR',
      { cells: [{ serviceCIDR: 'fd00:10:96::/112' }] },
      'cells[0].serviceCIDR in m.yaml: "fd00:10:96::/112" is not allowed; it is an IPv6 CIDR; an IPv4 CIDR is expected; allowed: an IPv4 CIDR such as 192.168.0.0/16',
    ],
    [
      'a number out of range',
      { blockSize: 19 },
      'blockSize in m.yaml: 19 is not allowed; allowed: an integer from 20 to 32 (Calico rejects other IPv4 block sizes)',
    ],
    [
      'a number written as a string',
      { workers: '2' },
      'workers in m.yaml: "2" is not allowed; allowed: an integer from 1 to 20 (cross-node tests need at least one worker)',
    ],
    [
      'a boolean as a word',
      { natOutgoing: 'yes' },
      'natOutgoing in m.yaml: "yes" is not allowed; allowed: true, false',
    ],
    [
      'a registry with a scheme',
      { imageRegistry: 'https://quay.io' },
      'imageRegistry in m.yaml: "https://quay.io" is not allowed; allowed: a registry host with optional port and path, e.g. quay.io or mirror.local:5000/calico',
    ],
    [
      'an image with a space',
      { nodeImage: 'kindest/node v1' },
      'nodeImage in m.yaml: "kindest/node v1" is not allowed; allowed: a kind node image reference such as kindest/node:v1.35.0@sha256:…',
    ],
    [
      'cells not a list',
      { cells: 'IPIP' },
      'cells in m.yaml: "IPIP" is not allowed; allowed: a non-empty list of cell mappings',
    ],
    [
      'no cells',
      { cells: [] },
      'cells in m.yaml: [] is not allowed; allowed: a non-empty list of cell mappings',
    ],
    [
      'a cell not a mapping',
      { cells: ['IPIP'] },
      'cells[0] in m.yaml: "IPIP" is not allowed; allowed: a mapping of cell options',
    ],
    [
      'two bad keys: the first in the document',
      { topology: 'mesh', install: 'helm' },
      'topology in m.yaml: "mesh" is not allowed; allowed: flat, split-subnet',
    ],
  ];
  it.each(table)('%s', (_name, config, expected) => {
    const text = message(config);
    expect(text).toBe(expected);
    // ajv's own words never reach the user
    expect(text).not.toMatch(
      /must (be (equal|string|integer|boolean|array|object|[<>]=)|match (pattern|format|"then"|"else")|NOT have)|instancePath|schemaPath/,
    );
  });

  it('checks the whole file, also a value a flag overrides', () => {
    expect(() => buildMatrix({ config: { workers: 0 }, flags: { workers: '1' } })).toThrow(
      /^workers in the config: 0 is not allowed/,
    );
  });
});
