/**
 * Reading and validating the oracle's inputs: the model file and the policies file (docs/contracts.md,
 * "Policy model and truth table"). Every problem is a UsageError (exit 2) that names the document (its index
 * in the file, kind and name) and the field, so a user can find the line to fix.
 */
import { LineCounter, parseAllDocuments, parse as parseYaml } from 'yaml';
import { UsageError } from '../errors.js';
import type { Protocol } from '../model/connectivity.js';
import { cidrContains, isIpv6Text, parseIpv4, parseIpv4Cidr } from '../net/cidr.js';
import { schemaProblem } from './schema.js';
import { compileCalicoSelector, type LabelSelector } from './selector.js';
import type {
  CalicoEntityRule,
  CalicoPolicy,
  CalicoRule,
  ModelPort,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  PolicyDocument,
  PolicyModel,
} from './types.js';

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// ---------------------------------------------------------------------------------------------------------
// Model

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function modelError(source: string, field: string, message: string): never {
  throw new UsageError(`${source}: ${field}: ${message}`, field);
}

function labelsOf(v: unknown, source: string, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) modelError(source, field, 'must be a map of label names to string values');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string')
      modelError(source, `${field}.${k}`, `label values must be strings (quote ${JSON.stringify(val)})`);
    out[k] = val;
  }
  return out;
}

function knownKeys(v: Record<string, unknown>, allowed: string[], source: string, field: string): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k))
      modelError(source, `${field}.${k}`, `unknown field; allowed: ${allowed.join(', ')}`);
  }
}

/** Validates a parsed model object. `source` names the file in messages. */
export function validateModel(raw: unknown, source = 'model'): PolicyModel {
  if (!isRecord(raw)) modelError(source, '(document)', 'must be a map with namespaces, pods and ports');
  knownKeys(raw, ['namespaces', 'pods', 'ports'], source, 'model');
  for (const k of ['namespaces', 'pods', 'ports'] as const) {
    if (!Array.isArray(raw[k]) || (raw[k] as unknown[]).length === 0)
      modelError(source, k, 'is required and must be a non-empty list');
  }
  const namespaces = (raw.namespaces as unknown[]).map((ns, i) => {
    const f = `namespaces[${i}]`;
    if (!isRecord(ns)) modelError(source, f, 'must be a map {name, labels}');
    knownKeys(ns, ['name', 'labels'], source, f);
    if (typeof ns.name !== 'string' || !DNS_LABEL.test(ns.name))
      modelError(source, `${f}.name`, 'must be a DNS label (lowercase letters, digits, "-")');
    return { name: ns.name, labels: labelsOf(ns.labels, source, `${f}.labels`) };
  });
  const nsNames = new Set<string>();
  namespaces.forEach((ns, i) => {
    if (nsNames.has(ns.name))
      modelError(source, `namespaces[${i}].name`, `duplicate namespace ${JSON.stringify(ns.name)}`);
    nsNames.add(ns.name);
  });
  const podNames = new Set<string>();
  const pods = (raw.pods as unknown[]).map((p, i) => {
    const f = `pods[${i}]`;
    if (!isRecord(p)) modelError(source, f, 'must be a map {namespace, name, labels, ip}');
    knownKeys(p, ['namespace', 'name', 'labels', 'ip'], source, f);
    if (typeof p.namespace !== 'string' || !nsNames.has(p.namespace))
      modelError(
        source,
        `${f}.namespace`,
        `${JSON.stringify(p.namespace)} is not a namespace of the model; namespaces: ${[...nsNames].join(', ')}`,
      );
    if (typeof p.name !== 'string' || !DNS_LABEL.test(p.name))
      modelError(source, `${f}.name`, 'must be a DNS label (lowercase letters, digits, "-")');
    const key = `${p.namespace}/${p.name}`;
    if (podNames.has(key)) modelError(source, `${f}.name`, `duplicate pod ${key}`);
    podNames.add(key);
    if (typeof p.ip !== 'string' || parseIpv4(p.ip) === undefined)
      modelError(source, `${f}.ip`, `${JSON.stringify(p.ip)} is not an IPv4 address`);
    return {
      namespace: p.namespace,
      name: p.name,
      labels: labelsOf(p.labels, source, `${f}.labels`),
      ip: p.ip,
    };
  });
  const seenPorts = new Set<string>();
  const seenNames = new Set<string>();
  const ports = (raw.ports as unknown[]).map((p, i): ModelPort => {
    const f = `ports[${i}]`;
    if (!isRecord(p)) modelError(source, f, 'must be a map {port, protocol, name}');
    knownKeys(p, ['port', 'protocol', 'name'], source, f);
    if (typeof p.port !== 'number' || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535)
      modelError(source, `${f}.port`, `${JSON.stringify(p.port)} is not a port number 1-65535`);
    const protocol = p.protocol ?? 'TCP';
    if (!PROTOCOLS.includes(protocol as Protocol))
      modelError(
        source,
        `${f}.protocol`,
        `${JSON.stringify(protocol)} is not allowed; allowed: ${PROTOCOLS.join(', ')}`,
      );
    const id = `${protocol}/${p.port}`;
    if (seenPorts.has(id)) modelError(source, f, `duplicate port ${id}`);
    seenPorts.add(id);
    const out: ModelPort = { port: p.port, protocol: protocol as Protocol };
    if (p.name !== undefined) {
      if (typeof p.name !== 'string' || p.name.length > 15 || !PORT_NAME.test(p.name))
        modelError(source, `${f}.name`, 'must be an IANA port name (≤15 lowercase letters, digits, "-")');
      if (seenNames.has(p.name)) modelError(source, `${f}.name`, `duplicate port name ${p.name}`);
      seenNames.add(p.name);
      out.name = p.name;
    }
    return out;
  });
  return { namespaces, pods, ports };
}

