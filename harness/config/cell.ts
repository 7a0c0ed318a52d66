/**
 * The Cell: one combination of Calico version × install path × encapsulation × network settings, which
 * the pipeline takes from cluster creation to the leftover audit.
 */
import { DEFAULT_CALICO_VERSION, type Encapsulation, type InstallPath } from './catalogue.js';

export const TOPOLOGIES = ['flat', 'split-subnet'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

export const BGP_MODES = ['Enabled', 'Disabled'] as const;
export type BgpMode = (typeof BGP_MODES)[number];

export interface Cell {
  /** stable, readable identifier, unique within a matrix (used for report rows, shards and --cells) */
  id: string;
  calicoVersion: string;
  install: InstallPath;
  encapsulation: Encapsulation;
  podCIDR: string;
  serviceCIDR: string;
  /** the IPv4 IPPool's CIDR; the pod CIDR unless set */
  ipPoolCIDR: string;
  blockSize: number;
  natOutgoing: boolean;
  workers: number;
  nodeImage: string;
  topology: Topology;
  /** rewrite every Calico image to this registry (a mirror or quay.io); undefined keeps upstream's */
  imageRegistry?: string;
  /** calicoNetwork.bgp on the operator path; `bird` vs `vxlan` backend on the manifest path */
  bgp: BgpMode;
}

/**
 * kind v0.31.0's default node image, pinned by digest (kind release notes; kubernetes-sigs/kind
 * pkg/apis/config/defaults/image.go at v0.31.0).
 */
export const DEFAULT_NODE_IMAGE =
  'kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f';

/**
 * The split-subnet topology gives the nodes secondary addresses in two subnets on the kind network and
 * points Calico's address autodetection at them, so CrossSubnet modes must encapsulate between the two
 * ranges and route natively within one (on a flat kind network every node shares one subnet, and
 * CrossSubnet never encapsulates). Nodes alternate between the ranges: control plane in A, workers B, A, B…
 */
export const SPLIT_SUBNET_RANGES = ['10.250.1.0/24', '10.250.2.0/24'] as const;

export const DEFAULTS = {
  calicoVersion: DEFAULT_CALICO_VERSION,
  install: ['manifest', 'operator'] as InstallPath[],
  encapsulation: ['IPIP', 'VXLAN', 'IPIPCrossSubnet', 'VXLANCrossSubnet', 'None'] as Encapsulation[],
  /** Calico's kind quickstart pod CIDR; also the stock custom-resources.yaml pool */
  podCIDR: '192.168.0.0/16',
  serviceCIDR: '10.96.0.0/12',
  blockSize: 26,
  natOutgoing: true,
  workers: 2,
  nodeImage: DEFAULT_NODE_IMAGE,
  topology: 'flat' as Topology,
} as const;

/** BGP is off for the VXLAN modes (Calico's `vxlan` backend) and on otherwise. */
export function defaultBgp(encapsulation: Encapsulation): BgpMode {
  return encapsulation === 'VXLAN' || encapsulation === 'VXLANCrossSubnet' ? 'Disabled' : 'Enabled';
}

export function isVxlan(e: Encapsulation): boolean {
  return e === 'VXLAN' || e === 'VXLANCrossSubnet';
}

export function isIpip(e: Encapsulation): boolean {
  return e === 'IPIP' || e === 'IPIPCrossSubnet';
}

export function isCrossSubnet(e: Encapsulation): boolean {
  return e === 'IPIPCrossSubnet' || e === 'VXLANCrossSubnet';
}

/** The IPPool's ipipMode / vxlanMode for an encapsulation (tigera/operator pool_controller.go mapping). */
export function poolModes(e: Encapsulation): {
  ipipMode: 'Always' | 'CrossSubnet' | 'Never';
  vxlanMode: 'Always' | 'CrossSubnet' | 'Never';
} {
  switch (e) {
    case 'IPIP':
      return { ipipMode: 'Always', vxlanMode: 'Never' };
    case 'IPIPCrossSubnet':
      return { ipipMode: 'CrossSubnet', vxlanMode: 'Never' };
    case 'VXLAN':
      return { ipipMode: 'Never', vxlanMode: 'Always' };
    case 'VXLANCrossSubnet':
      return { ipipMode: 'Never', vxlanMode: 'CrossSubnet' };
    case 'None':
      return { ipipMode: 'Never', vxlanMode: 'Never' };
  }
}

/**
 * The fields `plan --output json` publishes per cell (docs/contracts.md, "Command line"), in contract order,
 * then additions.
 */
export function planView(cell: Cell): Record<string, unknown> {
  return {
    id: cell.id,
    calicoVersion: cell.calicoVersion,
    install: cell.install,
    encapsulation: cell.encapsulation,
    podCIDR: cell.podCIDR,
    serviceCIDR: cell.serviceCIDR,
    blockSize: cell.blockSize,
    natOutgoing: cell.natOutgoing,
    workers: cell.workers,
    topology: cell.topology,
    ipPoolCIDR: cell.ipPoolCIDR,
    nodeImage: cell.nodeImage,
    bgp: cell.bgp,
    ...(cell.imageRegistry ? { imageRegistry: cell.imageRegistry } : {}),
  };
}
