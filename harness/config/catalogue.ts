/**
 * The version catalogue: every fact about Calico that differs per version lives in this one table
 * (a house rule: no per-version `if`s spread through the code). The facts behind each column, with their
 * upstream sources, are in docs/calico-facts.md (sections named per field); where each version's files come
 * from (tag, commit, sha256) is in harness/calico/manifests.lock.json.
 */
import { UsageError } from '../errors.js';

export const ENCAPSULATIONS = ['IPIP', 'VXLAN', 'IPIPCrossSubnet', 'VXLANCrossSubnet', 'None'] as const;
export type Encapsulation = (typeof ENCAPSULATIONS)[number];

export const INSTALL_PATHS = ['manifest', 'operator'] as const;
export type InstallPath = (typeof INSTALL_PATHS)[number];

/** How calico-node's liveness/readiness probes name BIRD (docs/calico-facts.md, "Probes"). */
export type ProbeStyle =
  /** `- -bird-live` list items indented 14 spaces (≤ v3.30) */
  | 'flag-list'
  /** the same flags, list items indented 16 spaces (v3.31 – v3.32) */
  | 'flag-list-indented'
  /** `calico component node health --bird-live` (master) */
  | 'component-health';

export interface CalicoVersion {
  /** `vX.Y.Z` or `master` */
  readonly version: string;
  /** newest stable is the default version of the matrix */
  readonly stable: boolean;
  /** git ref the upstream files are read from */
  readonly gitRef: string;
  /**
   * tigera/operator release shipped in this version's tigera-operator.yaml (docs/calico-facts.md, "Versions
   * and images")
   */
  readonly operatorVersion: string;
  /** registry of the images named in calico.yaml (docs/calico-facts.md, "Versions and images") */
  readonly manifestRegistry: 'docker.io' | 'quay.io';
  /**
   * registry the operator pulls Calico images from (docs/calico-facts.md, "Operator files": docker.io in
   * v1.28–v1.34, quay.io from v1.38)
   */
  readonly operatorImageRegistry: 'docker.io' | 'quay.io';
  readonly probeStyle: ProbeStyle;
  /**
   * operator-crds.yaml is a separate file to apply first; ≤ v3.29 the CRDs are inline in tigera-operator.yaml
   * (calico-facts "Operator files")
   */
  readonly operatorCrdsSeparate: boolean;
  /**
   * the Installation's ipPools[] takes `name` (custom-resources.yaml from v3.28, calico-facts "Operator
   * files")
   */
  readonly ipPoolNameSupported: boolean;
  /** Goldmane and Whisker CRs exist (v3.30+, calico-facts "Operator files") */
  readonly goldmaneWhisker: boolean;
  /**
   * The custom resources upstream's custom-resources.yaml creates, in its order (calico-facts "Operator
   * files"): Installation and APIServer; from v3.30 also Goldmane and Whisker. An operator cell installs the
   * same set by default.
   */
  readonly customResources: readonly OperatorCustomResource[];
  /**
   * TigeraStatus objects that must be Available after an operator install, without optional components
   * (calico-facts "TigeraStatus")
   */
  readonly tigeraStatuses: readonly string[];
  /** namespace of the calico-apiserver Deployment in operator mode (calico-facts "Operator files") */
  readonly apiServerNamespace: 'calico-apiserver' | 'calico-system';
  /**
   * Encapsulations the operator accepts with `calicoNetwork.bgp: Disabled` (docs/calico-facts.md,
   * "Operator validation without BGP"). ≤ v3.31 rejects IPIP and None without BGP; v3.32 accepts IPIP
   * without BGP only with clusterRoutingMode Felix; master also None.
   */
  readonly operatorBgpDisabledAllows: readonly Encapsulation[];
  /** encapsulations that need `clusterRoutingMode: Felix` when BGP is Disabled (v3.32+) */
  readonly operatorFelixRoutingFor: readonly Encapsulation[];
  /** name of calico-node's eBPF init container (calico-facts "Versions and images") */
  readonly bpfInitContainer: 'mount-bpffs' | 'ebpf-bootstrap';
  /** files published under manifests/ for this version (the fixture set) */
  readonly files: readonly CalicoFile[];
  /**
   * Repositories of the Calico images calico.yaml runs (calico-facts "Versions and images"), under
   * `manifestRegistry`, tagged with the version: cni, node, kube-controllers up to v3.32; master has the
   * unified `calico/calico` image plus node.
   */
  readonly manifestImages: readonly string[];
  /**
   * Where the upstream manifests of this version were read for the lock: `github` (the tag's manifests/,
   * fixtures in ../shared/fixtures/calico), or `go-module` (manifests/ of the Calico Go module at the tag's
   * commit: the lab's Calico, built from the Go module proxy, which serves no newer release here).
   */
  readonly manifestOrigin: 'github' | 'go-module';
  /** the operator image tigera-operator.yaml deploys at that tag (docs/calico-facts.md, Versions and images) */
  readonly operatorImage: string;
  /**
   * operator.tigera.io CRDs (plural names) shipped by tigera-operator.yaml / operator-crds.yaml (calico-facts
   * "Operator files")
   */
  readonly operatorCrds: readonly string[];
  /**
   * crd.projectcalico.org CRDs (plural names) shipped by calico.yaml and the operator files (calico-facts
   * "CRDs")
   */
  readonly calicoCrds: readonly string[];
  /** policy.networking.k8s.io CRDs (network-policy-api) shipped alongside (calico-facts "CRDs") */
  readonly policyApiCrds: readonly string[];
  /**
   * TigeraStatus names added when the Goldmane and Whisker CRs are applied (v3.30+, calico-facts
   * "TigeraStatus")
   */
  readonly goldmaneWhiskerStatuses: readonly string[];
}

