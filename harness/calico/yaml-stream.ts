/**
 * A multi-document upstream YAML file parsed once into ASTs (eemeli/yaml Documents) and plain objects, with
 * each document's source range so that documents the renderer does not edit are written back byte-for-byte.
 */
import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import { ManifestError } from './source.js';

export interface ObjectRef {
  kind: string;
  apiVersion: string;
  namespace?: string;
  name: string;
}

export interface StreamDoc {
  /** the parsed AST; never edit it in place (it is shared): clone it first */
  doc: Document.Parsed;
  /** [start, end) of this document's content in the source text */
  range: [number, number];
  /** plain value; null for an empty document */
  value: unknown;
}

export interface YamlStream {
  /** label for messages, e.g. `v3.28.5/calico.yaml` */
  file: string;
  text: string;
  docs: StreamDoc[];
}

const cache = new Map<string, YamlStream>();
const CACHE_LIMIT = 8;

/**
 * Parses a multi-document YAML file; malformed YAML is a ManifestError naming the file and line. Results
 * are kept for the last few distinct texts: the fixtures are MBs and the 90-render matrix reuses them.
 */
export function parseStream(text: string, file: string): YamlStream {
  const hit = cache.get(text);
  if (hit && hit.file === file) return hit;
  const lines = new LineCounter();
  // an empty text gives an empty stream (no documents), which the renderers report by what they miss
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const docs: StreamDoc[] = [];
  for (const doc of parsed) {
    const err = doc.errors[0];
    if (err) {
      const pos = lines.linePos(err.pos[0]);
      throw new ManifestError(
        `${file}: malformed YAML at line ${pos.line} column ${pos.col}: ${err.message.split('\n')[0]}; ` +
          'the upstream file is damaged or not a Kubernetes manifest (re-download it, or fix the copy in --manifests-dir)',
        file,
      );
    }
    const range = doc.range;
    docs.push({ doc, range: [range[0], range[2]], value: doc.toJS({ maxAliasCount: 1000 }) });
  }
  const stream: YamlStream = { file, text, docs };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(text, stream);
  return stream;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every Kubernetes object of the stream (empty documents skipped); a document that is not one is an error. */
export function objectsOf(stream: YamlStream): ObjectRef[] {
  const out: ObjectRef[] = [];
  for (const [i, d] of stream.docs.entries()) {
    if (d.value === null || d.value === undefined) continue;
    out.push(objectRef(d.value, `${stream.file} document ${i + 1}`));
  }
  return out;
}

export function objectRef(value: unknown, where: string): ObjectRef {
  if (!isObject(value)) throw new ManifestError(`${where}: not a mapping (a Kubernetes object)`, where);
  const meta = value.metadata;
  if (typeof value.kind !== 'string' || typeof value.apiVersion !== 'string' || !isObject(meta)) {
    throw new ManifestError(`${where}: not a Kubernetes object (needs apiVersion, kind, metadata)`, where);
  }
  if (typeof meta.name !== 'string' || meta.name === '') {
    throw new ManifestError(`${where}: ${value.kind} without metadata.name`, where);
  }
  return {
    kind: value.kind,
    apiVersion: value.apiVersion,
    ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
    name: meta.name,
  };
}

export function refText(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

/**
 * The stream's text with some documents replaced by new text (others byte-for-byte as upstream wrote them).
 * `replacements` maps a document index to its new content (ending in a newline).
 */
export function spliceDocuments(stream: YamlStream, replacements: Map<number, string>): string {
  const order = [...replacements.keys()].sort((a, b) => a - b);
  let out = '';
  let at = 0;
  for (const i of order) {
    const d = stream.docs[i];
    if (!d) throw new Error(`spliceDocuments: no document ${i} in ${stream.file}`);
    out += stream.text.slice(at, d.range[0]);
    let body = replacements.get(i)!;
    // the original range ends where the next separator starts; keep that separator from the source
    const original = stream.text.slice(d.range[0], d.range[1]);
    if (!original.endsWith('\n') && body.endsWith('\n')) body = body.slice(0, -1);
    out += body;
    at = d.range[1];
  }
  return out + stream.text.slice(at);
}
