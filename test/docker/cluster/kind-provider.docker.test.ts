/**
 * KindProvider end to end on real containers: the kind CLI is replaced by fake-kind.sh, which makes "node"
 * containers with kind's labels, so create → nodes() (the audit helper's label lookup) → shell() → dispose and
 * the teardown run against real docker. What is not real here is Kubernetes inside the nodes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KindProvider } from '../../../harness/cluster/kind.js';
import { defaultRunner } from '../../../harness/exec/process.js';
import { RunState, readRuns } from '../../../harness/state/run-state.js';
import { Teardown } from '../../../harness/state/teardown.js';
import { DockerTestBed, describeDocker } from '../../support/docker.js';

const FAKE_KIND = join(dirname(fileURLToPath(import.meta.url)), 'fake-kind.sh');
const CONFIG = 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n';

describeDocker('KindProvider with real node containers (fake kind CLI)', () => {
  const tag = randomBytes(3).toString('hex');
  const prev = process.env.FAKE_KIND_TAG;
  const bed = new DockerTestBed();
  let root: string;

  const labelled = async () => {
    const r = await defaultRunner.run('docker', [
      'ps',
      '-a',
      '--filter',
      `label=calico-conformance.test=${tag}`,
      '--format',
      '{{.Names}}',
    ]);
    return r.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean)
      .sort();
  };

  beforeAll(async () => {
    process.env.FAKE_KIND_NETWORK = (await bed.network('kind')).name;
    process.env.FAKE_KIND_TAG = tag;
    root = mkdtempSync(join(tmpdir(), 'cc-fakekind-'));
  });
  afterAll(async () => {
    const left = await labelled();
    if (left.length) await defaultRunner.run('docker', ['rm', '-f', '-v', ...left]);
    rmSync(root, { recursive: true, force: true });
    delete process.env.FAKE_KIND_NETWORK;
    expect(await bed.dispose()).toEqual([]);
    if (prev === undefined) delete process.env.FAKE_KIND_TAG;
    else process.env.FAKE_KIND_TAG = prev;
    expect(left).toEqual([]);
  });

  it('create, find the nodes by kind labels, run commands in them, dispose', async () => {
    const state = new RunState(join(root, 'state-a'));
    const teardown = new Teardown({ state });
    const provider = new KindProvider({ kindCommand: FAKE_KIND, teardown, tmpRoot: root });
    const name = `cc-e2e-${tag}`;
    const handle = await provider.create({ name, kindConfigYaml: CONFIG, nodeImage: 'kindest/node:test' });
    expect(await labelled()).toEqual([`${name}-control-plane`, `${name}-worker`]);
    expect(await provider.list()).toEqual([name]);

    const nodes = await handle.nodes();
    expect(nodes.map((n) => `${n.role} ${n.name}`)).toEqual([
      `control-plane ${name}-control-plane`,
      `worker ${name}-worker`,
    ]);
    for (const n of nodes) expect(n.internalIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const r = await handle.shell(nodes[1]!.name).exec(['hostname']);
    expect(r.stdout.trim()).toBe(`${name}-worker`);

    expect(await handle.dispose({ keep: false })).toEqual([]);
    expect(await labelled()).toEqual([]);
    expect(existsSync(handle.kubeconfigPath)).toBe(false);
    expect(readRuns(state.dir).runs).toEqual([]);
  }, 120_000);

  it('a create refused for an existing name leaves that cluster alone; an interruption then removes ours', async () => {
    const state = new RunState(join(root, 'state-b'));
    const teardown = new Teardown({ state });
    const provider = new KindProvider({ kindCommand: FAKE_KIND, teardown, tmpRoot: root });
    const name = `cc-int-${tag}`;
    const handle = await provider.create({ name, kindConfigYaml: CONFIG, nodeImage: 'kindest/node:test' });
    const other = new RunState(join(root, 'state-c'));
    await expect(
      new KindProvider({
        kindCommand: FAKE_KIND,
        tmpRoot: root,
        teardown: new Teardown({ state: other }),
      }).create({
        name,
        kindConfigYaml: CONFIG,
        nodeImage: 'x',
      }),
    ).rejects.toThrow(/already exists: pick another name/);
    expect(await labelled()).toEqual([`${name}-control-plane`, `${name}-worker`]);
    expect(readRuns(other.dir).runs).toEqual([]); // the refused run claims nothing

    expect(await teardown.run('SIGINT received')).toEqual([]);
    expect(await labelled()).toEqual([]);
    expect(existsSync(handle.kubeconfigPath)).toBe(false);
    expect(readRuns(state.dir).runs).toEqual([]);
  }, 120_000);
});