/** Where a version's upstream manifests live: `manifests/<file>` of projectcalico/calico at the git ref. */
export const UPSTREAM_RAW_BASE = 'https://raw.githubusercontent.com/projectcalico/calico';

export function upstreamUrl(entry: CalicoVersion, file: CalicoFile): string {
  return `${UPSTREAM_RAW_BASE}/${entry.gitRef}/manifests/${file}`;
}

/** The 17 crd.projectcalico.org CRDs every catalogued version ships (docs/calico-facts.md, "CRDs"). */
const CALICO_CRDS_BASE = [
  'bgpconfigurations',
  'bgppeers',
  'blockaffinities',
  'caliconodestatuses',
  'clusterinformations',
  'felixconfigurations',
  'globalnetworkpolicies',
  'globalnetworksets',
  'hostendpoints',
  'ipamblocks',
  'ipamconfigs',
  'ipamhandles',
  'ippools',
  'ipreservations',
  'kubecontrollersconfigurations',
  'networkpolicies',
  'networksets',
] as const;

function calicoCrdsFor(minor: number): string[] {
  const crds: string[] = [...CALICO_CRDS_BASE];
  if (minor >= 26) crds.push('bgpfilters');
  if (minor >= 29) crds.push('tiers');
  if (minor >= 30)
    crds.push('stagedglobalnetworkpolicies', 'stagedkubernetesnetworkpolicies', 'stagednetworkpolicies');
  return crds.sort();
}

function operatorCrdsFor(minor: number): string[] {
  const crds = ['apiservers', 'imagesets', 'installations', 'tigerastatuses'];
  if (minor >= 30) crds.push('gatewayapis', 'goldmanes', 'managementclusterconnections', 'whiskers');
  if (minor >= 32) crds.push('istios');
  return crds.sort();
}

function policyApiCrdsFor(minor: number): string[] {
  if (minor >= 32) return ['clusternetworkpolicies'];
  if (minor >= 30) return ['adminnetworkpolicies', 'baselineadminnetworkpolicies'];
  if (minor >= 29) return ['adminnetworkpolicies'];
  return [];
}

/** The operator.tigera.io/v1 custom resources (all named `default`) an operator cell creates. */
export type OperatorCustomResource = 'Installation' | 'APIServer' | 'Goldmane' | 'Whisker';

export type CalicoFile =
  | 'calico.yaml'
  | 'calico-vxlan.yaml'
  | 'tigera-operator.yaml'
  | 'operator-crds.yaml'
  | 'custom-resources.yaml'
  | 'custom-resources-bpf.yaml'
  | 'calico-v3-crds.yaml';

const VXLAN_ONLY: readonly Encapsulation[] = ['VXLAN', 'VXLANCrossSubnet'];
const BASE_FILES: readonly CalicoFile[] = [
  'calico.yaml',
  'calico-vxlan.yaml',
  'tigera-operator.yaml',
  'operator-crds.yaml',
  'custom-resources.yaml',
];

