/**
 * Compact structural JSON Schemas (written for this project from the API reference, not copied from the
 * upstream OpenAPI) for the policy documents the oracle reads:
 *
 * - `networking.k8s.io/v1` NetworkPolicy: field names and value sets from the Kubernetes API reference
 *   (kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/). Unknown fields are
 *   rejected so a typo (`podSelecter`) fails loudly instead of silently widening a policy.
 * - `projectcalico.org/v3` NetworkPolicy / GlobalNetworkPolicy: the subset the oracle models (selectors,
 *   order, types, rules with Allow/Deny/Pass/Log, protocol, nets, ports), from
 *   docs.tigera.io/calico/latest/reference/resources/{networkpolicy,globalnetworkpolicy}. Fields outside it
 *   (icmp, http, serviceAccounts, services, source ports, tiers other than `default`) are rejected as "not
 *   modelled" rather than ignored.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** IANA_SVC_NAME: at most 15 lowercase alphanumerics or '-', at least one letter, no leading/trailing '-' */
const PORT_NAME = '^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', minLength: 1 },
          operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};

const k8sPort = {
  type: 'object',
  additionalProperties: false,
  properties: {
    protocol: { enum: ['TCP', 'UDP', 'SCTP'] },
    port: {
      oneOf: [
        { type: 'integer', minimum: 1, maximum: 65535 },
        { type: 'string', maxLength: 15, pattern: PORT_NAME },
      ],
    },
    endPort: { type: 'integer', minimum: 1, maximum: 65535 },
  },
};

const k8sPeer = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    podSelector: labelSelector,
    namespaceSelector: labelSelector,
    ipBlock: {
      type: 'object',
      additionalProperties: false,
      required: ['cidr'],
      properties: {
        cidr: { type: 'string', minLength: 1 },
        except: { type: 'array', items: { type: 'string', minLength: 1 } },
      },
    },
  },
  // ipBlock stands alone: "If this field is set then neither of the other fields can be" (API reference)
  not: { required: ['ipBlock'], anyOf: [{ required: ['podSelector'] }, { required: ['namespaceSelector'] }] },
};

const metadata = (namespaced: boolean) => ({
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN },
    ...(namespaced ? { namespace: { type: 'string', maxLength: 63, pattern: DNS_LABEL } } : {}),
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
});

export const NETWORK_POLICY_SCHEMA = {
  $id: 'networking.k8s.io/v1/NetworkPolicy',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'networking.k8s.io/v1' },
    kind: { const: 'NetworkPolicy' },
    metadata: metadata(true),
    spec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        podSelector: labelSelector,
        policyTypes: { type: 'array', uniqueItems: true, items: { enum: ['Ingress', 'Egress'] } },
        ingress: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: { from: { type: 'array', items: k8sPeer }, ports: { type: 'array', items: k8sPort } },
          },
        },
        egress: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: { to: { type: 'array', items: k8sPeer }, ports: { type: 'array', items: k8sPort } },
          },
        },
      },
    },
  },
};

const calicoPorts = {
  type: 'array',
  items: {
    oneOf: [
      { type: 'integer', minimum: 0, maximum: 65535 },
      { type: 'string', pattern: '^\\d{1,5}:\\d{1,5}$' },
      { type: 'string', pattern: '^[A-Za-z][-A-Za-z0-9]*$' },
    ],
  },
};

const calicoEntity = (withPorts: boolean) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    selector: { type: 'string' },
    notSelector: { type: 'string' },
    namespaceSelector: { type: 'string' },
    nets: { type: 'array', items: { type: 'string' } },
    notNets: { type: 'array', items: { type: 'string' } },
    // source ports are not modelled: probes come from ephemeral ports
    ...(withPorts ? { ports: calicoPorts, notPorts: calicoPorts } : {}),
  },
});

const calicoProtocol = {
  oneOf: [
    { enum: ['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6', 'UDPLite'] },
    { type: 'integer', minimum: 1, maximum: 255 },
  ],
};

const calicoRule = {
  type: 'object',
  additionalProperties: false,
  required: ['action'],
  properties: {
    action: { enum: ['Allow', 'Deny', 'Pass', 'Log'] },
    protocol: calicoProtocol,
    notProtocol: calicoProtocol,
    ipVersion: { enum: [4] },
    metadata: { type: 'object' },
    source: calicoEntity(false),
    destination: calicoEntity(true),
  },
};

