import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  DockerTestBed,
  describeDocker,
  type NetworkHandle,
  type TestNode,
  vxlanAddArgv,
} from '../support/docker.js';

describeDocker('docker test bed', () => {
  const bed = new DockerTestBed();
  let net: NetworkHandle;
  let node: TestNode;

  beforeAll(async () => {
    net = await bed.network();
    node = await bed.node('n1', { networks: [{ network: net, ip: `${net.prefix}.10` }] });
  });
  afterAll(async () => {
    expect(await bed.dispose()).toEqual([]);
    expect(await bed.remaining()).toEqual([]);
  });

  it('plants a VXLAN device in a node and reads it back with ip -d -j link', async () => {
    await node.sh(vxlanAddArgv('vxlan.calico', 4096));
    await node.sh(['ip', 'link', 'set', 'vxlan.calico', 'up']);
    const links = JSON.parse(await node.sh(['ip', '-d', '-j', 'link', 'show'])) as {
      ifname: string;
      operstate: string;
      linkinfo?: { info_kind: string; info_data?: { id: number; port: number } };
    }[];
    const vx = links.find((l) => l.ifname === 'vxlan.calico');
    expect(vx?.linkinfo?.info_kind).toBe('vxlan');
    expect(vx?.linkinfo?.info_data?.id).toBe(4096);
    expect(vx?.linkinfo?.info_data?.port).toBe(4789);
  });

  it('gives the node the address the test chose, on the subnet the test chose', async () => {
    expect(await node.ip(net)).toBe(`${net.prefix}.10`);
  });

  it('reports a failing command with its exit code through the node shell', async () => {
    const r = await node.shell.exec(['ip', 'link', 'show', 'does-not-exist']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/does not exist/);
  });

  it('removes its containers and networks even when a test body threw', async () => {
    const inner = new DockerTestBed();
    await expect(
      (async () => {
        try {
          const n = await inner.network('inner');
          await inner.node('x', { networks: [{ network: n }] });
          expect(await inner.remaining()).toHaveLength(2);
          throw new Error('test body failed');
        } finally {
          await inner.dispose();
        }
      })(),
    ).rejects.toThrow('test body failed');
    expect(await inner.remaining()).toEqual([]);
  });
});
