/**
 * The renderers on small synthetic manifests shaped like upstream's (the fixture tests cover the real
 * files): each bad input gives a clear error, and the edits land where they should.
 */
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  probeForm,
  renderCell,
  renderManifest,
  renderOperatorResources,
} from '../../../harness/calico/render.js';
import { ManifestError, type ManifestSource } from '../../../harness/calico/source.js';
import { getVersion } from '../../../harness/config/catalogue.js';
import type { Cell } from '../../../harness/config/cell.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { ConfigError, UsageError } from '../../../harness/errors.js';

const LIVE = ['/bin/calico-node', '-felix-live', '-bird-live'];
const READY = ['/bin/calico-node', '-felix-ready', '-bird-ready'];

function calicoYaml(live: unknown = LIVE, ready: unknown = READY): string {
  return `# Source: calico/templates/calico-config.yaml
kind: ConfigMap
apiVersion: v1
metadata:
  name: calico-config
  namespace: kube-system
data:
  calico_backend: "bird"
---
kind: DaemonSet
apiVersion: apps/v1
metadata:
  name: calico-node
  namespace: kube-system
spec:
  selector:
    matchLabels:
      k8s-app: calico-node
  template:
    metadata:
      labels:
        k8s-app: calico-node
    spec:
      containers:
        - name: calico-node
          image: docker.io/calico/node:v3.28.5
          env:
            - name: CALICO_IPV4POOL_IPIP
              value: "Always"
            - name: CALICO_IPV4POOL_VXLAN
              value: "Never"
            - name: CALICO_IPV6POOL_VXLAN
              value: "Never"
            # - name: CALICO_IPV4POOL_CIDR
            #   value: "192.168.0.0/16"
            - name: FELIX_HEALTHENABLED
              value: "true"
          livenessProbe:
            exec:
              command: ${JSON.stringify(live)}
          readinessProbe:
            exec:
              command: ${JSON.stringify(ready)}
---
kind: Deployment
apiVersion: apps/v1
metadata:
  name: calico-kube-controllers
  namespace: kube-system
spec:
  selector:
    matchLabels:
      k8s-app: calico-kube-controllers
  template:
    metadata:
      labels:
        k8s-app: calico-kube-controllers
    spec:
      containers:
        - name: calico-kube-controllers
          image: docker.io/calico/kube-controllers:v3.28.5
`;
}

const entry = getVersion('v3.28.5');