const calicoSpec = (global: boolean) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    order: { type: 'number' },
    // only the default tier is modelled: other tiers need the Tier resource and its own order
    tier: { const: 'default' },
    selector: { type: 'string' },
    ...(global ? { namespaceSelector: { type: 'string' } } : {}),
    types: { type: 'array', uniqueItems: true, items: { enum: ['Ingress', 'Egress'] } },
    ingress: { type: 'array', items: calicoRule },
    egress: { type: 'array', items: calicoRule },
  },
});

export const CALICO_NETWORK_POLICY_SCHEMA = {
  $id: 'projectcalico.org/v3/NetworkPolicy',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'projectcalico.org/v3' },
    kind: { const: 'NetworkPolicy' },
    metadata: metadata(true),
    spec: calicoSpec(false),
  },
};

export const CALICO_GLOBAL_NETWORK_POLICY_SCHEMA = {
  $id: 'projectcalico.org/v3/GlobalNetworkPolicy',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'projectcalico.org/v3' },
    kind: { const: 'GlobalNetworkPolicy' },
    metadata: metadata(false),
    spec: calicoSpec(true),
  },
};

let compiled: Record<'k8s' | 'calicoNp' | 'calicoGnp', ValidateFunction> | undefined;

function validators() {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false });
    compiled = {
      k8s: ajv.compile(NETWORK_POLICY_SCHEMA),
      calicoNp: ajv.compile(CALICO_NETWORK_POLICY_SCHEMA),
      calicoGnp: ajv.compile(CALICO_GLOBAL_NETWORK_POLICY_SCHEMA),
    };
  }
  return compiled;
}

export type SchemaKind = 'NetworkPolicy' | 'CalicoNetworkPolicy' | 'CalicoGlobalNetworkPolicy';

/** "/spec/ingress/0/from" → "spec.ingress[0].from" */
export function jsonPointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

export interface SchemaProblem {
  path: string;
  message: string;
}

function describe(err: ErrorObject): SchemaProblem {
  const base = jsonPointerToPath(err.instancePath);
  const join = (field: string) => (base ? `${base}.${field}` : field);
  switch (err.keyword) {
    case 'additionalProperties': {
      const field = (err.params as { additionalProperty: string }).additionalProperty;
      return {
        path: join(field),
        message: 'unknown field (not part of the schema, or not modelled by the oracle)',
      };
    }
    case 'required': {
      const field = (err.params as { missingProperty: string }).missingProperty;
      return { path: join(field), message: 'is required' };
    }
    case 'enum':
      return {
        path: base || '(document)',
        message: `must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return {
        path: base || '(document)',
        message: `must be ${JSON.stringify((err.params as { allowedValue: unknown }).allowedValue)}`,
      };
    case 'not':
      return { path: base, message: 'an ipBlock peer cannot also have podSelector or namespaceSelector' };
    case 'minProperties':
      return { path: base, message: 'a peer needs podSelector, namespaceSelector or ipBlock' };
    case 'oneOf':
      return { path: base, message: describeOneOf(base) };
    default:
      return { path: base || '(document)', message: err.message ?? err.keyword };
  }
}

function describeOneOf(path: string): string {
  if (/ports\[\d+\]\.port$/.test(path))
    return 'must be a port number 1-65535 or an IANA port name (≤15 lowercase characters)';
  if (/ports\[\d+\]$/.test(path)) return 'must be a port number, a "start:end" range or a port name';
  if (/[pP]rotocol$/.test(path)) return 'must be TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number 1-255';
  return 'does not match any allowed form';
}

/** Validates one document against its schema; returns the first problem, or undefined when valid. */
export function schemaProblem(kind: SchemaKind, doc: unknown): SchemaProblem | undefined {
  const v = validators();
  const fn = kind === 'NetworkPolicy' ? v.k8s : kind === 'CalicoNetworkPolicy' ? v.calicoNp : v.calicoGnp;
  if (fn(doc)) return undefined;
  const errors = fn.errors ?? [];
  const first = errors[0];
  return first ? describe(first) : { path: '(document)', message: 'invalid' };
}
