/**
 * "Every component runs B and is ready", decided from DaemonSet/Deployment snapshots (pure).
 *
 * A workload is a Calico component when its pod template runs a Calico image (`…/calico/<name>`) or the
 * operator (`…/tigera/operator`). Calico tags every image of a release with the release version (calico.yaml:
 * `calico/cni|node|kube-controllers:<v>`; master uses `:master` and the unified `calico/calico` image), and
 * tigera-operator.yaml pins the operator image to the operator release the catalogue records
 * (docs/calico-facts.md, "Versions and images"; e.g. `quay.io/tigera/operator:v1.42.3` in v3.32.1). The
 * registry is ignored (docker.io became quay.io in v3.31 for manifests and operator v1.38 for the operator,
 * and `--image-registry` rewrites it); the tag decides.
 *
 * A component is on B when: the controller observed the newest spec (observedGeneration ≥ generation),
 * updated = ready = desired > 0, every Calico image of the template carries B's tag, and every pod that
 * still exists (terminating ones too: they still run) runs B's tags and is Ready.
 */
import { type CalicoVersion, getVersion } from '../config/catalogue.js';
import { imageRole, parseImage } from '../config/image.js';
import type { WorkloadSnapshot } from './deps.js';
import type { UpgradePath } from './timeline.js';

export interface ComponentRef {
  namespace: string;
  kind: 'DaemonSet' | 'Deployment';
  name: string;
}

export interface TargetComponents {
  /** namespaces to read */
  namespaces: string[];
  /** components that must exist and run B */
  required: ComponentRef[];
  /** components that must be gone (the manifest install the operator took over) */
  absent: ComponentRef[];
  /** the tag each Calico image must carry, and the operator's */
  calicoTag: string;
  operatorTag: string;
}

const KS = 'kube-system';
const CS = 'calico-system';

/**
 * What must run B after the upgrade, per path.
 * - manifest: calico.yaml runs calico-node (DaemonSet) and calico-kube-controllers (Deployment) in
 *   kube-system; Typha is disabled there (`typha_service_name: "none"` in calico.yaml's calico-config), so
 *   it is checked only if present.
 * - operator / migration: the operator runs calico-node, calico-typha and calico-kube-controllers in
 *   calico-system (operator pkg/render); csi-node-driver, the API server (calico-apiserver or
 *   calico-system by version), Goldmane and Whisker are checked when present (the catalogue does not record
 *   from which release each exists, and the Installation stays, so the upgrade creates no new optional CRs).
 * - migration: the operator "will have automatically cleaned up any Calico resources in the kube-system
 *   namespace" (docs.tigera.io/calico/latest/operations/operator-migration), so kube-system's calico-node
 *   and calico-kube-controllers must be gone.
 */
export function targetComponents(path: UpgradePath, to: string): TargetComponents {
  const entry: CalicoVersion = getVersion(to, '--to');
  const tags = { calicoTag: entry.version, operatorTag: entry.operatorVersion };
  const manifestParts: ComponentRef[] = [
    { namespace: KS, kind: 'DaemonSet', name: 'calico-node' },
    { namespace: KS, kind: 'Deployment', name: 'calico-kube-controllers' },
  ];
  const operatorParts: ComponentRef[] = [
    { namespace: 'tigera-operator', kind: 'Deployment', name: 'tigera-operator' },
    { namespace: CS, kind: 'DaemonSet', name: 'calico-node' },
    { namespace: CS, kind: 'Deployment', name: 'calico-typha' },
    { namespace: CS, kind: 'Deployment', name: 'calico-kube-controllers' },
  ];
  const operatorNamespaces = ['tigera-operator', CS, 'calico-apiserver'];
  switch (path) {
    case 'manifest':
      return { namespaces: [KS], required: manifestParts, absent: [], ...tags };
    case 'operator':
      return { namespaces: operatorNamespaces, required: operatorParts, absent: [], ...tags };
    case 'manifest-to-operator':
      return {
        namespaces: [KS, ...operatorNamespaces],
        required: operatorParts,
        absent: manifestParts,
        ...tags,
      };
  }
}

/** The images of a list that do not carry the target tag (non-Calico images are not judged). */
export function offTargetImages(images: readonly string[], target: TargetComponents): string[] {
  return images.filter((img) => {
    const role = imageRole(img);
    if (role === 'other') return false;
    const want = role === 'operator' ? target.operatorTag : target.calicoTag;
    return parseImage(img).tag !== want;
  });
}

export function isCalicoWorkload(w: WorkloadSnapshot): boolean {
  return w.templateImages.some((i) => imageRole(i) !== 'other');
}

export interface ComponentAssessment {
  onTarget: boolean;
  /** one line per component that is not there yet (what the wait last saw) */
  lagging: string[];
  /** one line per component, for the evidence */
  summary: string[];
}

function refName(r: ComponentRef): string {
  return `${r.namespace}/${r.kind}/${r.name}`;
}

function same(a: ComponentRef, b: ComponentRef): boolean {
  return a.namespace === b.namespace && a.kind === b.kind && a.name === b.name;
}

export function assessWorkload(w: WorkloadSnapshot, target: TargetComponents): string[] {
  const problems: string[] = [];
  if (w.observedGeneration < w.generation)
    problems.push(`generation ${w.generation} not observed yet (observed ${w.observedGeneration})`);
  if (w.desired <= 0) problems.push('0 pods desired');
  if (w.updated < w.desired) problems.push(`${w.updated}/${w.desired} updated`);
  if (w.ready < w.desired) problems.push(`${w.ready}/${w.desired} ready`);
  const offTemplate = offTargetImages(w.templateImages, target);
  if (offTemplate.length) problems.push(`template runs ${[...new Set(offTemplate)].join(', ')}`);
  for (const pod of w.pods) {
    const off = offTargetImages(pod.images, target);
    const what: string[] = [];
    if (off.length) what.push(`runs ${[...new Set(off)].join(', ')}`);
    if (!pod.ready) what.push('not ready');
    if (pod.terminating) what.push('terminating');
    if (what.length) problems.push(`pod ${pod.name} ${what.join(', ')}`);
  }
  if (w.pods.length < w.desired) problems.push(`${w.pods.length}/${w.desired} pods exist`);
  return problems;
}

export function assessComponents(
  workloads: readonly WorkloadSnapshot[],
  target: TargetComponents,
): ComponentAssessment {
  const lagging: string[] = [];
  const summary: string[] = [];
  for (const ref of target.required) {
    if (!workloads.some((w) => same(w, ref))) lagging.push(`${refName(ref)}: absent`);
  }
  for (const ref of target.absent) {
    if (workloads.some((w) => same(w, ref)))
      lagging.push(`${refName(ref)}: still present (the operator has not finished the migration)`);
  }
  for (const w of workloads) {
    if (!isCalicoWorkload(w) || target.absent.some((a) => same(a, w))) continue;
    const problems = assessWorkload(w, target);
    if (problems.length) lagging.push(`${refName(w)}: ${problems.join('; ')}`);
    summary.push(
      `${refName(w)}: ${problems.length ? problems.join('; ') : `on ${target.calicoTag}, ${w.ready}/${w.desired} ready`}`,
    );
  }
  return { onTarget: lagging.length === 0, lagging, summary };
}
