/**
 * Multi-document YAML → Kubernetes objects, the way @kubernetes/client-node 1.4.0 needs them.
 *
 * Why not `loadAllYaml` on the whole text: it throws on an empty or comment-only document (a trailing `---`),
 * and Calico's manifests have those (client-node src/yaml.ts: it reads `apiVersion` of a null document). Why
 * `loadYaml` per document rather than another parser: KubernetesObjectApi re-serialises built-in kinds
 * through its typed model and drops keys it does not know (`x-kubernetes-int-or-string`,
 * `x-kubernetes-preserve-unknown-fields`, which Calico's CRDs use) unless the object came from the library's
 * own typed `loadYaml` (kubernetes-client/javascript#2483; the 1.4.0 fix covers the loadYaml path only).
 */
import { type KubernetesObject, loadYaml } from '@kubernetes/client-node';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** Splits on `---` lines, drops empty and comment-only documents, and deserialises each with loadYaml. */
export function parseManifest(text: string, source = 'manifest'): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  const chunks = text.split(/^---[ \t]*(?:#.*)?$/m);
  chunks.forEach((chunk, i) => {
    if (chunk.replace(/#.*$/gm, '').trim() === '') return;
    let obj: KubernetesObject | null;
    try {
      obj = loadYaml<KubernetesObject>(chunk);
    } catch (err) {
      throw new Error(`${source}: document ${i + 1} is not valid YAML: ${(err as Error).message}`);
    }
    if (obj === null || typeof obj !== 'object') return;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
      throw new Error(
        `${source}: document ${i + 1} lacks apiVersion, kind or metadata.name (got ${JSON.stringify({
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata?.name,
        })})`,
      );
    out.push(obj);
  });
  return out;
}

export function refOf(obj: KubernetesObject | ObjectRef): ObjectRef {
  if ('metadata' in obj && obj.metadata) {
    const o = obj as KubernetesObject;
    return {
      apiVersion: o.apiVersion ?? '',
      kind: o.kind ?? '',
      name: o.metadata?.name ?? '',
      ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
    };
  }
  const r = obj as ObjectRef;
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    name: r.name,
    ...(r.namespace ? { namespace: r.namespace } : {}),
  };
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

export function isCrd(obj: KubernetesObject | ObjectRef): boolean {
  return obj.kind === 'CustomResourceDefinition';
}
