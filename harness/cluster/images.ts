/**
 * Image preloading: pull each of the version's images once on the host (optional) and `kind load docker-image`
 * them into every node of a cluster. Saves registry pulls across cells (Docker Hub's pull rate limits
 * otherwise end in ImagePullBackOff), and a slow pull stops counting against the install waits. Pods use the loaded copies because
 * Calico's images carry version tags, not `:latest` (kind loads are ignored for `:latest` with the default pull
 * policy — kind's quick-start, site/content/docs/user/quick-start.md).
 */

import type { CalicoVersion } from '../config/catalogue.js';
import { podTemplateImages, rewriteImage } from '../config/image.js';
import { defaultRunner, type ProcessRunner } from '../exec/process.js';
import { parseManifest } from '../kube/yaml.js';

/** Images the pods of rendered files run (Pods and workloads' pod templates), once each, in first-seen order. */
export function imagesInFiles(files: readonly { name: string; content: string }[]): string[] {
  const out = new Set<string>();
  for (const f of files)
    for (const obj of parseManifest(f.content, f.name)) for (const i of podTemplateImages(obj)) out.add(i);
  return [...out];
}

/**
 * The images the tigera operator will pull for a version: its Calico components under the operator's registry
 * (docker.io up to operator v1.34, quay.io from v1.38 — the catalogue's operatorImageRegistry), rewritten to
 * --image-registry when one is given. The optional components (Goldmane, Whisker) are added when enabled.
 */
export function operatorComponentImages(
  entry: CalicoVersion,
  registry?: string,
  opts: { goldmaneWhisker?: boolean } = {},
): string[] {
  const components = [
    'node',
    'cni',
    'kube-controllers',
    'typha',
    'pod2daemon-flexvol',
    'apiserver',
    'csi',
    'node-driver-registrar',
  ];
  if (opts.goldmaneWhisker && entry.goldmaneWhisker)
    components.push('goldmane', 'whisker', 'whisker-backend');
  return components.map((c) => {
    const upstream = `${entry.operatorImageRegistry}/calico/${c}:${entry.version}`;
    return registry ? rewriteImage(upstream, registry) : upstream;
  });
}

export interface PreloadResult {
  loaded: string[];
  /** image → why it could not be pulled or loaded (the install may still pull it from the registry) */
  failed: { image: string; reason: string }[];
}

export interface PreloadOptions {
  clusterName: string;
  images: readonly string[];
  /** `docker pull` each image first; otherwise only images already on the host are loaded */
  pull?: boolean;
  runner?: ProcessRunner;
  kindCommand?: string;
  dockerCommand?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export async function preloadImages(opts: PreloadOptions): Promise<PreloadResult> {
  const runner = opts.runner ?? defaultRunner;
  const docker = opts.dockerCommand ?? 'docker';
  const kind = opts.kindCommand ?? 'kind';
  const signal = opts.signal ? { signal: opts.signal } : {};
  const result: PreloadResult = { loaded: [], failed: [] };
  const present: string[] = [];
  for (const image of opts.images) {
    if (opts.pull) {
      opts.log?.(`pulling ${image}`);
      const r = await runner.run(docker, ['pull', image], { timeoutMs: 10 * 60_000, ...signal });
      if (r.exitCode !== 0) {
        result.failed.push({ image, reason: `docker pull failed: ${lastLine(r.stderr || r.stdout)}` });
        continue;
      }
    } else {
      const r = await runner.run(docker, ['image', 'inspect', '--format', '{{.Id}}', image], {
        timeoutMs: 30_000,
        ...signal,
      });
      if (r.exitCode !== 0) {
        result.failed.push({
          image,
          reason: 'not present on the host (pull it, or run with image pulling on)',
        });
        continue;
      }
    }
    present.push(image);
  }
  // One `kind load` of every image: one docker save, whose tar holds the layers the images share once, and
  // one import per node (on the lab four Calico and agnhost images load in one go instead of four). When
  // it fails, one load per image finds which image it was (kind skips nodes that already have an image).
  if (present.length > 1) {
    opts.log?.(`loading ${present.length} images into ${opts.clusterName} at once`);
    const all = await runner.run(kind, ['load', 'docker-image', ...present, '--name', opts.clusterName], {
      timeoutMs: 10 * 60_000,
      ...signal,
    });
    if (all.exitCode === 0) {
      result.loaded.push(...present);
      return result;
    }
    opts.log?.(`loading them at once failed (${lastLine(all.stderr || all.stdout)}); one by one`);
  }
  for (const image of present) {
    opts.log?.(`loading ${image} into ${opts.clusterName}`);
    const r = await runner.run(kind, ['load', 'docker-image', image, '--name', opts.clusterName], {
      timeoutMs: 10 * 60_000,
      ...signal,
    });
    if (r.exitCode === 0) result.loaded.push(image);
    else result.failed.push({ image, reason: `kind load failed: ${lastLine(r.stderr || r.stdout)}` });
  }
  return result;
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/**
 * Every image a cell's install pulls: the images its rendered files name (manifest path: calico-node, CNI,
 * kube-controllers; operator path: the operator) and, on the operator path, the components the operator will
 * deploy, under --image-registry when given — Goldmane and Whisker when the rendered custom-resources.yaml
 * creates them (unless opts says otherwise).
 */
export function imagesForCell(
  cell: { install: 'manifest' | 'operator'; imageRegistry?: string },
  rendered: { files: readonly { name: string; content: string }[] },
  entry: CalicoVersion,
  opts: { goldmaneWhisker?: boolean } = {},
): string[] {
  const named = imagesInFiles(rendered.files);
  if (cell.install === 'manifest') return named;
  const goldmaneWhisker =
    opts.goldmaneWhisker ??
    rendered.files.some((f) => f.name === 'custom-resources.yaml' && /^kind: Goldmane\s*$/m.test(f.content));
  return [...new Set([...named, ...operatorComponentImages(entry, cell.imageRegistry, { goldmaneWhisker })])];
}