function entry(
  version: string,
  operatorVersion: string,
  over: Partial<CalicoVersion> & { minor: number },
): CalicoVersion {
  const { minor, ...rest } = over;
  const statuses = ['calico', 'apiserver'];
  if (minor >= 28) statuses.push('ippools');
  if (minor >= 32) statuses.push('tiers');
  return {
    version,
    stable: version !== 'master',
    gitRef: version,
    operatorVersion,
    manifestRegistry: minor >= 31 ? 'quay.io' : 'docker.io',
    operatorImageRegistry: minor >= 30 ? 'quay.io' : 'docker.io',
    probeStyle: minor >= 31 ? 'flag-list-indented' : 'flag-list',
    operatorCrdsSeparate: minor >= 30,
    ipPoolNameSupported: minor >= 28,
    goldmaneWhisker: minor >= 30,
    customResources:
      minor >= 30 ? ['Installation', 'APIServer', 'Goldmane', 'Whisker'] : ['Installation', 'APIServer'],
    tigeraStatuses: statuses,
    apiServerNamespace: minor >= 31 ? 'calico-system' : 'calico-apiserver',
    operatorBgpDisabledAllows: minor >= 32 ? [...VXLAN_ONLY, 'IPIP', 'IPIPCrossSubnet'] : VXLAN_ONLY,
    operatorFelixRoutingFor: minor >= 32 ? ['IPIP', 'IPIPCrossSubnet'] : [],
    bpfInitContainer: minor >= 31 ? 'ebpf-bootstrap' : 'mount-bpffs',
    files:
      minor >= 32
        ? [...BASE_FILES, 'custom-resources-bpf.yaml', 'calico-v3-crds.yaml']
        : minor >= 31
          ? [...BASE_FILES, 'custom-resources-bpf.yaml']
          : BASE_FILES,
    manifestImages: ['calico/cni', 'calico/node', 'calico/kube-controllers'],
    operatorImage: `quay.io/tigera/operator:${operatorVersion}`,
    manifestOrigin: 'github',
    operatorCrds: operatorCrdsFor(minor),
    calicoCrds: calicoCrdsFor(minor),
    policyApiCrds: policyApiCrdsFor(minor),
    goldmaneWhiskerStatuses: minor >= 30 ? ['goldmane', 'whisker'] : [],
    ...rest,
  };
}

export const CATALOGUE: readonly CalicoVersion[] = [
  entry('v3.24.0', 'v1.28.0', { minor: 24 }),
  entry('v3.26.5', 'v1.30.11', { minor: 26 }),
  entry('v3.27.5', 'v1.32.12', { minor: 27 }),
  entry('v3.28.5', 'v1.34.13', { minor: 28 }),
  entry('v3.29.7', 'v1.36.16', { minor: 29 }),
  // the Calico the lab's upgrade starts from (lab/lab.lock.json calicoUpgradeFrom): the only other
  // release the Go module proxy serves here; tigera-operator.yaml of its manifests/ deploys operator v1.38.1
  entry('v3.30.1', 'v1.38.1', { minor: 30, manifestOrigin: 'go-module' }),
  entry('v3.30.7', 'v1.38.13', { minor: 30 }),
  // the lab's Calico (lab/lab.lock.json): the newest release the Go module proxy serves here
  entry('v3.31.0', 'v1.40.0', { minor: 31, manifestOrigin: 'go-module' }),
  entry('v3.31.7', 'v1.40.15', { minor: 31 }),
  entry('v3.32.1', 'v1.42.3', { minor: 32 }),
  entry('master', 'master', {
    minor: 33,
    stable: false,
    probeStyle: 'component-health',
    operatorBgpDisabledAllows: [...ENCAPSULATIONS],
    operatorFelixRoutingFor: ['IPIP', 'IPIPCrossSubnet', 'None'],
    // master ships the unified `calico/calico` image for cni and kube-controllers (calico-facts "Versions and images")
    manifestImages: ['calico/calico', 'calico/node'],
  }),
];

export const DEFAULT_CALICO_VERSION: string = newestStable().version;

function newestStable(): CalicoVersion {
  const stable = CATALOGUE.filter((v) => v.stable);
  const last = stable[stable.length - 1];
  if (!last) throw new Error('the version catalogue has no stable version');
  return last;
}

export function findVersion(version: string): CalicoVersion | undefined {
  return CATALOGUE.find((v) => v.version === version);
}

/** The catalogue entry, or a UsageError that says what is catalogued and how to add a version. */
export function getVersion(version: string, field = 'calicoVersion'): CalicoVersion {
  const found = findVersion(version);
  if (found) return found;
  throw new UsageError(
    `${field}: ${JSON.stringify(version)} is not in the version catalogue; catalogued: ${CATALOGUE.map((v) => v.version).join(', ')}. ` +
      'To add a version, add an entry to harness/config/catalogue.ts and its sha256 lines to harness/calico/manifests.lock.json',
    field,
  );
}
