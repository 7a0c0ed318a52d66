/**
 * The real upstream Calico manifests in ../shared/fixtures/calico/<version>/ (provenance in SOURCES.md).
 * Fixture-backed suites skip with a message where the folder is absent, and fail where REQUIRE_FIXTURES=1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { CATALOGUE, type CalicoVersion, findVersion } from '../../harness/config/catalogue.js';
import { labPaths } from '../../harness/lab/lock.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES_DIR =
  process.env.CALICO_FIXTURES_DIR ?? resolve(repoRoot, '..', 'shared', 'fixtures', 'calico');

export function fixturesAvailable(): boolean {
  return existsSync(join(FIXTURES_DIR, 'SOURCES.md'));
}

/**
 * Versions whose manifests come from the Calico Go module (the lab's Calico) are read from the lab's
 * manifests folder, which `npm run lab:build` extracts from that module; elsewhere from ../shared/fixtures.
 */
export function fixturePath(version: string, file: string): string {
  if (findVersion(version)?.manifestOrigin === 'go-module') return join(labPaths().manifests, version, file);
  return join(FIXTURES_DIR, version, file);
}

/**
 * The catalogue entries whose manifests are on this machine: every `github` entry (the shared fixtures),
 * and a `go-module` entry where the lab has extracted its manifests. With REQUIRE_LAB=1 a missing lab
 * entry stays in, so its tests fail instead of vanishing.
 */
export const FIXTURE_CATALOGUE: readonly CalicoVersion[] = CATALOGUE.filter(
  (e) =>
    e.manifestOrigin !== 'go-module' ||
    process.env.REQUIRE_LAB === '1' ||
    e.files.every((f) => existsSync(fixturePath(e.version, f))),
);

/** The folder to hand `--manifests-dir` / LocalDirSource for a version (it holds `<version>/<file>`). */
export function manifestsDirFor(version: string): string {
  return dirname(dirname(fixturePath(version, 'calico.yaml')));
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
