/** The results fixture (test/fixtures/results/run-results.json), a fresh copy per call. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RunResults } from '../../../harness/model/results.js';
import { normaliseResults } from '../../../harness/report/write.js';

export const RESULTS_FIXTURE = resolve(import.meta.dirname, '../../fixtures/results/run-results.json');

export function loadFixture(): RunResults {
  return normaliseResults(JSON.parse(readFileSync(RESULTS_FIXTURE, 'utf8')), RESULTS_FIXTURE);
}

export const HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script> & | `tick` *bold* \x1b[31m';
