import { describe, expect, it } from 'vitest';
import { DEFAULT_CALICO_VERSION } from '../../../harness/config/catalogue.js';
import { DEFAULTS } from '../../../harness/config/cell.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { ConfigError, UsageError } from '../../../harness/errors.js';

function fails(input: Parameters<typeof buildMatrix>[0]): UsageError {
  try {
    buildMatrix(input);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected buildMatrix to reject the input');
}

describe('default matrix', () => {
  const cells = buildMatrix();

  it('is both install paths × all five encapsulations on the newest stable version', () => {
    expect(cells).toHaveLength(10);
    expect(DEFAULT_CALICO_VERSION).toBe('v3.32.1');
    expect(new Set(cells.map((c) => c.calicoVersion))).toEqual(new Set(['v3.32.1']));
    expect(cells.map((c) => `${c.install}/${c.encapsulation}`)).toEqual([
      'manifest/IPIP',
      'manifest/VXLAN',
      'manifest/IPIPCrossSubnet',
      'manifest/VXLANCrossSubnet',
      'manifest/None',
      'operator/IPIP',
      'operator/VXLAN',
      'operator/IPIPCrossSubnet',
      'operator/VXLANCrossSubnet',
      'operator/None',
    ]);
  });

  it('uses the documented defaults', () => {
    for (const c of cells) {
      expect(c).toMatchObject({
        podCIDR: '192.168.0.0/16',
        serviceCIDR: '10.96.0.0/12',
        ipPoolCIDR: '192.168.0.0/16',
        blockSize: 26,
        natOutgoing: true,
        workers: 2,
        topology: 'flat',
        nodeImage: DEFAULTS.nodeImage,
      });
      expect(c.imageRegistry).toBeUndefined();
    }
  });

  it('turns BGP off exactly for the VXLAN modes', () => {
    const bgp = Object.fromEntries(
      cells.filter((c) => c.install === 'operator').map((c) => [c.encapsulation, c.bgp]),
    );
    expect(bgp).toEqual({
      IPIP: 'Enabled',
      VXLAN: 'Disabled',
      IPIPCrossSubnet: 'Enabled',
      VXLANCrossSubnet: 'Disabled',
      None: 'Enabled',
    });
  });

  it('gives every cell a distinct readable id', () => {
    expect(new Set(cells.map((c) => c.id)).size).toBe(10);
    expect(cells[0]!.id).toBe('v3.32.1-manifest-ipip');
  });
});

describe('flags and config', () => {
  it('expands comma-separated flag lists into the cartesian product', () => {
    const cells = buildMatrix({
      flags: {
        calicoVersion: 'v3.28.5,v3.30.7',
        install: 'operator',
        encapsulation: 'VXLAN,None',
        blockSize: '24,26',
      },
    });
    expect(cells).toHaveLength(8);
    expect(cells.map((c) => c.id)).toContain('v3.30.7-operator-none-bs24');
  });

  it('lets flags override the config file', () => {
    const cells = buildMatrix({
      config: { install: 'manifest', encapsulation: ['IPIP', 'VXLAN'], workers: 3 },
      flags: { workers: '1' },
    });
    expect(cells).toHaveLength(2);
    expect(cells.every((c) => c.workers === 1 && c.install === 'manifest')).toBe(true);
  });

  it('takes explicit cells from the config, each over the file top level', () => {
    const cells = buildMatrix({
      config: {
        calicoVersion: 'v3.31.7',
        cells: [
          { install: 'manifest', encapsulation: 'IPIP' },
          { install: 'operator', encapsulation: 'VXLAN', natOutgoing: false },
        ],
      },
    });
    expect(cells.map((c) => c.id)).toEqual(['v3.31.7-manifest-ipip', 'v3.31.7-operator-vxlan-nonat']);
  });

  it('reads booleans and numbers from YAML and from flag text alike', () => {
    const a = buildMatrix({
      config: { install: 'manifest', encapsulation: 'None', natOutgoing: false, blockSize: 28 },
    });
    const b = buildMatrix({
      flags: { install: 'manifest', encapsulation: 'None', natOutgoing: 'false', blockSize: '28' },
    });
    expect(a).toEqual(b);
  });

  it('canonicalises and accepts an IP pool inside the pod CIDR on the operator path', () => {
    const [cell] = buildMatrix({
      flags: {
        install: 'operator',
        encapsulation: 'VXLAN',
        podCIDR: '10.244.0.0/16',
        ipPoolCIDR: '10.244.128.0/17',
      },
    });
    expect(cell!.ipPoolCIDR).toBe('10.244.128.0/17');
  });
});

describe('validation: every rule names the field, the bad value and what is allowed', () => {
  it('rejects an unknown install path', () => {
    const e = fails({ flags: { install: 'helm' } });
    expect(e.message).toMatch(/^--install: "helm" is not allowed; allowed: manifest, operator/);
  });

  it('rejects an unknown encapsulation and suggests the right spelling', () => {
    const e = fails({ flags: { encapsulation: 'vxlan' } });
    expect(e.message).toContain('--encapsulation: "vxlan"');
    expect(e.message).toContain('IPIP, VXLAN, IPIPCrossSubnet, VXLANCrossSubnet, None');
    expect(e.message).toContain('did you mean VXLAN?');
  });

  it.each([
    ['192.168.0.0', 'is not of the form'],
    ['192.168.0.0/40', 'prefix length'],
    ['300.1.0.0/16', 'is not of the form'],
    ['192.168.1.0/16', 'host bits'],
  ])('rejects the malformed pod CIDR %s', (cidr, reason) => {
    const e = fails({ flags: { podCIDR: cidr } });
    expect(e.message).toContain(`--pod-cidr: "${cidr}"`);
    expect(e.message).toContain(reason);
    expect(e.field).toBe('--pod-cidr');
  });

  it('rejects an IPv6 CIDR where an IPv4 one is expected', () => {
    const e = fails({ flags: { serviceCIDR: 'fd00:10:96::/112' } });
    expect(e.message).toContain('--service-cidr');
    expect(e.message).toContain('IPv6');
  });

  it('rejects pod and service CIDRs that overlap', () => {
    const e = fails({ flags: { podCIDR: '10.0.0.0/8' } });
    expect(e.message).toContain('serviceCIDR (default; set it with --service-cidr)');
    expect(e.message).toContain('does not overlap the pod CIDR 10.0.0.0/8');
  });

  it('rejects a pod CIDR smaller than /24 because kind hangs', () => {
    const e = fails({ flags: { podCIDR: '192.168.0.0/25' } });
    expect(e.message).toContain('/24 or larger');
    expect(e.message).toContain('kind hang');
  });

  it.each(['19', '33', 'x', '26.5'])('rejects block size %s outside 20–32', (bs) => {
    const e = fails({ flags: { blockSize: bs } });
    expect(e.message).toContain(`--block-size: "${bs}"`);
    expect(e.message).toContain('20 to 32');
  });

  it('rejects a block bigger than the pool', () => {
    const e = fails({ flags: { podCIDR: '192.168.0.0/24', blockSize: '22' } });
    expect(e.message).toContain('--block-size: "22"');
    expect(e.message).toContain('bigger than the pool 192.168.0.0/24');
  });

  it('rejects an operator pool outside the pod CIDR (the operator would report it Degraded)', () => {
    const e = fails({ flags: { install: 'operator', encapsulation: 'VXLAN', ipPoolCIDR: '10.200.0.0/16' } });
    expect(e.message).toContain('--ip-pool-cidr: "10.200.0.0/16"');
    expect(e.message).toContain('inside the pod CIDR 192.168.0.0/16');
  });

  it('accepts a pool outside the pod CIDR on the manifest path, where nothing checks it', () => {
    expect(
      buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN', ipPoolCIDR: '10.200.0.0/16' } }),
    ).toHaveLength(1);
  });

  it.each(['0', '-1', 'two'])('rejects %s workers', (w) => {
    const e = fails({ flags: { workers: w } });
    expect(e.message).toContain(`--workers: "${w}"`);
    expect(e.message).toContain('at least one worker');
  });

  it.each(['IPIP', 'None', 'IPIPCrossSubnet'])(
    'rejects %s with BGP disabled on operator versions ≤ v3.31',
    (encap) => {
      const e = fails({
        flags: { install: 'operator', encapsulation: encap, bgp: 'Disabled', calicoVersion: 'v3.31.7' },
      });
      expect(e.message).toContain('--bgp: "Disabled"');
      expect(e.message).toContain('v1.40.15 rejects');
    },
  );

  it('accepts IPIP without BGP on v3.32 (clusterRoutingMode Felix) but not None', () => {
    expect(
      buildMatrix({
        flags: { install: 'operator', encapsulation: 'IPIP', bgp: 'Disabled', calicoVersion: 'v3.32.1' },
      }),
    ).toHaveLength(1);
    expect(
      fails({
        flags: { install: 'operator', encapsulation: 'None', bgp: 'Disabled', calicoVersion: 'v3.32.1' },
      }).message,
    ).toContain('--bgp');
  });

  it('rejects BGP disabled for a non-VXLAN mode on the manifest path', () => {
    expect(
      fails({ flags: { install: 'manifest', encapsulation: 'IPIP', bgp: 'Disabled' } }).message,
    ).toContain('bird backend');
  });

  it.each(['3.28.5', 'v3.28', 'latest'])('rejects the malformed Calico version %s', (v) => {
    const e = fails({ flags: { calicoVersion: v } });
    expect(e.message).toContain(`--calico-version: "${v}"`);
    expect(e.message).toContain('vX.Y.Z or master');
  });

  it('rejects a well-formed version that is not catalogued and says how to add one', () => {
    const e = fails({ flags: { calicoVersion: 'v3.25.0' } });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain('catalogued version');
    expect(e.message).toContain('harness/config/catalogue.ts');
  });

  it('rejects duplicate cells', () => {
    const e = fails({ flags: { install: 'manifest,manifest', encapsulation: 'IPIP' } });
    expect(e.message).toContain('duplicate cell v3.32.1-manifest-ipip');
  });

  it('rejects duplicate explicit cells in a config', () => {
    const e = fails({
      config: {
        cells: [
          { install: 'operator', encapsulation: 'VXLAN' },
          { install: 'operator', encapsulation: 'VXLAN' },
        ],
      },
    });
    expect(e.message).toContain('duplicate cell');
  });

  it('rejects unknown config keys and lists the allowed ones', () => {
    const e = fails({ config: { podCidr: '10.244.0.0/16' }, configFile: 'm.yaml' });
    expect(e.message).toContain('podCidr in m.yaml: unknown config key');
    expect(e.message).toContain('podCIDR');
  });

  it('rejects unknown keys inside explicit cells', () => {
    expect(fails({ config: { cells: [{ mode: 'IPIP' }] } }).message).toContain('cells[0].mode');
  });

  it('rejects a config that is not a mapping', () => {
    expect(fails({ config: ['IPIP'] }).message).toContain('YAML mapping');
  });

  it('rejects a topology outside the list, and split-subnet ranges that collide with the pod CIDR', () => {
    expect(fails({ flags: { topology: 'mesh' } }).message).toContain('allowed: flat, split-subnet');
    expect(fails({ flags: { topology: 'split-subnet', podCIDR: '10.250.0.0/16' } }).message).toContain(
      '10.250.1.0/24',
    );
  });

  it('rejects a non-boolean natOutgoing, an empty list item, and a malformed registry', () => {
    expect(fails({ flags: { natOutgoing: 'yes' } }).message).toContain('allowed: true, false');
    expect(fails({ flags: { encapsulation: 'IPIP,' } }).message).toContain('without empty items');
    expect(fails({ flags: { imageRegistry: 'https://quay.io' } }).message).toContain('--image-registry');
  });
});
