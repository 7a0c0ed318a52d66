import { describe, expect, it } from 'vitest';
import {
  imagesForCell,
  imagesInFiles,
  operatorComponentImages,
  preloadImages,
} from '../../../harness/cluster/images.js';
import { getVersion } from '../../../harness/config/catalogue.js';
import { describeFixtures, readFixture } from '../../support/fixtures.js';
import { FakeRunner } from './fake-runner.js';

describe('imagesInFiles', () => {
  it("collects the images of Pods and of workloads' pod templates once each, ignoring comments and other objects", () => {
    const files = [
      {
        name: 'calico.yaml',
        content: `apiVersion: v1
kind: ConfigMap
metadata: {name: notes}
data:
  readme: "image: docker.io/not/an-image:v0"
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node}
spec:
  template:
    spec:
      initContainers:
        - name: install-cni
          image: docker.io/calico/cni:v3.24.0
      containers:
        - name: calico-node
          image: "docker.io/calico/node:v3.24.0"
        # image: docker.io/calico/commented:v0
        - image: docker.io/calico/cni:v3.24.0
          name: again
`,
      },
      {
        name: 'x.yaml',
        content: `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: 'quay.io/tigera/operator:v1.38.13'}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: j}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: busybox:1.36}]}}}}}
`,
      },
    ];
    expect(imagesInFiles(files)).toEqual([
      'docker.io/calico/cni:v3.24.0',
      'docker.io/calico/node:v3.24.0',
      'quay.io/tigera/operator:v1.38.13',
      'busybox:1.36',
    ]);
  });
});

describeFixtures('imagesInFiles on the real upstream manifests', () => {
  it("v3.30.7's calico.yaml runs cni, node and kube-controllers; its tigera-operator.yaml runs the operator", () => {
    const read = (file: string) => ({ name: file, content: readFixture('v3.30.7', file) });
    expect(imagesInFiles([read('calico.yaml')])).toEqual([
      'docker.io/calico/cni:v3.30.7',
      'docker.io/calico/node:v3.30.7',
      'docker.io/calico/kube-controllers:v3.30.7',
    ]);
    expect(imagesInFiles([read('tigera-operator.yaml')])).toEqual([
      expect.stringMatching(/^quay\.io\/tigera\/operator:v1\.38\.\d+$/),
    ]);
  });
});

describe('operatorComponentImages', () => {
  it("uses the operator's registry for the version, or --image-registry", () => {
    expect(operatorComponentImages(getVersion('v3.24.0'))[0]).toBe('docker.io/calico/node:v3.24.0');
    expect(operatorComponentImages(getVersion('v3.30.7'))[0]).toBe('quay.io/calico/node:v3.30.7');
    const mirrored = operatorComponentImages(getVersion('v3.30.7'), 'mirror.example:5000');
    expect(mirrored.every((i) => i.startsWith('mirror.example:5000/'))).toBe(true);
    expect(operatorComponentImages(getVersion('v3.30.7'), undefined, { goldmaneWhisker: true })).toContain(
      'quay.io/calico/goldmane:v3.30.7',
    );
    expect(
      operatorComponentImages(getVersion('v3.29.7'), undefined, { goldmaneWhisker: true }).join(),
    ).not.toContain('goldmane');
  });
});

describe('imagesForCell', () => {
  const files = [
    {
      name: 'tigera-operator.yaml',
      content:
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: tigera-operator}\nspec:\n  template:\n    spec:\n      containers:\n        - image: quay.io/tigera/operator:v1.38.13\n',
    },
  ];
  it('manifest: only what the files name; operator: plus the components, deduplicated', () => {
    const v = getVersion('v3.30.7');
    expect(imagesForCell({ install: 'manifest' }, { files }, v)).toEqual([
      'quay.io/tigera/operator:v1.38.13',
    ]);
    const op = imagesForCell({ install: 'operator' }, { files }, v);
    expect(op[0]).toBe('quay.io/tigera/operator:v1.38.13');
    expect(op).toContain('quay.io/calico/node:v3.30.7');
    expect(new Set(op).size).toBe(op.length);
    expect(imagesForCell({ install: 'operator', imageRegistry: 'reg.local' }, { files }, v)).toContain(
      'reg.local/calico/node:v3.30.7',
    );
  });

  it('operator: the Goldmane and Whisker images exactly when the rendered custom resources create them', () => {
    const v = getVersion('v3.30.7');
    const crs = (kinds: string[]) => ({
      name: 'custom-resources.yaml',
      content: kinds
        .map((k) => `apiVersion: operator.tigera.io/v1\nkind: ${k}\nmetadata:\n  name: default\n`)
        .join('---\n'),
    });
    const all = imagesForCell(
      { install: 'operator' },
      { files: [...files, crs(['Installation', 'APIServer', 'Goldmane', 'Whisker'])] },
      v,
    );
    for (const i of ['goldmane', 'whisker', 'whisker-backend'])
      expect(all).toContain(`quay.io/calico/${i}:v3.30.7`);
    const trimmed = imagesForCell(
      { install: 'operator' },
      { files: [...files, crs(['Installation', 'APIServer'])] },
      v,
    );
    expect(trimmed.filter((i) => /goldmane|whisker/.test(i))).toEqual([]);
  });
});

