/**
 * The policy vocabulary (after the Kubernetes netpol e2e: Model, Peer, TruthTable): the model of
 * namespaces × pods × ports the oracle reasons about, and the policy documents it reads.
 */
import type { Protocol } from '../model/connectivity.js';
import type { LabelSelector } from './selector.js';

export interface ModelNamespace {
  name: string;
  /** as given; `kubernetes.io/metadata.name` is added by the oracle, as the API server does */
  labels: Record<string, string>;
}

export interface ModelPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** the pod IP that `ipBlock` and Calico `nets` match */
  ip: string;
}

export interface ModelPort {
  port: number;
  protocol: Protocol;
  /** the container port name every pod gives this port (named ports resolve on it) */
  name?: string;
}

/** docs/contracts.md, "Policy model and truth table": every pod serves every port listed. */
export interface PolicyModel {
  namespaces: ModelNamespace[];
  pods: ModelPod[];
  ports: ModelPort[];
}

// ---- networking.k8s.io/v1 NetworkPolicy (the fields the oracle reads) ----

export interface NetworkPolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}

export interface IPBlock {
  cidr: string;
  except?: string[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: NetworkPolicyIngressRule[];
    egress?: NetworkPolicyEgressRule[];
  };
}

// ---- projectcalico.org/v3 NetworkPolicy and GlobalNetworkPolicy (the modelled subset) ----

export type CalicoAction = 'Allow' | 'Deny' | 'Pass' | 'Log';

export interface CalicoEntityRule {
  selector?: string;
  notSelector?: string;
  namespaceSelector?: string;
  nets?: string[];
  notNets?: string[];
  /** destination side only: int, "start:end" or a port name */
  ports?: (number | string)[];
  notPorts?: (number | string)[];
}

export interface CalicoRule {
  action: CalicoAction;
  protocol?: string | number;
  notProtocol?: string | number;
  source?: CalicoEntityRule;
  destination?: CalicoEntityRule;
}

export interface CalicoPolicy {
  apiVersion: 'projectcalico.org/v3';
  kind: 'NetworkPolicy' | 'GlobalNetworkPolicy';
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: {
    order?: number;
    tier?: string;
    selector?: string;
    /** GlobalNetworkPolicy only: the namespaces whose endpoints it applies to */
    namespaceSelector?: string;
    types?: ('Ingress' | 'Egress')[];
    ingress?: CalicoRule[];
    egress?: CalicoRule[];
  };
}

export type PolicyDocument = NetworkPolicy | CalicoPolicy;

export function isCalicoPolicy(doc: PolicyDocument): doc is CalicoPolicy {
  return doc.apiVersion === 'projectcalico.org/v3';
}

/** "namespace/pod": how peers are named in the truth table, the grids and the probe keys. */
export function podKey(pod: { namespace: string; name: string }): string {
  return `${pod.namespace}/${pod.name}`;
}
