/**
 * The lab: real kind clusters running real Calico on a machine with no container registry, built from Go
 * modules and Debian packages. This module knows where the lab lives, what it is pinned to (lab/lab.lock.json)
 * and which images it provides; the build itself is lab/build.ts.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LabLock {
  kind: { module: string; version: string };
  kubernetes: {
    module: string;
    version: string;
    stagingVersion: string;
    commands: string[];
    agnhostVersion: string;
  };
  etcd: { module: string; version: string; imageTag: string };
  coredns: { module: string; version: string };
  criTools: { module: string; version: string };
  cniPlugins: {
    module: string;
    /** kind's set, in the node image */
    node: { version: string; plugins: string[] };
    /** Calico's set, in calico/cni (installed over the node's by install-cni) */
    calico: { version: string; plugins: string[] };
  };
  pause: { version: string };
  /** the Calico every lab cell runs */
  calico: LabCalico;
  /** the older Calico an `upgrade --lab` starts from: an optional part of the lab */
  calicoUpgradeFrom?: LabCalico;
  operator: { module: string; version: string; apiPseudoVersion: string; registry: string };
}

/** One Calico release as the lab builds it from the Go module proxy. */
export interface LabCalico {
  version: string;
  module: string;
  /** the release tag's commit */
  pseudoVersion: string;
  /** github.com/projectcalico/api (the monorepo's ./api, published as a mirror) at the matching commit */
  apiPseudoVersion: string;
  /** the registry the release's manifests name its images under (docker.io up to v3.30, quay.io after) */
  registry: string;
}

/**
 * A Calico build of the lab: the default one (step names `calico`, `manifests`, `images-calico`, binaries
 * in bin/calico) or the one an upgrade starts from (the same steps suffixed `-<version>`, binaries in
 * bin/calico-<version>), which the lab is complete without.
 */
export interface LabCalicoBuild {
  calico: LabCalico;
  /** '' for the default build, `-<version>` for the other */
  suffix: string;
  /** why the lab is complete without it (the upgrade path only); absent for the default build */
  optional?: string;
}

export function upgradeFromOptional(lock: Pick<LabLock, 'calico' | 'calicoUpgradeFrom'>): string | undefined {
  const from = lock.calicoUpgradeFrom;
  if (!from) return undefined;
  return `the upgrade path only: \`upgrade --lab --from ${from.version} --to ${lock.calico.version}\` starts from it; every other cell runs ${lock.calico.version}`;
}

export function labCalicoBuilds(lock: Pick<LabLock, 'calico' | 'calicoUpgradeFrom'>): LabCalicoBuild[] {
  const from = lock.calicoUpgradeFrom;
  const optional = upgradeFromOptional(lock);
  return [
    { calico: lock.calico, suffix: '' },
    ...(from && optional ? [{ calico: from, suffix: `-${from.version}`, optional }] : []),
  ];
}

/** Calico's images of a build, tagged as that release's manifests name them. */
export function labCalicoImages(calico: LabCalico): {
  node: string;
  cni: string;
  kubeControllers: string;
  typha: string;
  apiserver: string;
} {
  const r = `${calico.registry}/calico`;
  const v = calico.version;
  return {
    node: `${r}/node:${v}`,
    cni: `${r}/cni:${v}`,
    kubeControllers: `${r}/kube-controllers:${v}`,
    typha: `${r}/typha:${v}`,
    apiserver: `${r}/apiserver:${v}`,
  };
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LAB_SOURCE_DIR = join(REPO_ROOT, 'lab');

export function readLabLock(path = join(LAB_SOURCE_DIR, 'lab.lock.json')): LabLock {
  return JSON.parse(readFileSync(path, 'utf8')) as LabLock;
}

/** Machine-local cache of the lab: `$CALICO_CONFORMANCE_LAB_DIR`, else `$XDG_CACHE_HOME/calico-conformance/lab`. */
export function labDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CALICO_CONFORMANCE_LAB_DIR) return resolve(env.CALICO_CONFORMANCE_LAB_DIR);
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'calico-conformance', 'lab');
}

export interface LabPaths {
  root: string;
  bin: string;
  gomod: string;
  gocache: string;
  src: string;
  stamps: string;
  rootfs: string;
  images: string;
  manifests: string;
  /** the docker wrapper kind is run with */
  dockerShim: string;
  kind: string;
}

/** The lab's calicoctl (of its default Calico version): `run --lab` and `upgrade --lab` use it unless given one. */
export function labCalicoctl(paths: LabPaths = labPaths()): string {
  return join(paths.bin, 'calico', 'calicoctl');
}

export function labPaths(root = labDir()): LabPaths {
  return {
    root,
    bin: join(root, 'bin'),
    gomod: join(root, 'gomod'),
    gocache: join(root, 'gocache'),
    src: join(root, 'src'),
    stamps: join(root, 'stamps'),
    rootfs: join(root, 'rootfs'),
    images: join(root, 'images'),
    manifests: join(root, 'manifests'),
    dockerShim: join(root, 'shim'),
    kind: join(root, 'bin', 'kind'),
  };
}

/** The lab's node image (kind's `--image`); tagged by the Kubernetes version it runs. */
export function labNodeImage(lock: LabLock): string {
  return `calico-conformance-lab/node:${lock.kubernetes.version}`;
}

export function agnhostImage(lock: LabLock): string {
  return `registry.k8s.io/e2e-test-images/agnhost:${lock.kubernetes.agnhostVersion}`;
}

/** Control-plane images kubeadm expects preloaded on the node (`kubeadm config images list`). */
export function controlPlaneImages(lock: LabLock): string[] {
  const k = lock.kubernetes.version;
  return [
    `registry.k8s.io/kube-apiserver:${k}`,
    `registry.k8s.io/kube-controller-manager:${k}`,
    `registry.k8s.io/kube-scheduler:${k}`,
    `registry.k8s.io/kube-proxy:${k}`,
    `registry.k8s.io/coredns/coredns:${lock.coredns.version}`,
    `registry.k8s.io/pause:${lock.pause.version}`,
    `registry.k8s.io/etcd:${lock.etcd.imageTag}`,
  ];
}