function cell(flags: Record<string, string> = {}): Cell {
  const [c] = buildMatrix({
    flags: { calicoVersion: 'v3.28.5', install: 'manifest', encapsulation: 'IPIP', ...flags },
  });
  return c!;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML in assertions
function parse(text: string): any[] {
  return parseAllDocuments(text).map((d) => d.toJS());
}

describe('renderManifest on a synthetic calico.yaml', () => {
  it('VXLAN: backend vxlan, modes set, pool env added, bird probes removed', () => {
    const out = renderManifest(
      cell({ encapsulation: 'VXLAN', podCIDR: '10.244.0.0/16', blockSize: '24' }),
      calicoYaml(),
      entry,
    );
    const [cm, ds] = parse(out.content);
    expect(cm.data.calico_backend).toBe('vxlan');
    const node = ds.spec.template.spec.containers[0];
    expect(
      Object.fromEntries(node.env.map((e: { name: string; value: string }) => [e.name, e.value])),
    ).toEqual({
      CALICO_IPV4POOL_IPIP: 'Never',
      CALICO_IPV4POOL_VXLAN: 'Always',
      CALICO_IPV6POOL_VXLAN: 'Always',
      FELIX_HEALTHENABLED: 'true',
      CALICO_IPV4POOL_CIDR: '10.244.0.0/16',
      CALICO_IPV4POOL_BLOCK_SIZE: '24',
      CALICO_IPV4POOL_NAT_OUTGOING: 'true',
    });
    expect(node.livenessProbe.exec.command).toEqual(['/bin/calico-node', '-felix-live']);
    expect(node.readinessProbe.exec.command).toEqual(['/bin/calico-node', '-felix-ready']);
    // the upstream comments stay, and the added entries say where they come from
    expect(out.content).toContain('# - name: CALICO_IPV4POOL_CIDR');
    expect(out.content).toContain('# Added by calico-conformance render');
    expect(out.objects.map((o) => o.kind)).toEqual(['ConfigMap', 'DaemonSet', 'Deployment']);
  });

  it('an env entry that already exists is set in place, also when it was a valueFrom', () => {
    const text = calicoYaml().replace(
      '            - name: FELIX_HEALTHENABLED',
      '            - name: CALICO_IPV4POOL_BLOCK_SIZE\n              valueFrom:\n                configMapKeyRef: {name: x, key: y}\n            - name: FELIX_HEALTHENABLED',
    );
    const [, ds] = parse(renderManifest(cell({ blockSize: '28' }), text, entry).content);
    const env = ds.spec.template.spec.containers[0].env;
    expect(env.filter((e: { name: string }) => e.name === 'CALICO_IPV4POOL_BLOCK_SIZE')).toEqual([
      { name: 'CALICO_IPV4POOL_BLOCK_SIZE', value: '28' },
    ]);
  });

  it('split-subnet points IP autodetection at the two node ranges', () => {
    const [, ds] = parse(renderManifest(cell({ topology: 'split-subnet' }), calicoYaml(), entry).content);
    const env = ds.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: 'IP_AUTODETECTION_METHOD',
      value: 'cidr=10.250.1.0/24,10.250.2.0/24',
    });
  });

  it('--image-registry rewrites every Calico image', () => {
    const docs = parse(renderManifest(cell({ imageRegistry: 'quay.io' }), calicoYaml(), entry).content);
    expect(docs[1].spec.template.spec.containers[0].image).toBe('quay.io/calico/node:v3.28.5');
    expect(docs[2].spec.template.spec.containers[0].image).toBe('quay.io/calico/kube-controllers:v3.28.5');
  });

  it('an unknown probe form fails loudly, naming the probe and the command seen', () => {
    const http = calicoYaml(['/bin/calico-node', '-felix-live', '-bird-live', '--extra']);
    expect(() => renderManifest(cell(), http, entry)).toThrow(ManifestError);
    expect(() => renderManifest(cell(), http, entry)).toThrow(
      /unknown form of calico-node's livenessProbe: .*--extra/,
    );
    // master's form in a version whose catalogue entry expects the flag list
    const master = calicoYaml(['calico', 'component', 'node', 'health', '--felix-live', '--bird-live']);
    expect(() => renderManifest(cell(), master, entry)).toThrow(/expects the flag-list form for v3\.28\.5/);
    // a probe without the BIRD flag the mode table must remove
    expect(() => renderManifest(cell(), calicoYaml(['/bin/calico-node', '-felix-live']), entry)).toThrow(
      /unknown form of calico-node's livenessProbe/,
    );
  });

  it('malformed upstream YAML names the file and line', () => {
    const broken = calicoYaml().replace('  calico_backend: "bird"', '  calico_backend: "bird\n   oops: [');
    const err = (() => {
      try {
        renderManifest(cell(), broken, entry);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ManifestError);
    expect(err?.message).toMatch(/v3\.28\.5\/calico\.yaml: malformed YAML at line \d+ column \d+/);
  });

  it('a file that is not calico.yaml says what is missing', () => {
    expect(() =>
      renderManifest(cell(), 'kind: Namespace\napiVersion: v1\nmetadata: {name: x}\n', entry),
    ).toThrow(/no ConfigMap calico-config; this does not look like Calico's calico\.yaml/);
  });

  it('VXLAN modes with BGP Disabled only: IPIP without BIRD is refused', () => {
    const c = { ...cell(), bgp: 'Disabled' as const };
    expect(() => renderManifest(c, calicoYaml(), entry)).toThrow(ConfigError);
  });
});

describe('probe forms', () => {
  it('recognises both upstream forms and nothing else', () => {
    expect(probeForm(LIVE, 'live')).toEqual({ style: 'flag-list', birdFlag: '-bird-live' });
    expect(
      probeForm(['calico', 'component', 'node', 'health', '--felix-ready', '--bird-ready'], 'ready'),
    ).toEqual({
      style: 'component-health',
      birdFlag: '--bird-ready',
    });
    expect(probeForm(['/bin/sh', '-c', 'true'], 'live')).toBeUndefined();
    expect(probeForm(['/bin/calico-node', '-bird-live'], 'live')).toBeUndefined();
    expect(probeForm([1, 2], 'live')).toBeUndefined();
  });
});

describe('renderOperatorResources', () => {
  const opCell = (flags: Record<string, string>) =>
    buildMatrix({ flags: { install: 'operator', ...flags } })[0]!;

  it('sets clusterRoutingMode Felix where the catalogue says IPIP without BGP needs it (v3.32)', () => {
    const c = opCell({ calicoVersion: 'v3.32.1', encapsulation: 'IPIP', bgp: 'Disabled' });
    const r = renderOperatorResources(c, getVersion('v3.32.1'));
    const net = (r.documents[0]!.spec as { calicoNetwork: Record<string, unknown> }).calicoNetwork;
    expect(net.bgp).toBe('Disabled');
    expect(net.clusterRoutingMode).toBe('Felix');
  });

  it('refuses IPIP without BGP on an operator that rejects it (≤ v3.31)', () => {
    const c = { ...opCell({ calicoVersion: 'v3.31.7', encapsulation: 'IPIP' }), bgp: 'Disabled' as const };
    expect(() => renderOperatorResources(c, getVersion('v3.31.7'))).toThrow(
      /v1\.40\.15 accepts BGP Disabled only with VXLAN/,
    );
  });

  it('Goldmane/Whisker by default where upstream creates them (v3.30+), off when asked, never before v3.30', () => {
    const c = opCell({ calicoVersion: 'v3.30.7', encapsulation: 'VXLAN' });
    const dflt = renderOperatorResources(c, getVersion('v3.30.7'));
    expect(dflt.documents.map((d) => d.kind)).toEqual(['Installation', 'APIServer', 'Goldmane', 'Whisker']);
    expect(dflt.tigeraStatuses).toEqual(['calico', 'apiserver', 'ippools', 'goldmane', 'whisker']);
    const off = renderOperatorResources(c, getVersion('v3.30.7'), { goldmaneWhisker: false });
    expect(off.documents.map((d) => d.kind)).toEqual(['Installation', 'APIServer']);
    expect(off.tigeraStatuses).toEqual(['calico', 'apiserver', 'ippools']);
    const old = opCell({ calicoVersion: 'v3.28.5', encapsulation: 'VXLAN' });
    expect(renderOperatorResources(old, getVersion('v3.28.5')).documents.map((d) => d.kind)).toEqual([
      'Installation',
      'APIServer',
    ]);
    expect(() => renderOperatorResources(old, getVersion('v3.28.5'), { goldmaneWhisker: true })).toThrow(
      UsageError,
    );
  });
});

describe('renderCell', () => {
  it('an unknown version is a usage error before any file is read', async () => {
    let reads = 0;
    const source: ManifestSource = {
      describe: 'counting',
      read: async () => {
        reads++;
        return '';
      },
    };
    const c = { ...cell(), calicoVersion: 'v3.99.0' };
    await expect(renderCell(c, source)).rejects.toThrow(/v3\.99\.0.*not in the version catalogue/);
    expect(reads).toBe(0);
  });

  it('a rendered object that does not validate is an error listing the problem', async () => {
    // upstream-shaped file whose DaemonSet selector does not match its pod labels
    const text = calicoYaml().replace(
      '      k8s-app: calico-node\n  template',
      '      k8s-app: other\n  template',
    );
    const source: ManifestSource = { describe: 'inline', read: async () => text };
    await expect(renderCell(cell(), source)).rejects.toThrow(
      /does not validate \(1 problem\):\n {2}DaemonSet kube-system\/calico-node \/spec\/selector\/matchLabels\/k8s-app/,
    );
  });
});
