/**
 * Is the lab built on this machine? Asks the build's own step list (lab/build.ts), so a part added to the
 * build is a part the status checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execaSync } from 'execa';
import { EnvironmentError } from '../errors.js';
import { labPaths } from './lock.js';

export interface LabPart {
  name: string;
  built: boolean;
  detail?: string;
  /** why the lab is complete without this part (only the cells that need it are refused) */
  optional?: string;
  /** set on the parts of an optional Calico build (the one `upgrade --lab` starts from): its version */
  calicoVersion?: string;
}

export interface LabStatus {
  root: string;
  complete: boolean;
  parts: LabPart[];
}

export async function labStatus(): Promise<LabStatus> {
  const paths = labPaths();
  const { allSteps, makeContext, stepIsBuilt } = await import('../../lab/build.js');
  const ctx = makeContext(() => {});
  const parts: LabPart[] = [];
  let dockerAnswers: boolean | undefined;
  const docker = () =>
    (dockerAnswers ??=
      execaSync('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false, timeout: 30_000 })
        .exitCode === 0);
  for (const step of allSteps()) {
    const stamp = join(paths.stamps, `${step.name}.json`);
    let built = false;
    let detail: string | undefined;
    try {
      built = stepIsBuilt(ctx, step);
      if (built) {
        const s = JSON.parse(readFileSync(stamp, 'utf8')) as { builtAt?: string; seconds?: number };
        detail = `built ${s.builtAt ?? '?'} in ${Math.round(s.seconds ?? 0)} s`;
      } else if (step.images && existsSync(stamp) && !docker())
        // the images live in docker: a stopped dockerd is not a lab to rebuild
        detail = 'its images cannot be checked: docker is not answering (start dockerd)';
      else
        detail = existsSync(stamp)
          ? 'out of date (its inputs changed) or its outputs are gone'
          : 'never built';
    } catch (err) {
      detail = `cannot tell: ${(err as Error).message.split('\n')[0]}`;
    }
    parts.push({
      name: step.name,
      built,
      ...(detail ? { detail } : {}),
      ...(step.optional ? { optional: step.optional } : {}),
      ...(step.calicoVersion ? { calicoVersion: step.calicoVersion } : {}),
    });
  }
  return { root: paths.root, complete: labComplete(parts), parts };
}

/** The lab is complete when every part is built but the optional ones (the operator, the upgrade's older Calico). */
export function labComplete(parts: readonly LabPart[]): boolean {
  return parts.every((p) => p.built || p.optional !== undefined);
}

/** The optional parts a set of cells needs that are not built: `part — why` lines (the operator path). */
export function missingForCells(s: LabStatus, cells: readonly { install: string }[]): string[] {
  if (!cells.some((c) => c.install === 'operator')) return [];
  return s.parts
    .filter((p) => !p.built && p.optional && p.name.includes('operator'))
    .map((p) => `${p.name} (${p.optional})`);
}

/**
 * The install paths a lab cannot run for these cells, with the reason: the operator path when its optional
 * parts are not built (`missing`: those parts). `all` when no cell is left to run (then it is the environment, exit 3).
 */
export function unavailablePaths(
  s: LabStatus,
  cells: readonly { install: string }[],
): { operator?: string; all: boolean; missing: string[] } {
  const missing = missingForCells(s, cells);
  if (missing.length === 0) return { all: false, missing };
  return {
    operator: `the lab cannot run the operator path: ${missing.join('; ')}`,
    all: cells.every((c) => c.install === 'operator'),
    missing,
  };
}

/** The parts of an optional Calico build of this version that are not built: `part (detail)` lines. */
export function missingForCalicoVersion(s: LabStatus, version: string): string[] {
  return s.parts
    .filter((p) => p.calicoVersion === version && !p.built)
    .map((p) => `${p.name} (${p.detail ?? 'missing'})`);
}

/** For `--lab`: the lab's status, or exit 3 naming what is missing and how to build it. */
export async function requireLab(): Promise<LabStatus> {
  const s = await labStatus();
  if (!s.complete) {
    const missing = s.parts
      .filter((p) => !p.built && !p.optional)
      .map((p) => `${p.name} (${p.detail ?? 'missing'})`);
    throw new EnvironmentError(
      `--lab: the lab is not complete in ${s.root}: missing ${missing.join(', ')}. Build it with \`npm run lab:build\` (a cold build takes about an hour on 2 cores; see README "The lab")`,
      ['lab'],
    );
  }
  return s;
}
