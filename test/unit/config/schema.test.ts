import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CATALOGUE, ENCAPSULATIONS } from '../../../harness/config/catalogue.js';
import { buildMatrix, CELL_FIELD_NAMES } from '../../../harness/config/matrix.js';

const schema = JSON.parse(readFileSync('schema/config.schema.json', 'utf8'));
const validate = new Ajv({ allErrors: true }).compile(schema);

describe('published config JSON Schema', () => {
  it('describes exactly the keys the loader accepts', () => {
    expect(Object.keys(schema.properties).sort()).toEqual([...CELL_FIELD_NAMES, 'cells', '$schema'].sort());
  });

  it('lists the catalogued versions and the encapsulations of the code', () => {
    const [scalar] = schema.properties.calicoVersion.oneOf;
    expect(scalar.enum).toEqual(CATALOGUE.map((v) => v.version));
    expect(schema.properties.encapsulation.oneOf[0].enum).toEqual([...ENCAPSULATIONS]);
  });

  it.each(['examples/matrix.yaml', 'examples/cells.yaml'])(
    'accepts %s, which the loader also accepts',
    (file) => {
      const doc = parse(readFileSync(file, 'utf8'));
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      expect(buildMatrix({ configFile: file }).length).toBeGreaterThan(0);
    },
  );

  it('rejects what the loader rejects: unknown keys and values outside the enums', () => {
    expect(validate({ podCidr: '10.0.0.0/16' })).toBe(false);
    expect(validate({ encapsulation: 'vxlan' })).toBe(false);
    expect(validate({ blockSize: 19 })).toBe(false);
    expect(validate({ cells: [{ mode: 'IPIP' }] })).toBe(false);
  });
});
