import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryIO } from '../../../harness/cli/io.js';
import { main } from '../../../harness/cli/main.js';
import { UsageError } from '../../../harness/errors.js';
import { parseModel, parsePolicies, validatePolicies } from '../../../harness/policy/parse.js';
import { jsonPointerToPath, schemaProblem } from '../../../harness/policy/schema.js';

const FIX = join(import.meta.dirname, '../../fixtures/policy');
const fx = (f: string) => join(FIX, f);

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'policy-cli-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function run(...argv: string[]) {
  const io = memoryIO();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

const np = (name: string, spec: object, extra: object = {}) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'x' },
  spec,
  ...extra,
});

describe('policy expect (CLI contract)', () => {
  it('with an empty policies file prints the all-allowed table: every ordered pair of distinct pods × every port', async () => {
    for (const text of ['', '# no policies\n---\n']) {
      const r = await run(
        'policy',
        'expect',
        '--model',
        fx('small-model.yaml'),
        '--policies',
        tmpFile('none.yaml', text),
        '--output',
        'json',
      );
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const pods = ['front/web', 'back/db', 'back/cache'];
      const ports = [
        { port: 5432, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
      ];
      expect(JSON.parse(r.out)).toEqual({
        probes: pods.flatMap((from) =>
          pods
            .filter((to) => to !== from)
            .flatMap((to) =>
              ports.map((p) => ({ from, to, ...p, egress: true, ingress: true, allowed: true })),
            ),
        ),
      });
    }
    const text = await run(
      'policy',
      'expect',
      '--model',
      fx('small-model.yaml'),
      '--policies',
      tmpFile('none.yaml', ''),
    );
    expect(text.code).toBe(0);
    expect(text.out).toContain('3 pods, 2 ports, 0 policies: 12 of 12 probes allowed');
  });

  it('prints the exact truth table as JSON for a small model (written out by hand)', async () => {
    const r = await run(
      'policy',
      'expect',
      '--model',
      fx('small-model.yaml'),
      '--policies',
      fx('small-policies.yaml'),
      '--output',
      'json',
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const e = (
      from: string,
      to: string,
      port: number,
      protocol: string,
      egress: boolean,
      ingress: boolean,
    ) => ({
      from,
      to,
      port,
      protocol,
      egress,
      ingress,
      allowed: egress && ingress,
    });
    expect(JSON.parse(r.out)).toEqual({
      probes: [
        e('front/web', 'back/db', 5432, 'TCP', true, true),
        e('front/web', 'back/db', 53, 'UDP', true, false),
        e('front/web', 'back/cache', 5432, 'TCP', true, true),
        e('front/web', 'back/cache', 53, 'UDP', true, true),
        e('back/db', 'front/web', 5432, 'TCP', true, true),
        e('back/db', 'front/web', 53, 'UDP', true, true),
        e('back/db', 'back/cache', 5432, 'TCP', true, true),
        e('back/db', 'back/cache', 53, 'UDP', true, true),
        e('back/cache', 'front/web', 5432, 'TCP', false, true),
        e('back/cache', 'front/web', 53, 'UDP', false, true),
        e('back/cache', 'back/db', 5432, 'TCP', false, false),
        e('back/cache', 'back/db', 53, 'UDP', false, false),
      ],
    });
  });

  it('JSON for the e2e model with mixed k8s + Calico policies: 288 entries, spot cells checked by hand', async () => {
    const r = await run(
      'policy',
      'expect',
      '--model',
      fx('model.yaml'),
      '--policies',
      fx('policies.yaml'),
      '--output',
      'json',
    );
    expect(r.code).toBe(0);
    const probes = JSON.parse(r.out).probes as {
      from: string;
      to: string;
      port: number;
      protocol: string;
      allowed: boolean;
      ingress: boolean;
    }[];
    expect(probes).toHaveLength(9 * 8 * 4);
    const find = (from: string, to: string, port: number, protocol: string) =>
      probes.find((p) => p.from === from && p.to === to && p.port === port && p.protocol === protocol)!;
    expect(find('y/b', 'x/a', 81, 'TCP').allowed).toBe(true); // endPort range from y
    expect(find('y/b', 'x/a', 81, 'UDP').allowed).toBe(false); // TCP only
    expect(find('z/b', 'x/a', 80, 'TCP').allowed).toBe(false); // only y
    expect(find('y/a', 'x/b', 80, 'TCP').allowed).toBe(false); // deny-all in x
    expect(find('z/a', 'y/c', 80, 'TCP')).toMatchObject({ ingress: false, allowed: false }); // GNP Deny
    expect(find('x/a', 'y/c', 80, 'UDP').allowed).toBe(true); // GNP Pass → profile
    expect(find('x/a', 'z/c', 80, 'UDP').allowed).toBe(true); // z unaffected
  });

  it('text output prints one expected grid per port', async () => {
    const r = await run(
      'policy',
      'expect',
      '--model',
      fx('small-model.yaml'),
      '--policies',
      fx('small-policies.yaml'),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('3 pods, 2 ports, 2 policies: 7 of 12 probes allowed');
    // the legend of the one grid vocabulary (probe/grid.ts), not a second one
    expect(r.out).toContain('. allowed  X denied  - self (rows: from, columns: to)');
    expect(r.out).toContain('TCP/5432 (postgres)');
    expect(r.out).toContain('UDP/53');
    // rows: from web, db, cache; columns: to web, db, cache
    expect(r.out).toContain(
      [
        'TCP/5432 (postgres)',
        '             0 1 2',
        '0 front/web  - . .',
        '1 back/db    . - .',
        '2 back/cache X X -',
      ].join('\n'),
    );
    expect(r.out).toContain(
      ['UDP/53', '             0 1 2', '0 front/web  - X .', '1 back/db    . - .', '2 back/cache X X -'].join(
        '\n',
      ),
    );
  });

  it('exits 2 naming the document and the field for a bad policy', async () => {
    const r = await run(
      'policy',
      'expect',
      '--model',
      fx('model.yaml'),
      '--policies',
      fx('bad-policies.yaml'),
      '--output',
      'json',
    );
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('document 2 at line 7 (NetworkPolicy x/broken)');
    expect(r.err).toContain('spec.ingress[0].from[0]');
    expect(r.err).toMatch(/ipBlock peer cannot also have podSelector/);
  });

  it('exits 2 naming the field for a bad model, a missing file, a missing flag, a bad --output and a bad subcommand', async () => {
    const badModel = tmpFile(
      'm.yaml',
      'namespaces: [{name: x}]\npods: [{namespace: x, name: a, ip: 10.0.0.300}]\nports: [{port: 80}]\n',
    );
    let r = await run('policy', 'expect', '--model', badModel, '--policies', fx('policies.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('pods[0].ip: "10.0.0.300" is not an IPv4 address');
    r = await run('policy', 'expect', '--model', fx('nope.yaml'), '--policies', fx('policies.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--model: cannot read/);
    r = await run('policy', 'expect', '--model', fx('model.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('--policies FILE is required');
    r = await run(
      'policy',
      'expect',
      '--model',
      fx('model.yaml'),
      '--policies',
      fx('policies.yaml'),
      '--output',
      'yaml',
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('allowed: text, json');
    r = await run('policy', 'frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toContain('subcommands: expect, list');
  });

  it('policy list selects scenarios by regex and tag', async () => {
    const r = await run('policy', 'list', '--select', '^calico-pass', '--output', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).scenarios.map((s: { name: string }) => s.name)).toEqual([
      'calico-pass-skips-k8s-deny',
      'calico-pass-then-k8s-egress',
    ]);
    const t = await run('policy', 'list', '--tag', 'end-port');
    expect(t.out).toContain('port-end-port-range');
    expect(t.out).toMatch(/2 scenarios/);
  });
});

describe('model validation', () => {
  const ok = 'namespaces: [{name: x}]\npods: [{namespace: x, name: a, ip: 10.0.0.1}]\nports: [{port: 80}]\n';
  it('accepts a minimal model, defaulting protocol to TCP and labels to {}', () => {
    expect(parseModel(ok)).toEqual({
      namespaces: [{ name: 'x', labels: {} }],
      pods: [{ namespace: 'x', name: 'a', labels: {}, ip: '10.0.0.1' }],
      ports: [{ port: 80, protocol: 'TCP' }],
    });
  });
  it.each([
    ['pods: []\nnamespaces: [{name: x}]\nports: [{port: 80}]', 'pods'],
    [ok.replace('namespace: x,', 'namespace: q,'), 'pods[0].namespace'],
    [ok.replace('{port: 80}', '{port: 80, protocol: ICMP}'), 'ports[0].protocol'],
    [ok.replace('{port: 80}', '{port: 0}'), 'ports[0].port'],
    [ok.replace('{port: 80}', '{port: 80}, {port: 80, protocol: TCP}'), 'ports[1]'],
    [ok.replace('{port: 80}', '{port: 80, name: Has_Caps}'), 'ports[0].name'],
    [ok.replace('{name: x}', '{name: x, labels: {a: 1}}'), 'namespaces[0].labels.a'],
    [ok.replace('name: a,', 'name: a, color: red,'), 'pods[0].color'],
    [`${ok}extra: 1\n`, 'model.extra'],
  ])('rejects %j naming %s', (text, field) => {
    let err: unknown;
    try {
      parseModel(text, 'm.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).field).toBe(field);
    expect((err as Error).message).toMatch(/^m\.yaml: /);
  });
});

describe('policy validation', () => {
  const fieldOf = (doc: object) => {
    try {
      validatePolicies([doc], 'p.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return `${(e as UsageError).field} | ${(e as Error).message}`;
    }
    return 'valid';
  };
  it.each([
    [np('t', { podSelecter: {} }), 'spec.podSelecter', 'unknown field'],
    [np('t', { podSelector: {}, policyTypes: ['Inbound'] }), 'spec.policyTypes[0]', 'must be one of'],
    [np('t', { podSelector: {}, ingress: [{ from: [{}] }] }), 'spec.ingress[0].from[0]', 'needs podSelector'],
    [
      np('t', { podSelector: {}, ingress: [{ ports: [{ port: 70000 }] }] }),
      'spec.ingress[0].ports[0].port',
      '65535',
    ],
    [
      np('t', { podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] }),
      'spec.ingress[0].ports[0].endPort',
      'numeric port',
    ],
    [
      np('t', { podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }),
      'spec.ingress[0].ports[0].endPort',
      'below port',
    ],
    [
      np('t', { podSelector: {}, ingress: [{ ports: [{ port: 80, protocol: 'ICMP' }] }] }),
      'spec.ingress[0].ports[0].protocol',
      'must be one of',
    ],
    [
      np('t', { podSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }),
      'spec.podSelector.matchExpressions[0].values',
      'at least one value',
    ],
    [
      np('t', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }),
      'spec.podSelector.matchExpressions[0].values',
      'takes no values',
    ],
    [
      np('t', { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] }),
      'spec.egress[0].to[0].ipBlock.cidr',
      'prefix length',
    ],
    [
      np('t', {
        podSelector: {},
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }],
      }),
      'spec.egress[0].to[0].ipBlock.except[0]',
      'strictly inside',
    ],
    [np('t', { podSelector: {} }, { status: {} }), 'status', 'unknown field'],
    [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
      'apiVersion',
      'not a policy the oracle reads',
    ],
    [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: 'c', namespace: 'x' },
        spec: { tier: 'security' },
      },
      'spec.tier',
      'must be "default"',
    ],
    [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: 'c', namespace: 'x' },
        spec: { selector: "pod == 'a" },
      },
      'spec.selector',
      'unterminated string',
    ],
    [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: 'c', namespace: 'x' },
        spec: { ingress: [{ action: 'Allow', destination: { ports: [80] } }] },
      },
      'spec.ingress[0].destination.ports',
      'protocol',
    ],
    [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'g' },
        spec: { ingress: [{ action: 'Reject' }] },
      },
      'spec.ingress[0].action',
      'must be one of',
    ],
    [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'g' },
        spec: { ingress: [{ action: 'Allow', icmp: { type: 8 } }] },
      },
      'spec.ingress[0].icmp',
      'not modelled',
    ],
    [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'g' },
        spec: { selector: 'has(a) &&' },
      },
      'spec.selector',
      'end of selector',
    ],
  ])('%j → %s', (doc, field, message) => {
    const got = fieldOf(doc);
    expect(got.split(' | ')[0]).toBe(field);
    expect(got).toContain(message);
    expect(got).toContain('p.yaml: document 1 (');
  });

  it('numbers documents as they appear in the file (empty ones too), with their first line', () => {
    const text = `---\n${JSON.stringify(np('one', { podSelector: {} }))}\n---\n---\n${JSON.stringify(np('two', { podSelecter: {} }))}\n`;
    expect(() => parsePolicies(text, 'f.yaml')).toThrow(
      /f\.yaml: document 3 at line 5 \(NetworkPolicy x\/two\): spec\.podSelecter/,
    );
    expect(() => parsePolicies('a: [', 'f.yaml')).toThrow(/document 1 at line 1: not valid YAML/);
  });

  it('reads a file without policies as no policies: empty, comments only, empty documents, an empty List', () => {
    for (const text of [
      '',
      '\n',
      '# nothing applied yet\n',
      '---\n---\n',
      // what `kubectl get networkpolicy -A -o yaml` prints when there are none
      'apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: ""\n',
    ])
      expect(parsePolicies(text, 'f.yaml'), JSON.stringify(text)).toEqual([]);
  });

  it('reads the items of a kind: List (kubectl get -o yaml) and names a bad one by item', () => {
    const list = (items: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
    expect(
      parsePolicies(list([np('one', { podSelector: {} }), np('two', { podSelector: {} })])).map(
        (p) => p.metadata.name,
      ),
    ).toEqual(['one', 'two']);
    expect(() =>
      parsePolicies(`${list([np('one', { podSelector: {} }), np('two', { podSelecter: {} })])}\n`, 'l.yaml'),
    ).toThrow(/l\.yaml: document 1 item 2 at line 1 \(NetworkPolicy x\/two\): spec\.podSelecter/);
  });

  it('rejects the same policy twice', () => {
    expect(() => validatePolicies([np('d', { podSelector: {} }), np('d', { podSelector: {} })])).toThrow(
      /appears twice/,
    );
  });

  it('schema helpers: pointer to path, valid doc passes', () => {
    expect(jsonPointerToPath('/spec/ingress/0/from/1/ipBlock')).toBe('spec.ingress[0].from[1].ipBlock');
    expect(
      schemaProblem(
        'NetworkPolicy',
        np('ok', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }] }),
      ),
    ).toBeUndefined();
  });
});