describe('preloadImages', () => {
  it('pulls each image once on the host, then loads them into the cluster with one kind load', async () => {
    const runner = new FakeRunner();
    const r = await preloadImages({
      clusterName: 'cc-a-000001',
      images: ['a:v1', 'b:v2'],
      pull: true,
      runner,
    });
    expect(runner.lines()).toEqual([
      'docker pull a:v1',
      'docker pull b:v2',
      'kind load docker-image a:v1 b:v2 --name cc-a-000001',
    ]);
    expect(r).toEqual({ loaded: ['a:v1', 'b:v2'], failed: [] });
  });

  it('without pulling, loads only images present on the host and names the rest', async () => {
    const runner = new FakeRunner().on((l) => l.includes('image inspect') && l.endsWith('b:v2'), {
      exitCode: 1,
    });
    const r = await preloadImages({ clusterName: 'cc-a-000001', images: ['a:v1', 'b:v2'], runner });
    expect(r.loaded).toEqual(['a:v1']);
    expect(r.failed).toEqual([{ image: 'b:v2', reason: expect.stringMatching(/not present on the host/) }]);
    expect(runner.lines().filter((l) => l.startsWith('kind'))).toEqual([
      'kind load docker-image a:v1 --name cc-a-000001',
    ]);
  });

  it('reports a rate-limited pull and a failed load with their messages', async () => {
    const runner = new FakeRunner()
      .on((l) => l === 'docker pull a:v1', {
        exitCode: 1,
        stderr: 'toomanyrequests: You have reached your pull rate limit',
      })
      .on((l) => l.startsWith('kind load'), {
        exitCode: 1,
        stderr: 'ERROR: image: "b:v2" not present locally',
      });
    const r = await preloadImages({
      clusterName: 'cc-a-000001',
      images: ['a:v1', 'b:v2'],
      pull: true,
      runner,
    });
    expect(r.loaded).toEqual([]);
    expect(r.failed).toEqual([
      { image: 'a:v1', reason: 'docker pull failed: toomanyrequests: You have reached your pull rate limit' },
      { image: 'b:v2', reason: 'kind load failed: ERROR: image: "b:v2" not present locally' },
    ]);
  });

  it('a combined load that fails is retried one image at a time, naming the image that cannot load', async () => {
    const runner = new FakeRunner()
      .on((l) => l === 'kind load docker-image a:v1 b:v2 c:v3 --name cc-a-000001', {
        exitCode: 1,
        stderr: 'ERROR: failed to load',
      })
      .on((l) => l === 'kind load docker-image b:v2 --name cc-a-000001', {
        exitCode: 1,
        stderr: 'ERROR: ctr: content digest mismatch',
      });
    const r = await preloadImages({ clusterName: 'cc-a-000001', images: ['a:v1', 'b:v2', 'c:v3'], runner });
    expect(runner.lines().filter((l) => l.startsWith('kind'))).toEqual([
      'kind load docker-image a:v1 b:v2 c:v3 --name cc-a-000001',
      'kind load docker-image a:v1 --name cc-a-000001',
      'kind load docker-image b:v2 --name cc-a-000001',
      'kind load docker-image c:v3 --name cc-a-000001',
    ]);
    expect(r).toEqual({
      loaded: ['a:v1', 'c:v3'],
      failed: [{ image: 'b:v2', reason: 'kind load failed: ERROR: ctr: content digest mismatch' }],
    });
  });
});
