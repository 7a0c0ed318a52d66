/**
 * Container image references, the one parser of them in the harness: the renderer's `--image-registry`
 * rewrite (calico/render.ts), the preloaded images (cluster/images.ts) and the upgrade's "runs B" test
 * (upgrade/components.ts) all read an image through here — and the one reader of the images a pod spec or
 * a workload's pod template names (podSpecImages, podTemplateImages).
 *
 * `[registry/]repository[:tag][@digest]`: the first path segment is a registry when it holds a dot or a
 * port colon, or is `localhost` (the rule the docker CLI applies; without one the image is Docker Hub's).
 */

export interface ImageRef {
  /** e.g. `quay.io`, `mirror.local:5000`; absent for a Docker Hub short name such as `calico/node` */
  registry?: string;
  /** the registry-less repository path, e.g. `calico/node` */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImage(ref: string): ImageRef {
  const at = ref.indexOf('@');
  const nameTag = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  const slash = nameTag.lastIndexOf('/');
  const colon = nameTag.lastIndexOf(':');
  const tag = colon > slash ? nameTag.slice(colon + 1) : undefined;
  const parts = (colon > slash ? nameTag.slice(0, colon) : nameTag).split('/');
  const registry = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!) ? parts.shift() : undefined;
  return {
    ...(registry ? { registry } : {}),
    repository: parts.join('/'),
    ...(tag ? { tag } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** The same repository, tag and digest under another registry (a mirror, or quay.io for docker.io). */
export function rewriteImage(ref: string, registry: string): string {
  const own = parseImage(ref).registry;
  return `${registry.replace(/\/+$/, '')}/${own ? ref.slice(own.length + 1) : ref}`;
}

/** `calico`: a Calico component image (`…/calico/<name>`); `operator`: the Tigera operator (`…/tigera/operator`). */
export type ImageRole = 'calico' | 'operator' | 'other';

export function imageRole(ref: string): ImageRole {
  const repo = parseImage(ref).repository;
  if (/(^|\/)tigera\/operator$/.test(repo)) return 'operator';
  if (/(^|\/)calico\/[^/]+$/.test(repo)) return 'calico';
  return 'other';
}

/** Images of Calico and of the Tigera operator: the ones `--image-registry` moves. */
export function isCalicoImage(ref: string): boolean {
  return imageRole(ref) !== 'other';
}

/** The images a pod spec names: its init containers', then its containers', in order (repeats kept). */
export function podSpecImages(podSpec: unknown): string[] {
  if (typeof podSpec !== 'object' || podSpec === null) return [];
  const spec = podSpec as { initContainers?: unknown; containers?: unknown };
  const out: string[] = [];
  for (const list of [spec.initContainers, spec.containers])
    for (const c of Array.isArray(list) ? list : [])
      if (typeof c === 'object' && c !== null && typeof (c as { image?: unknown }).image === 'string')
        out.push((c as { image: string }).image);
  return out;
}

/**
 * The images an object's pods run: a Pod's own spec, or the pod template of a workload (DaemonSet,
 * Deployment, ReplicaSet, StatefulSet, Job: spec.template; CronJob: spec.jobTemplate.spec.template).
 */
export function podTemplateImages(obj: unknown): string[] {
  if (typeof obj !== 'object' || obj === null) return [];
  const o = obj as { kind?: unknown; spec?: { template?: { spec?: unknown }; jobTemplate?: unknown } };
  if (o.kind === 'Pod') return podSpecImages(o.spec);
  const job = o.spec?.jobTemplate as { spec?: { template?: { spec?: unknown } } } | undefined;
  return podSpecImages(o.spec?.template?.spec ?? job?.spec?.template?.spec);
}
