/**
 * The API rules (pure): cluster.json (API state after the uninstall) in, findings out. What Calico and the
 * Tigera operator create in the API and what survives an uninstall (docs/calico-facts.md, "Uninstall order"
 * and "What an uninstall leaves").
 */

import type { Finding } from '../model/audit.js';
import type { ClusterState } from './cluster-state.js';
import type { PartialAudit } from './node-rules.js';
import type { AuditRule } from './rule.js';

export const API_RULES = [
  {
    id: 'calico-crds',
    scope: 'api',
    category: 'api',
    matches: 'CRDs `*.crd.projectcalico.org`, `*.operator.tigera.io`, `*.projectcalico.org`',
    why: "Calico's data (IPPools, IPAM blocks, FelixConfiguration) lives in these CRDs: a re-install adopts the old pool and its encapsulation",
    remediation: 'kubectl delete crd <names>',
    source:
      'tigera/operator#2340; operator-crds.yaml (≥ v3.30) holds the CRDs the operator uninstall must delete',
  },
  {
    id: 'calico-namespace',
    scope: 'api',
    category: 'api',
    matches:
      'namespaces `calico-system`, `calico-apiserver`, `tigera-operator` (with why one is stuck Terminating)',
    why: 'a Calico namespace that outlives the uninstall holds objects with finalizers or is blocked by a stale APIService',
    remediation: 'kubectl delete namespace <ns>; for a stuck one, the cause it names',
    source: 'tigera/operator#2031, #3413, #4103; projectcalico/calico#8695, #7555',
  },
  {
    id: 'calico-apiservice',
    scope: 'api',
    category: 'api',
    matches: 'APIService `v3.projectcalico.org` (or any *.projectcalico.org / *.tigera.io)',
    why: 'an aggregated API without its calico-apiserver backend breaks discovery: namespace deletions hang',
    remediation: 'kubectl delete apiservice <name>',
    source: 'tigera/operator#4103; operator pkg/render/apiserver.go',
  },
  {
    id: 'calico-webhook',
    scope: 'api',
    category: 'api',
    matches: 'validating/mutating webhook configurations named for projectcalico.org, tigera or calico',
    why: 'a webhook whose service is gone fails (or blocks) every matching API request',
    remediation: 'kubectl delete validatingwebhookconfiguration|mutatingwebhookconfiguration <name>',
    source: 'operator pkg/render/webhooks/render.go (api.projectcalico.org, operator ≥ v1.42)',
  },
  {
    id: 'calico-rbac',
    scope: 'api',
    category: 'api',
    matches: 'ClusterRoles and ClusterRoleBindings `calico-*`, `tigera-*`',
    why: 'cluster-scoped RBAC of Calico survives when a namespace deletion or a finalizer hangs',
    remediation: 'kubectl delete clusterrole|clusterrolebinding <names>',
    source: 'calico.yaml (calico-node, calico-cni-plugin, calico-kube-controllers); operator pkg/render',
  },
  {
    id: 'calico-ippool',
    scope: 'api',
    category: 'api',
    matches: 'IPPools (crd.projectcalico.org/v1)',
    why: 'IPPools have no owner reference and survive Installation deletion; the next install reuses the old pool and its encapsulation',
    remediation: 'kubectl delete ippools.crd.projectcalico.org <name>',
    source: 'tigera/operator pkg/controller/ippool/pool_controller.go ~378-381; test/pool_test.go',
  },
  {
    id: 'node-annotations',
    scope: 'api',
    category: 'api',
    matches: '`projectcalico.org/*` node annotations',
    why: 'calico-node stores its Calico Node on the Kubernetes Node; nothing removes these (kept by design). A re-install re-reads the old tunnel addresses',
    remediation: 'kubectl annotate node <node> projectcalico.org/<key>- …',
    source:
      'libcalico-go/lib/backend/k8s/resources/node.go; tigera/operator test/mainline_test.go strips them after each test',
    byDesign: true,
  },
  {
    id: 'network-unavailable',
    scope: 'api',
    category: 'api',
    matches:
      'node condition `NetworkUnavailable=True` reason `CalicoIsDown`, and the taint `node.kubernetes.io/network-unavailable` it brings',
    why: "calico-node's preStop shutdown sets it (by design) and nothing clears it: the node stays tainted and unschedulable, also under another CNI",
    remediation: 'patch the node status condition to False; the taint follows (or remove it)',
    source:
      'node/pkg/lifecycle/shutdown/shutdown.go (v3.29.0); operator pkg/render/node.go preStop; projectcalico/calico#7816, #7112',
    byDesign: true,
  },
] as const satisfies readonly AuditRule[];

