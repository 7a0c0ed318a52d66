/**
 * The lab's parts from its lock: the Calico every cell runs and, as an optional part, the older Calico an
 * `upgrade --lab` starts from, built by the same steps parameterised by version (names suffixed with it,
 * binaries in their own folder, images tagged as that release's manifests name them, the catalogue's files
 * for that version). The lab is complete without the optional parts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { getVersion } from '../../../harness/config/catalogue.js';
import { labCalicoBuilds, labCalicoImages, labPaths, readLabLock } from '../../../harness/lab/lock.js';
import { type LabPart, labComplete, missingForCalicoVersion } from '../../../harness/lab/status.js';
import {
  allSteps,
  CALICO_COMMANDS,
  calicoBinDir,
  calicoVersionLdflags,
  makeContext,
  manifestFiles,
} from '../../../lab/build.js';

const lock = readLabLock();
const ctx = makeContext(() => {});

describe('the lab parts of its two Calico builds', () => {
  const steps = allSteps(lock);
  const byName = new Map(steps.map((s) => [s.name, s]));

  it('the default build keeps its step names and is required; the older one is optional with its version', () => {
    for (const n of ['calico', 'manifests', 'images-calico']) {
      expect(byName.get(n)?.optional, n).toBeUndefined();
      expect(byName.get(n)?.calicoVersion, n).toBeUndefined();
    }
    for (const n of ['calico-v3.30.1', 'manifests-v3.30.1', 'images-calico-v3.30.1']) {
      const s = byName.get(n);
      expect(s?.calicoVersion, n).toBe('v3.30.1');
      expect(s?.optional, n).toBe(
        'the upgrade path only: `upgrade --lab --from v3.30.1 --to v3.31.0` starts from it; every other cell runs v3.31.0',
      );
    }
    // one step per part: no second copy of a build under another name
    expect(steps.filter((s) => s.name.startsWith('calico')).map((s) => s.name)).toEqual([
      'calico',
      'calico-v3.30.1',
    ]);
  });

  it('each build has its own binaries folder with the same commands, built at its own commit', () => {
    const [main, older] = labCalicoBuilds(lock);
    expect(main && calicoBinDir(ctx.paths, main)).toBe(`${labPaths().bin}/calico`);
    expect(older && calicoBinDir(ctx.paths, older)).toBe(`${labPaths().bin}/calico-v3.30.1`);
    expect(byName.get('calico-v3.30.1')?.outputs(ctx)).toEqual(
      CALICO_COMMANDS.map((c) => `${labPaths().bin}/calico-v3.30.1/${c.name}`),
    );
    expect(byName.get('calico-v3.30.1')?.key(ctx)).toEqual(lock.calicoUpgradeFrom);
    // the default build's key is the lock's calico entry as before: a built lab is not rebuilt
    expect(byName.get('calico')?.key(ctx)).toEqual(lock.calico);
  });

  it("images are tagged under each release's manifest registry (docker.io up to v3.30, quay.io from v3.31)", () => {
    const [main, older] = labCalicoBuilds(lock);
    expect(older && labCalicoImages(older.calico).node).toBe('docker.io/calico/node:v3.30.1');
    expect(older?.calico.registry).toBe(getVersion('v3.30.1').manifestRegistry);
    expect(main?.calico.registry).toBe(getVersion('v3.31.0').manifestRegistry);
    expect(byName.get('images-calico-v3.30.1')?.images?.(ctx)).toEqual([
      'docker.io/calico/node:v3.30.1',
      'docker.io/calico/cni:v3.30.1',
      'docker.io/calico/kube-controllers:v3.30.1',
      'docker.io/calico/typha:v3.30.1',
      'docker.io/calico/apiserver:v3.30.1',
    ]);
  });

  it("the manifests are the catalogue's files of each version (v3.30 has no custom-resources-bpf.yaml)", () => {
    expect(manifestFiles('v3.30.1')).not.toContain('custom-resources-bpf.yaml');
    expect(manifestFiles('v3.31.0')).toContain('custom-resources-bpf.yaml');
    expect(byName.get('manifests-v3.30.1')?.outputs(ctx)).toEqual(
      manifestFiles('v3.30.1').map((f) => `${labPaths().manifests}/v3.30.1/${f}`),
    );
    for (const v of [lock.calico.version, lock.calicoUpgradeFrom?.version ?? '']) {
      expect(getVersion(v).manifestOrigin, v).toBe('go-module');
    }
  });

  it('a lock without the older Calico has no such parts', () => {
    const { calicoUpgradeFrom: _o, ...without } = lock;
    expect(allSteps(without).some((s) => s.calicoVersion !== undefined)).toBe(false);
  });
});

describe("the lab's status with the optional parts", () => {
  const part = (name: string, built: boolean, extra: Partial<LabPart> = {}): LabPart => ({
    name,
    built,
    detail: built ? 'built' : 'never built',
    ...extra,
  });
  const older = { optional: 'the upgrade path only', calicoVersion: 'v3.30.1' };
  const parts = [
    part('calico', true),
    part('images-calico', true),
    part('operator', false, { optional: 'the operator path only' }),
    part('calico-v3.30.1', false, older),
    part('images-calico-v3.30.1', true, older),
  ];

  it('complete without the older Calico (CI requires the lab on this, unchanged); incomplete without a required part', () => {
    expect(labComplete(parts)).toBe(true);
    expect(labComplete([...parts, part('image-node', false)])).toBe(false);
  });

  it("names the older Calico's parts that are not built, none for another version", () => {
    expect(missingForCalicoVersion({ root: '/lab', complete: true, parts }, 'v3.30.1')).toEqual([
      'calico-v3.30.1 (never built)',
    ]);
    expect(missingForCalicoVersion({ root: '/lab', complete: true, parts }, 'v3.31.0')).toEqual([]);
  });
});

describe('the version stamps of each Calico build', () => {
  it('carry both schemes: v3.31 pkg/buildinfo and the per-component variables up to v3.30', () => {
    const ld = calicoVersionLdflags({
      version: 'v3.30.1',
      pseudoVersion: 'v0.0.0-20250529224300-393b14e729a6',
    });
    for (const x of [
      '-X github.com/projectcalico/calico/pkg/buildinfo.Version=v3.30.1',
      '-X github.com/projectcalico/calico/node/pkg/lifecycle/startup.VERSION=v3.30.1',
      '-X github.com/projectcalico/calico/node/buildinfo.GitVersion=v3.30.1',
      '-X github.com/projectcalico/calico/calicoctl/calicoctl/commands.VERSION=v3.30.1',
      '-X main.VERSION=v3.30.1',
    ])
      expect(ld).toContain(x);
  });

  // the built binaries, where the lab has them: what each says its version is
  for (const b of labCalicoBuilds(lock)) {
    const dir = calicoBinDir(ctx.paths, b);
    const built = CALICO_COMMANDS.every((c) => existsSync(join(dir, c.name)));
    it.skipIf(!built)(
      `${b.calico.version}: calico-node, calicoctl and kube-controllers say ${b.calico.version}${built ? '' : ' [skipped: not built]'}`,
      async () => {
        const node = await execa(join(dir, 'calico-node'), ['-v'], { reject: false });
        expect(node.stdout).toContain(b.calico.version);
        const ctl = await execa(join(dir, 'calicoctl'), ['version', '--client'], { reject: false });
        expect(ctl.stdout).toMatch(
          new RegExp(`Client Version:\\s+${b.calico.version.replaceAll('.', '\\.')}`),
        );
        const kc = await execa(join(dir, 'kube-controllers'), ['--version'], { reject: false });
        expect(kc.stdout).toContain(b.calico.version);
      },
    );
  }
});
