/**
 * Gating for the real tier (test/real/): tests that need parts of the lab (`npm run lab:build`, harness/lab)
 * on this machine. A suite names the lab files it needs; it runs where they all exist, fails where
 * REQUIRE_LAB=1 (so a machine that has the lab never skips silently), and elsewhere skips with one line that
 * says what is missing and how to build it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { type LabPaths, labPaths } from '../../harness/lab/lock.js';

export const LAB_BUILD_HINT = 'build it with `npm run lab:build` (`npm run lab:status` says what is missing)';

/** Which lab files a suite needs, as absolute paths under the lab's cache (harness/lab/lock.ts labPaths). */
export type LabNeeds = (paths: LabPaths) => readonly string[];

/** The lab's binaries by name (lab/build.ts puts Kubernetes commands under bin/k8s/, the rest under bin/). */
export function labBinaries(paths: LabPaths = labPaths()) {
  const k8s = (name: string) => join(paths.bin, 'k8s', name);
  return {
    etcd: join(paths.bin, 'etcd'),
    kubeApiserver: k8s('kube-apiserver'),
    kubeControllerManager: k8s('kube-controller-manager'),
    kubeScheduler: k8s('kube-scheduler'),
    kubelet: k8s('kubelet'),
    kubeadm: k8s('kubeadm'),
    kubectl: k8s('kubectl'),
    kind: paths.kind,
  };
}

export interface LabAvailability {
  ok: boolean;
  /** the needed files that do not exist */
  missing: string[];
  /** one line: what is missing and how to build it ('' when ok) */
  reason: string;
  paths: LabPaths;
}

export function labAvailability(needs: LabNeeds, paths: LabPaths = labPaths()): LabAvailability {
  const missing = needs(paths).filter((f) => !existsSync(f));
  const reason = missing.length
    ? `the lab at ${paths.root} lacks ${missing.map((f) => f.replace(`${paths.root}/`, '')).join(', ')}; ${LAB_BUILD_HINT}`
    : '';
  return { ok: missing.length === 0, missing, reason, paths };
}

/**
 * describe() for the real tier: runs `fn` where every file `needs` names exists; where one is missing it is a
 * failing test under REQUIRE_LAB=1 and a skipped suite with the reason in its name elsewhere.
 */
export function describeLab(name: string, needs: LabNeeds, fn: (lab: LabAvailability) => void): void {
  const lab = labAvailability(needs);
  if (lab.ok) {
    describe(name, () => fn(lab));
  } else if (process.env.REQUIRE_LAB === '1') {
    describe(name, () => {
      it('needs the lab (REQUIRE_LAB=1)', () => {
        throw new Error(`REQUIRE_LAB=1 but ${lab.reason}`);
      });
    });
  } else {
    describe.skipIf(true)(`${name} [skipped: ${lab.reason}]`, () => fn(lab));
  }
}
