import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeRegistryMirror } from '../../../harness/cluster/registry-mirror.js';
import { DockerTestBed, describeDocker, type TestNode } from '../../support/docker.js';

describeDocker('writeRegistryMirror on docker-backed nodes', () => {
  const bed = new DockerTestBed();
  let nodes: TestNode[];
  beforeAll(async () => {
    nodes = [await bed.node('rm-a', { isolated: true }), await bed.node('rm-b', { isolated: true })];
  });
  afterAll(async () => {
    expect(await bed.dispose()).toEqual([]);
  });

  it("writes containerd's hosts.toml for the registry on every node", async () => {
    const path = await writeRegistryMirror(
      nodes.map((n) => n.shell),
      'docker.io',
      'kind-registry:5000',
    );
    expect(path).toBe('/etc/containerd/certs.d/docker.io/hosts.toml');
    for (const n of nodes) {
      expect(await n.sh(['cat', path])).toBe(
        '[host."http://kind-registry:5000"]\n  capabilities = ["pull", "resolve"]\n',
      );
    }
  });

  it('names the node where writing failed', async () => {
    await nodes[1]!.sh([
      'sh',
      '-c',
      'mkdir -p /etc/containerd/certs.d && touch /etc/containerd/certs.d/quay.io',
    ]);
    await expect(
      writeRegistryMirror([nodes[0]!.shell, nodes[1]!.shell], 'quay.io', 'mirror:5000'),
    ).rejects.toThrow(/^rm-b: creating \/etc\/containerd\/certs.d\/quay.io: .*File exists/);
  });
});
