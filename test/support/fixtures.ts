/**
 * The real upstream Calico manifests in ../shared/fixtures/calico/<version>/ (provenance in SOURCES.md).
 * Fixture-backed suites skip with a message where the folder is absent, and fail where REQUIRE_FIXTURES=1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES_DIR =
  process.env.CALICO_FIXTURES_DIR ?? resolve(repoRoot, '..', 'shared', 'fixtures', 'calico');

export function fixturesAvailable(): boolean {
  return existsSync(join(FIXTURES_DIR, 'SOURCES.md'));
}

export function fixturePath(version: string, file: string): string {
  return join(FIXTURES_DIR, version, file);
}

export function readFixture(version: string, file: string): string {
  return readFileSync(fixturePath(version, file), 'utf8');
}

export function describeFixtures(name: string, fn: () => void): void {
  if (fixturesAvailable()) {
    describe(name, fn);
  } else if (process.env.REQUIRE_FIXTURES === '1') {
    describe(name, () => {
      it('needs the Calico fixtures (REQUIRE_FIXTURES=1)', () => {
        throw new Error(`REQUIRE_FIXTURES=1 but ${FIXTURES_DIR}/SOURCES.md is missing`);
      });
    });
  } else {
    describe.skipIf(true)(`${name} [skipped: no fixtures at ${FIXTURES_DIR}]`, fn);
  }
}
