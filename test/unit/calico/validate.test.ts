import { describe, expect, it } from 'vitest';
import {
  checkBuiltins,
  pruneFor,
  toJsonSchema,
  validateCustomResources,
} from '../../../harness/calico/validate.js';

const schema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      properties: {
        port: { 'x-kubernetes-int-or-string': true },
        note: { type: 'string', nullable: true },
        mode: { type: 'string', enum: ['A', 'B'] },
        size: { type: 'integer', format: 'int32' },
        free: {
          type: 'object',
          'x-kubernetes-preserve-unknown-fields': true,
          properties: { a: { type: 'string' } },
        },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
      },
      required: ['mode'],
    },
  },
};
const schemas = new Map([['example.io/v1/Thing', schema]]);
const thing = (spec: Record<string, unknown>) => ({
  apiVersion: 'example.io/v1',
  kind: 'Thing',
  metadata: { name: 'default' },
  spec,
});

describe('CRD schema validation', () => {
  it('accepts a valid object, with int-or-string, nullable, preserved unknown fields and maps', () => {
    expect(
      validateCustomResources(
        [
          thing({ mode: 'A', port: 80, note: null, free: { x: 1 }, labels: { k: 'v' } }),
          thing({ mode: 'B', port: 'http' }),
        ],
        schemas,
      ),
    ).toEqual([]);
  });

  it('reports enum, type, required, format and unknown-field problems with their paths', () => {
    const problems = validateCustomResources(
      [thing({ mode: 'C', port: true, size: 2 ** 40, typo: 1 })],
      schemas,
    );
    const text = problems.map((p) => `${p.path} ${p.message}`).join('\n');
    expect(text).toContain('/spec must NOT have additional properties (typo)');
    expect(text).toContain('/spec/mode must be equal to one of the allowed values (["A","B"])');
    expect(text).toMatch(/\/spec\/port must be (integer|string)/);
    expect(text).toContain('/spec/size must match format "int32"');
    expect(validateCustomResources([thing({})], schemas)[0]!.message).toContain(
      "must have required property 'mode'",
    );
    expect(problems[0]!.object).toBe('Thing default');
  });

  it('a custom resource without a CRD in the files is a problem', () => {
    const problems = validateCustomResources(
      [{ apiVersion: 'x.io/v1', kind: 'Nope', metadata: { name: 'n' } }],
      schemas,
    );
    expect(problems[0]!.message).toContain(
      "no CustomResourceDefinition serves x.io/v1/Nope in this version's files",
    );
  });

  it('turns Kubernetes keywords into JSON Schema', () => {
    expect(toJsonSchema({ 'x-kubernetes-int-or-string': true, description: 'd' })).toEqual({
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    });
    expect(toJsonSchema({ type: 'string', nullable: true })).toEqual({ type: ['string', 'null'] });
    expect(toJsonSchema({ type: 'object', properties: { a: { type: 'string' } } })).toEqual({
      type: 'object',
      properties: { a: { type: 'string' } },
      additionalProperties: false,
    });
  });

  it('prunes sub-schemas of absent properties only', () => {
    const pruned = pruneFor(schema, { spec: { mode: 'A' } }) as { properties: Record<string, unknown> };
    expect(pruned.properties.apiVersion).toBe(true);
    expect((pruned.properties.spec as { properties: Record<string, unknown> }).properties.mode).toEqual(
      schema.properties.spec.properties.mode,
    );
    expect((pruned.properties.spec as { properties: Record<string, unknown> }).properties.port).toBe(true);
  });
});

describe('structural checks of built-in objects', () => {
  const ds = (container: Record<string, unknown>, labels = { app: 'x' }) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'x', namespace: 'kube-system' },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: { metadata: { labels }, spec: { containers: [container], volumes: [{ name: 'v' }] } },
    },
  });

  it('passes a sound workload and ConfigMap', () => {
    expect(
      checkBuiltins([
        ds({
          name: 'c',
          image: 'quay.io/calico/node:v1',
          env: [{ name: 'A', value: '1' }],
          volumeMounts: [{ name: 'v' }],
        }),
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'calico-config' }, data: { a: 'b' } },
      ]),
    ).toEqual([]);
  });

  it('checks CRD identity: name = plural.group, a served version with a schema', () => {
    const crd = (name: string, versions: unknown[]) => ({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name },
      spec: {
        group: 'operator.tigera.io',
        names: { plural: 'installations', kind: 'Installation' },
        versions,
      },
    });
    const served = [{ name: 'v1', served: true, schema: { openAPIV3Schema: { type: 'object' } } }];
    expect(checkBuiltins([crd('installations.operator.tigera.io', served)])).toEqual([]);
    expect(checkBuiltins([crd('installation.operator.tigera.io', [])]).map((p) => p.path)).toEqual([
      '/metadata/name',
      '/spec/versions',
    ]);
  });

  it('finds duplicate env, non-string values, value+valueFrom, bad mounts, bad probes and selector mismatch', () => {
    const problems = checkBuiltins([
      ds(
        {
          name: 'c',
          image: 'img:1',
          env: [
            { name: 'A', value: 1 },
            { name: 'A', value: 'x', valueFrom: {} },
          ],
          volumeMounts: [{ name: 'missing' }],
          livenessProbe: { exec: { command: [] } },
        },
        { app: 'y' },
      ),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' }, data: { n: 1 } },
    ]).map((p) => `${p.object} ${p.path}: ${p.message}`);
    expect(problems).toEqual([
      'DaemonSet kube-system/x /spec/selector/matchLabels/app: does not match the pod template labels',
      'DaemonSet kube-system/x /spec/template/spec/containers/0/env/0/value: A must be a string',
      'DaemonSet kube-system/x /spec/template/spec/containers/0/env/1/name: duplicate env A',
      'DaemonSet kube-system/x /spec/template/spec/containers/0/env/1: A has both value and valueFrom',
      'DaemonSet kube-system/x /spec/template/spec/containers/0/volumeMounts: mount of undeclared volume missing',
      'DaemonSet kube-system/x /spec/template/spec/containers/0/livenessProbe/exec/command: must be a non-empty list of non-empty strings',
      'ConfigMap Bad_Name /metadata/name: must be a DNS subdomain name (lower-case alphanumerics, "-" and ".")',
      'ConfigMap Bad_Name /data/n: must be a string, got number',
    ]);
  });
});
