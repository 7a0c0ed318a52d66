/**
 * verify-dump/: what the mode verification read, written by the mode suite and read back for offline
 * verification (harness/verify/evidence.ts). Round trip on each mode's expected state: verifyMode gives the
 * same results on what was read back as on what was written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENCAPSULATIONS } from '../../../harness/config/catalogue.js';
import {
  readVerifyEvidence,
  VERIFY_INPUT_FILE,
  writeVerifyEvidence,
} from '../../../harness/verify/evidence.js';
import { verifyMode } from '../../../harness/verify/mode.js';
import { cellFor, expectedInput, FLAT } from './mode-state.js';

const root = mkdtempSync(join(tmpdir(), 'cc-verify-evidence-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('verify-dump round trip', () => {
  for (const mode of ENCAPSULATIONS) {
    it(`${mode}: node dumps as the audit's node-dump files, the rest in ${VERIFY_INPUT_FILE}; verification reads back the same`, () => {
      const input = expectedInput(mode, FLAT);
      const dir = writeVerifyEvidence(join(root, mode), input);
      for (const n of FLAT) expect(existsSync(join(dir, n.name, 'ip-route.json')), n.name).toBe(true);
      const json = JSON.parse(readFileSync(join(dir, VERIFY_INPUT_FILE), 'utf8')) as {
        nodes: Record<string, unknown>[];
      };
      expect(json.nodes.every((n) => !('dump' in n))).toBe(true);
      const back = readVerifyEvidence(dir);
      expect(back.nodes.map((n) => n.dump.files)).toEqual(input.nodes.map((n) => n.dump.files));
      expect(verifyMode(cellFor(mode), back)).toEqual(verifyMode(cellFor(mode), input));
    });
  }

  it('a directory without verify-input.json is an error that names the file', () => {
    expect(() => readVerifyEvidence(join(root, 'none-such'))).toThrow(/verify-input\.json does not exist/);
  });
});