const CALICO_NAMESPACES = new Set(['calico-system', 'calico-apiserver', 'tigera-operator']);

function isCalicoCrd(name: string): boolean {
  return name.endsWith('.projectcalico.org') || name.endsWith('.operator.tigera.io');
}

function isCalicoRbac(name: string): boolean {
  return /^(calico-|tigera-)/.test(name) || name === 'calico-node' || name === 'tigera-operator';
}

export function auditClusterState(state: ClusterState): PartialAudit {
  const out: Finding[] = [];
  const node = 'cluster';
  const groups = new Map<string, string[]>();
  for (const c of state.crds.filter(isCalicoCrd)) {
    const group = c.slice(c.indexOf('.') + 1);
    groups.set(group, [...(groups.get(group) ?? []), c]);
  }
  for (const [group, crds] of groups) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-crds',
      name: `CRDs ${group}`,
      detail: `${crds.length} CRD${crds.length === 1 ? '' : 's'}: ${crds.join(', ')}`,
      why:
        group === 'operator.tigera.io'
          ? 'the operator CRDs stay unless operator-crds.yaml (≥ v3.30) is deleted; an Installation left behind drives the next install'
          : "Calico's data (IPPools, IPAM blocks, FelixConfiguration) lives in these CRDs: a re-install adopts the old pool and its encapsulation (tigera/operator#2340)",
      remediation: `kubectl delete crd ${crds.join(' ')}`,
    });
  }
  const apiServiceBroken = state.apiServices.some((a) => a.endsWith('projectcalico.org'));
  for (const ns of state.namespaces.filter((n) => CALICO_NAMESPACES.has(n.name))) {
    const problems = (ns.conditions ?? []).filter((c) => c.status === 'True');
    const terminating = ns.phase === 'Terminating';
    const discovery = problems.some(
      (c) => /Discovery/i.test(c.type) && /projectcalico/.test(c.message ?? ''),
    );
    out.push({
      node,
      category: 'api',
      rule: 'calico-namespace',
      name: `namespace ${ns.name}`,
      detail: `phase ${ns.phase ?? '?'}${problems.length ? `; ${problems.map((c) => `${c.type}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`).join('; ')}` : ''}${ns.finalizers?.length ? `; finalizers ${ns.finalizers.join(',')}` : ''}`,
      why: terminating
        ? discovery || apiServiceBroken
          ? 'stuck Terminating: the aggregated v3.projectcalico.org APIService outlived its backend, so namespace deletion fails discovery (tigera/operator#4103, projectcalico/calico#7555)'
          : 'stuck Terminating: objects with finalizers remain inside (tigera/operator#2031, #3413; projectcalico/calico#8695)'
        : 'Calico namespace still exists after uninstall',
      remediation:
        terminating && (discovery || apiServiceBroken)
          ? 'kubectl delete apiservice v3.projectcalico.org'
          : terminating
            ? `kubectl get all,serviceaccounts -n ${ns.name} -o name | xargs -r kubectl patch -n ${ns.name} --type=merge -p '{"metadata":{"finalizers":null}}'`
            : `kubectl delete namespace ${ns.name}`,
    });
  }
  for (const a of state.apiServices.filter(
    (x) => x.endsWith('projectcalico.org') || x.endsWith('tigera.io'),
  )) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-apiservice',
      name: `apiservice ${a}`,
      detail: `APIService ${a} present`,
      why: 'an aggregated API without its calico-apiserver backend breaks discovery: namespace deletions hang and kubectl prints stale GroupVersion errors',
      remediation: `kubectl delete apiservice ${a}`,
    });
  }
  for (const w of state.webhooks.filter((x) => /projectcalico\.org|tigera|calico/.test(x.name))) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-webhook',
      name: `${w.kind}webhookconfiguration ${w.name}`,
      detail: `${w.kind === 'validating' ? 'ValidatingWebhookConfiguration' : 'MutatingWebhookConfiguration'} ${w.name}`,
      why: 'a webhook whose service is gone fails (or blocks) every matching API request',
      remediation: `kubectl delete ${w.kind}webhookconfiguration ${w.name}`,
    });
  }
  for (const [kind, names] of [
    ['clusterrole', state.clusterRoles.filter(isCalicoRbac)],
    ['clusterrolebinding', state.clusterRoleBindings.filter(isCalicoRbac)],
  ] as const) {
    if (names.length === 0) continue;
    out.push({
      node,
      category: 'api',
      rule: 'calico-rbac',
      name: `${kind}s calico/tigera`,
      detail: names.join(', '),
      why: 'cluster-scoped RBAC of Calico survives when a namespace deletion or a finalizer hangs',
      remediation: `kubectl delete ${kind} ${names.join(' ')}`,
    });
  }
  for (const p of state.ipPools) {
    out.push({
      node,
      category: 'api',
      rule: 'calico-ippool',
      name: `ippool ${p.name}`,
      detail: `IPPool ${p.name}${p.cidr ? ` ${p.cidr}` : ''}`,
      why: 'IPPools have no owner reference and survive Installation deletion (tigera/operator pool_controller.go); the next install reuses the old pool and its encapsulation',
      remediation: `kubectl delete ippools.crd.projectcalico.org ${p.name}`,
    });
  }
  for (const n of state.nodes) {
    const keys = Object.keys(n.annotations).filter((k) => k.startsWith('projectcalico.org/'));
    if (keys.length > 0) {
      out.push({
        node: n.name,
        category: 'api',
        rule: 'node-annotations',
        name: `node ${n.name} annotations projectcalico.org/*`,
        detail: keys.map((k) => `${k}=${n.annotations[k]}`).join(', '),
        why: 'calico-node stores its Calico Node on the Kubernetes Node; nothing removes these (kept by design). A re-install re-reads the old tunnel addresses',
        remediation: `kubectl annotate node ${n.name} ${keys.map((k) => `${k}-`).join(' ')}`,
        byDesign: true,
      });
    }
    const cond = n.conditions.find(
      (c) => c.type === 'NetworkUnavailable' && c.status === 'True' && c.reason === 'CalicoIsDown',
    );
    if (cond) {
      out.push({
        node: n.name,
        category: 'api',
        rule: 'network-unavailable',
        name: `node ${n.name} condition NetworkUnavailable=CalicoIsDown`,
        detail: `NetworkUnavailable=True reason CalicoIsDown${cond.message ? ` message "${cond.message}"` : ''}`,
        why: "calico-node's preStop shutdown sets it (by design) and nothing clears it: the node stays tainted and unschedulable, also under another CNI (projectcalico/calico#7816, #7112)",
        remediation: `kubectl patch node ${n.name} --subresource=status --type=strategic -p '{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"CalicoUninstalled","message":"cleared after Calico uninstall"}]}}'`,
        byDesign: true,
      });
    }
    for (const t of n.taints.filter((x) => x.key === 'node.kubernetes.io/network-unavailable')) {
      out.push({
        node: n.name,
        category: 'api',
        rule: 'network-unavailable',
        name: `node ${n.name} taint ${t.key}:${t.effect}`,
        detail: `taint ${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}${cond ? ' (follows the CalicoIsDown condition)' : ''}`,
        why: 'the node lifecycle controller taints nodes whose NetworkUnavailable is True; it goes away once the condition is cleared',
        remediation: `kubectl taint node ${n.name} ${t.key}:${t.effect}-`,
        byDesign: Boolean(cond),
      });
    }
  }
  return { findings: out, notChecked: [] };
}