export function parseModel(text: string, source = 'model'): PolicyModel {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${source}: not valid YAML: ${(err as Error).message}`, 'model');
  }
  return validateModel(raw, source);
}

// ---------------------------------------------------------------------------------------------------------
// Policies

/** How a document is named in messages: `document 2 (NetworkPolicy x/deny-all)`. */
export function documentLabel(index: number | string, doc: unknown): string {
  const where = typeof index === 'number' ? `document ${index}` : index;
  if (!isRecord(doc)) return where;
  const md = isRecord(doc.metadata) ? doc.metadata : {};
  const name = typeof md.name === 'string' ? md.name : '(no name)';
  const ns = typeof md.namespace === 'string' ? `${md.namespace}/` : '';
  const kind = typeof doc.kind === 'string' ? doc.kind : '(no kind)';
  const api = doc.apiVersion === 'projectcalico.org/v3' ? 'projectcalico.org/v3 ' : '';
  return `${where} (${api}${kind} ${ns}${name})`;
}

class DocumentCheck {
  constructor(
    readonly source: string,
    readonly label: string,
  ) {}
  fail(field: string, message: string): never {
    throw new UsageError(`${this.source}: ${this.label}: ${field}: ${message}`, field);
  }
}

function checkSelector(sel: LabelSelector | undefined, field: string, c: DocumentCheck): void {
  (sel?.matchExpressions ?? []).forEach((req, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const n = req.values?.length ?? 0;
    if ((req.operator === 'In' || req.operator === 'NotIn') && n === 0)
      c.fail(`${f}.values`, `operator ${req.operator} needs at least one value`);
    if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && n > 0)
      c.fail(`${f}.values`, `operator ${req.operator} takes no values`);
  });
}

function checkCidr(text: string, field: string, c: DocumentCheck) {
  if (isIpv6Text(text)) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(text)) c.fail(field, `${JSON.stringify(text)} is not a CIDR`);
    return undefined; // valid API input; it can never contain an IPv4 pod IP of the model
  }
  const r = parseIpv4Cidr(text, { allowHostBits: true });
  if (!r.ok) c.fail(field, `${JSON.stringify(text)} ${r.reason}`);
  return r.cidr;
}

function checkK8sPeer(peer: NetworkPolicyPeer, field: string, c: DocumentCheck): void {
  checkSelector(peer.podSelector, `${field}.podSelector`, c);
  checkSelector(peer.namespaceSelector, `${field}.namespaceSelector`, c);
  if (peer.ipBlock) {
    const outer = checkCidr(peer.ipBlock.cidr, `${field}.ipBlock.cidr`, c);
    (peer.ipBlock.except ?? []).forEach((e, i) => {
      const f = `${field}.ipBlock.except[${i}]`;
      const inner = checkCidr(e, f, c);
      // API validation: each except must be strictly within the cidr
      if (outer && inner && !(inner.prefix > outer.prefix && cidrContains(outer, inner)))
        c.fail(f, `${JSON.stringify(e)} must lie strictly inside cidr ${peer.ipBlock!.cidr}`);
    });
  }
}

function checkK8sPort(p: NetworkPolicyPort, field: string, c: DocumentCheck): void {
  if (p.endPort !== undefined) {
    if (typeof p.port !== 'number')
      c.fail(`${field}.endPort`, 'needs a numeric port (endPort cannot follow a named port or no port)');
    if (p.endPort < p.port) c.fail(`${field}.endPort`, `${p.endPort} is below port ${p.port}`);
  }
}

function checkK8s(doc: NetworkPolicy, c: DocumentCheck): void {
  checkSelector(doc.spec.podSelector, 'spec.podSelector', c);
  (doc.spec.ingress ?? []).forEach((r, i) => {
    for (const [j, p] of (r.from ?? []).entries()) checkK8sPeer(p, `spec.ingress[${i}].from[${j}]`, c);
    for (const [j, p] of (r.ports ?? []).entries()) checkK8sPort(p, `spec.ingress[${i}].ports[${j}]`, c);
  });
  (doc.spec.egress ?? []).forEach((r, i) => {
    for (const [j, p] of (r.to ?? []).entries()) checkK8sPeer(p, `spec.egress[${i}].to[${j}]`, c);
    for (const [j, p] of (r.ports ?? []).entries()) checkK8sPort(p, `spec.egress[${i}].ports[${j}]`, c);
  });
}

function checkCalicoSelector(text: string, field: string, c: DocumentCheck): void {
  try {
    compileCalicoSelector(text, field);
  } catch (err) {
    // the selector parser's message starts with the field; keep its detail, add the document
    c.fail(field, (err as Error).message.slice(field.length + 2));
  }
}

function checkCalicoEntity(e: CalicoEntityRule, field: string, rule: CalicoRule, c: DocumentCheck): void {
  for (const k of ['selector', 'notSelector', 'namespaceSelector'] as const) {
    if (e[k] !== undefined) checkCalicoSelector(e[k], `${field}.${k}`, c);
  }
  for (const k of ['nets', 'notNets'] as const)
    for (const [i, n] of (e[k] ?? []).entries()) checkCidr(n, `${field}.${k}[${i}]`, c);
  for (const k of ['ports', 'notPorts'] as const) {
    if (!e[k]) continue;
    // Calico validation: rules that match on ports must name a protocol that has ports
    if (!['TCP', 'UDP', 'SCTP', 'UDPLite', 6, 17, 132, 136].includes(rule.protocol as string | number))
      c.fail(`${field}.${k}`, 'needs the rule to set protocol TCP, UDP, SCTP or UDPLite');
    e[k].forEach((p, i) => {
      if (typeof p === 'string' && p.includes(':')) {
        const [a, b] = p.split(':').map(Number);
        if (a! > b! || b! > 65535)
          c.fail(
            `${field}.${k}[${i}]`,
            `${JSON.stringify(p)} is not a range start:end with start ≤ end ≤ 65535`,
          );
      }
    });
  }
}

function checkCalico(doc: CalicoPolicy, c: DocumentCheck): void {
  if (doc.spec.selector !== undefined) checkCalicoSelector(doc.spec.selector, 'spec.selector', c);
  if (doc.spec.namespaceSelector !== undefined)
    checkCalicoSelector(doc.spec.namespaceSelector, 'spec.namespaceSelector', c);
  for (const dir of ['ingress', 'egress'] as const) {
    (doc.spec[dir] ?? []).forEach((r, i) => {
      if (r.source) checkCalicoEntity(r.source, `spec.${dir}[${i}].source`, r, c);
      if (r.destination) checkCalicoEntity(r.destination, `spec.${dir}[${i}].destination`, r, c);
    });
  }
}

/**
 * Validates parsed policy documents (from a file, or the scenario catalogue's objects). `null` documents
 * (an empty `---` section) must be dropped by the caller; indices in messages count from 1.
 */
export function validatePolicies(
  docs: unknown[],
  source = 'policies',
  origins?: readonly string[],
): PolicyDocument[] {
  const seen = new Set<string>();
  return docs.map((doc, i) => {
    const label = documentLabel(origins?.[i] ?? i + 1, doc);
    const c = new DocumentCheck(source, label);
    if (!isRecord(doc)) return c.fail('(document)', 'must be a map (a Kubernetes object)');
    const api = doc.apiVersion;
    const kind = doc.kind;
    let schemaKind: Parameters<typeof schemaProblem>[0] | undefined;
    if (api === 'networking.k8s.io/v1' && kind === 'NetworkPolicy') schemaKind = 'NetworkPolicy';
    else if (api === 'projectcalico.org/v3' && kind === 'NetworkPolicy') schemaKind = 'CalicoNetworkPolicy';
    else if (api === 'projectcalico.org/v3' && kind === 'GlobalNetworkPolicy')
      schemaKind = 'CalicoGlobalNetworkPolicy';
    else
      return c.fail(
        api === 'networking.k8s.io/v1' || api === 'projectcalico.org/v3' ? 'kind' : 'apiVersion',
        `${JSON.stringify(api)} ${JSON.stringify(kind)} is not a policy the oracle reads; allowed: ` +
          'networking.k8s.io/v1 NetworkPolicy, projectcalico.org/v3 NetworkPolicy, projectcalico.org/v3 GlobalNetworkPolicy',
      );
    const problem = schemaProblem(schemaKind, doc);
    if (problem) c.fail(problem.path, problem.message);
    const policy = doc as unknown as PolicyDocument;
    if (policy.apiVersion === 'networking.k8s.io/v1') checkK8s(policy, c);
    else checkCalico(policy, c);
    const id = `${policy.apiVersion} ${policy.kind} ${policy.metadata.namespace ?? ''}/${policy.metadata.name}`;
    if (seen.has(id)) c.fail('metadata.name', 'the same policy appears twice');
    seen.add(id);
    return policy;
  });
}

/**
 * Reads a multi-document YAML file of policies. Documents are numbered as they appear in the file (empty
 * ones count) with their first line; a `kind: List` (what `kubectl get networkpolicy -o yaml` prints)
 * contributes its items, named `document N item M`. A file with no policy at all (empty, comments only,
 * empty documents, a List without items) is no policies: a valid state, the one after every policy was
 * deleted, in which everything is allowed.
 */
export function parsePolicies(text: string, source = 'policies'): PolicyDocument[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  const values: unknown[] = [];
  const origins: string[] = [];
  for (const [i, d] of docs.entries()) {
    const line = lines.linePos(d.contents?.range[0] ?? d.range[0]).line;
    if (d.errors.length > 0) {
      throw new UsageError(
        `${source}: document ${i + 1} at line ${line}: not valid YAML: ${d.errors[0]!.message}`,
        'policies',
      );
    }
    const v = d.toJS();
    if (v === null || v === undefined) continue;
    if (isRecord(v) && typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) {
      v.items.forEach((item, j) => {
        values.push(item);
        origins.push(`document ${i + 1} item ${j + 1} at line ${line}`);
      });
      continue;
    }
    values.push(v);
    origins.push(`document ${i + 1} at line ${line}`);
  }
  return validatePolicies(values, source, origins);
}
