/**
 * The two Calico install paths, rendered for one cell from the real upstream files.
 *
 * Manifest path: calico.yaml with AST edits of the parsed YAML (eemeli/yaml Documents), never text
 * substitution. Documents that need no edit are written back byte-for-byte; edited documents are written as
 * upstream's text plus each edit at its AST node's position (doc-editor.ts), checked to parse back to the
 * edited AST, so a rendered file differs from upstream by exactly the intended edits. The per-mode edit table
 * (docs/calico-facts.md, "Encapsulation on the manifest path") is proven against upstream's own
 * calico-vxlan.yaml (= VXLANCrossSubnet with BIRD off).
 *
 * Operator path: tigera-operator.yaml (and operator-crds.yaml from v3.30) as upstream wrote them, apart from
 * the operator image when a registry is given, plus custom resources generated from the cell and validated
 * against the CRD schemas of the same version.
 */
import { Document, isMap, isScalar, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import { type CalicoFile, type CalicoVersion, getVersion, type ProbeStyle } from '../config/catalogue.js';
import { type Cell, poolModes, SPLIT_SUBNET_RANGES } from '../config/cell.js';
import { isCalicoImage, podTemplateImages, rewriteImage } from '../config/image.js';
import { ConfigError, UsageError } from '../errors.js';
import { DocEditor } from './doc-editor.js';
import { ManifestError, type ManifestSource } from './source.js';
import {
  checkBuiltins,
  crdSchemas,
  type Problem,
  RenderValidationError,
  validateCustomResources,
} from './validate.js';
import {
  isObject,
  type ObjectRef,
  objectsOf,
  parseStream,
  spliceDocuments,
  type YamlStream,
} from './yaml-stream.js';

export type { ObjectRef } from './yaml-stream.js';

export interface ApplyStep {
  file: string;
  /** server-side apply (needed where an object is over the 256 KiB client-side annotation limit) */
  serverSide: boolean;
  /** what to wait for after applying this file, before the next step */
  then?: 'crds-established' | 'operator-available' | 'tigerastatus-available' | 'calico-node-ready';
  /** for `tigerastatus-available`: every TigeraStatus that must report Available */
  tigeraStatuses?: string[];
  /** for `crds-established`: the CRDs (`plural.group`) to wait for */
  crds?: string[];
}

export interface RenderedCell {
  kindConfig?: never;
  files: { name: string; content: string }[];
  applyPlan: ApplyStep[];
  /** what uninstall must delete, in deletion order (custom resources, then workloads, then CRDs last) */
  objects: ObjectRef[];
}

export interface RenderOptions {
  /**
   * The Goldmane and Whisker CRs (v3.30+). Unset: what upstream's custom-resources.yaml creates (the catalogue's
   * customResources: both from v3.30), and their TigeraStatus is waited for. false leaves them out (a lab that
   * cannot build Whisker's UI image); true on a version without them is a usage error.
   */
  goldmaneWhisker?: boolean;
}

export interface RenderedManifest {
  name: 'calico.yaml';
  content: string;
  objects: ObjectRef[];
  /** the plain objects of the rendered file, in order (for validation) */
  documents: unknown[];
}

/** A comment placed before the first entry the renderer adds, so a reader of the file knows its origin. */
const ADDED_BY = ' Added by calico-conformance render for this cell (harness/calico/render.ts)';

// ---------------------------------------------------------------------------------------------------------
// Manifest path

/** calico.yaml of one cell. Pure: upstream text (or its parsed stream) in, rendered text out. */
export function renderManifest(
  cell: Cell,
  upstreamCalicoYaml: string | YamlStream,
  entry: CalicoVersion,
): RenderedManifest {
  const file = `${entry.version}/calico.yaml`;
  const stream =
    typeof upstreamCalicoYaml === 'string' ? parseStream(upstreamCalicoYaml, file) : upstreamCalicoYaml;
  const modes = poolModes(cell.encapsulation);
  // BIRD distributes routes for IPIP and unencapsulated pools (≤ v3.30 Felix cannot program them:
  // ProgramClusterRoutes first appears in v3.31, felix/config/config_params.go); the VXLAN modes run the
  // `vxlan` backend when BGP is off, as upstream's calico-vxlan.yaml does.
  const backend = cell.bgp === 'Enabled' ? 'bird' : 'vxlan';
  if (backend === 'vxlan' && modes.vxlanMode === 'Never') {
    throw new ConfigError(
      'bgp',
      cell.bgp,
      `allowed with encapsulation ${cell.encapsulation} on the manifest path: Enabled (routes come from BIRD)`,
    );
  }

  const replacements = new Map<number, string>();
  const values = stream.docs.map((d) => d.value);
  const edit = (index: number, fn: (ed: DocEditor) => void) => {
    const ed = editorFor(stream, index);
    fn(ed);
    replacements.set(
      index,
      ed.toString((doc) => stringifyDoc(doc, stream.docs[index]!.range, stream.text)),
    );
    values[index] = ed.doc.toJS();
  };

  const configMap = findDoc(stream, 'ConfigMap', 'calico-config');
  edit(configMap, (ed) => {
    const node = ed.doc.getIn(['data', 'calico_backend'], true);
    if (!isScalar(node) || typeof node.value !== 'string') {
      throw new ManifestError(`${file}: ConfigMap calico-config has no data.calico_backend`, file);
    }
    ed.setScalar(node, backend);
  });

  const daemonSet = findDoc(stream, 'DaemonSet', 'calico-node');
  edit(daemonSet, (ed) => {
    const node = container(ed.doc, 'containers', 'calico-node', file);
    const env = node.get('env', true);
    if (!isSeq(env)) throw new ManifestError(`${file}: calico-node container has no env list`, file);
    setEnv(ed, env, 'CALICO_IPV4POOL_IPIP', modes.ipipMode, file, true);
    setEnv(ed, env, 'CALICO_IPV4POOL_VXLAN', modes.vxlanMode, file, true);
    // upstream's calico-vxlan.yaml switches the IPv6 pool's VXLAN mode with the IPv4 one; it only acts
    // where IPv6 is enabled, but matching it keeps the render equal to upstream's own VXLAN variant
    setEnv(ed, env, 'CALICO_IPV6POOL_VXLAN', modes.vxlanMode, file, true);
    // commented out upstream, so the pool would follow kubeadm's podSubnet (calico.yaml env); the cell's pool
    // is explicit
    setEnv(ed, env, 'CALICO_IPV4POOL_CIDR', cell.ipPoolCIDR, file);
    setEnv(ed, env, 'CALICO_IPV4POOL_BLOCK_SIZE', String(cell.blockSize), file);
    setEnv(ed, env, 'CALICO_IPV4POOL_NAT_OUTGOING', String(cell.natOutgoing), file);
    const autodetect = autodetectionCidrs(cell);
    if (autodetect) setEnv(ed, env, 'IP_AUTODETECTION_METHOD', `cidr=${autodetect.join(',')}`, file);
    for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
      editProbe(ed, node, probe, entry, backend === 'bird', file);
    }
    if (cell.imageRegistry) rewriteWorkloadImages(ed, cell.imageRegistry);
  });

  if (cell.imageRegistry) {
    for (const [i, d] of stream.docs.entries()) {
      if (i === daemonSet || !isObject(d.value) || !hasPodTemplate(d.value)) continue;
      const images = podTemplateImages(d.value);
      if (!images.some((img) => isCalicoImage(img))) continue;
      edit(i, (ed) => rewriteWorkloadImages(ed, cell.imageRegistry!));
    }
  }

  return {
    name: 'calico.yaml',
    content: spliceDocuments(stream, replacements),
    objects: objectsOf(stream),
    documents: values.filter((v) => v !== null && v !== undefined),
  };
}

/**
 * An edited document in upstream's style: no line folding, and list items indented under their key or not as
 * most lists of the original document are (upstream moved from one style to the other in v3.31;
 * docs/calico-facts.md, "Probes").
 */
function stringifyDoc(doc: Document, range: [number, number], text: string): string {
  const original = text.slice(range[0], range[1]);
  const indented = original.match(/^( *)[^\s#-][^\n]*:\n\1 {2}- /gm)?.length ?? 0;
  const flush = original.match(/^( *)[^\s#-][^\n]*:\n\1- /gm)?.length ?? 0;
  return doc.toString({ lineWidth: 0, indentSeq: indented > flush, flowCollectionPadding: false });
}

function editorFor(stream: YamlStream, index: number): DocEditor {
  const d = stream.docs[index]!;
  return new DocEditor(d.doc.clone(), stream.text, d.range);
}

function findDoc(stream: YamlStream, kind: string, name: string): number {
  const i = stream.docs.findIndex(
    (d) =>
      isObject(d.value) &&
      d.value.kind === kind &&
      isObject(d.value.metadata) &&
      d.value.metadata.name === name,
  );
  if (i < 0) {
    throw new ManifestError(
      `${stream.file}: no ${kind} ${name}; this does not look like Calico's calico.yaml (wrong file in --manifests-dir?)`,
      stream.file,
    );
  }
  return i;
}

function container(
  doc: Document,
  list: 'containers' | 'initContainers',
  name: string,
  file: string,
): YAMLMap {
  const seq = doc.getIn(['spec', 'template', 'spec', list], true);
  if (isSeq(seq)) {
    for (const item of seq.items) if (isMap(item) && item.get('name') === name) return item;
  }
  throw new ManifestError(`${file}: no ${list} entry named ${name}`, file);
}

/**
 * Sets env NAME to a literal value: an existing entry keeps its place and comments (a valueFrom is
 * replaced); a missing one is appended. `mustExist` is for the variables every catalogued calico.yaml has.
 */
function setEnv(
  ed: DocEditor,
  env: YAMLSeq,
  name: string,
  value: string,
  file: string,
  mustExist = false,
): void {
  for (const item of env.items) {
    if (!isMap(item) || item.get('name') !== name) continue;
    const prev = item.get('value', true);
    if (isScalar(prev) && !item.has('valueFrom')) ed.setScalar(prev, value);
    else ed.replaceInMap(item, 'valueFrom', 'value', value);
    return;
  }
  if (mustExist)
    throw new ManifestError(
      `${file}: calico-node has no env ${name} (docs/calico-facts.md "calico.yaml: ConfigMap and calico-node env")`,
      file,
    );
  const first = !env.items.some((i) => isMap(i) && i.commentBefore?.includes('calico-conformance'));
  ed.appendNameValue(env, name, value, first ? ADDED_BY : undefined);
}

/** The CIDRs Calico's node address autodetection must pick from, for the split-subnet topology. */
export function autodetectionCidrs(cell: Cell): string[] | undefined {
  // flat: upstream's default (first-found) already picks eth0, the only non-loopback interface of a kind
  // node (kind attaches every node to exactly one docker network, `kind`: kind
  // pkg/cluster/internal/providers/docker/network.go)
  return cell.topology === 'split-subnet' ? [...SPLIT_SUBNET_RANGES] : undefined;
}

interface ProbeForm {
  style: 'flag-list' | 'component-health';
  birdFlag: string;
}

const PROBE_FAMILY: Record<ProbeStyle, ProbeForm['style']> = {
  'flag-list': 'flag-list',
  'flag-list-indented': 'flag-list',
  'component-health': 'component-health',
};

/** Recognises the probe command forms listed in docs/calico-facts.md, "Probes"; anything else is an error. */
export function probeForm(command: readonly unknown[], kind: 'live' | 'ready'): ProbeForm | undefined {
  if (!command.every((s) => typeof s === 'string')) return undefined;
  const words = command as string[];
  // ≤ v3.32: ["/bin/calico-node", "-felix-live", "-bird-live"]
  if (
    /(^|\/)calico-node$/.test(words[0] ?? '') &&
    words.slice(1).every((w) => /^-[a-z]+-(live|ready)$/.test(w))
  ) {
    if (words.includes(`-felix-${kind}`)) return { style: 'flag-list', birdFlag: `-bird-${kind}` };
  }
  // master: ["calico", "component", "node", "health", "--felix-live", "--bird-live"]
  if (
    /(^|\/)calico$/.test(words[0] ?? '') &&
    words[1] === 'component' &&
    words[2] === 'node' &&
    words[3] === 'health' &&
    words.slice(4).every((w) => /^--[a-z]+-(live|ready)$/.test(w)) &&
    words.includes(`--felix-${kind}`)
  ) {
    return { style: 'component-health', birdFlag: `--bird-${kind}` };
  }
  return undefined;
}

function editProbe(
  ed: DocEditor,
  node: YAMLMap,
  probe: 'livenessProbe' | 'readinessProbe',
  entry: CalicoVersion,
  keepBird: boolean,
  file: string,
): void {
  const kind = probe === 'livenessProbe' ? 'live' : 'ready';
  const cmd = node.getIn([probe, 'exec', 'command'], true);
  const words = isSeq(cmd) ? cmd.items.map((i) => (isScalar(i) ? i.value : i)) : undefined;
  const form = words ? probeForm(words, kind) : undefined;
  const expected = PROBE_FAMILY[entry.probeStyle];
  if (!isSeq(cmd) || !form || form.style !== expected || !words!.includes(form.birdFlag)) {
    throw new ManifestError(
      `${file}: unknown form of calico-node's ${probe}: ${JSON.stringify(words ?? node.get(probe) ?? null)}; ` +
        `the catalogue expects the ${entry.probeStyle} form for ${entry.version} ` +
        `(["/bin/calico-node","-felix-${kind}","-bird-${kind}"] or ["calico","component","node","health","--felix-${kind}","--bird-${kind}"]). ` +
        'Teach harness/calico/render.ts probeForm and the catalogue the new form before rendering this version',
      file,
    );
  }
  if (keepBird) return;
  // the vxlan backend runs no BIRD, so a BIRD health check would never pass (upstream's calico-vxlan.yaml
  // drops the BIRD flags too, as does Calico's install doc
  // getting-started/kubernetes/installation/config-options.md)
  for (const item of cmd.items) {
    if (isScalar(item) && item.value === form.birdFlag) ed.removeItem(cmd, item);
  }
}

function hasPodTemplate(v: Record<string, unknown>): boolean {
  return isObject(v.spec) && isObject(v.spec.template);
}

function rewriteWorkloadImages(ed: DocEditor, registry: string): void {
  for (const list of ['initContainers', 'containers']) {
    const seq = ed.doc.getIn(['spec', 'template', 'spec', list], true);
    if (!isSeq(seq)) continue;
    for (const c of seq.items) {
      if (!isMap(c)) continue;
      const img = c.get('image', true);
      if (isScalar(img) && typeof img.value === 'string' && isCalicoImage(img.value)) {
        ed.setScalar(img, rewriteImage(img.value, registry));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Operator path

export interface RenderedResources {
  name: 'custom-resources.yaml';
  content: string;
  /** the custom resources, in apply order */
  documents: Record<string, unknown>[];
  objects: ObjectRef[];
  /** TigeraStatus names that must be Available once these are applied */
  tigeraStatuses: string[];
}

/**
 * The custom resources of one cell: the set upstream's custom-resources.yaml creates for the version
 * (Installation, APIServer; Goldmane and Whisker from v3.30 unless turned off), the Installation shaped by the
 * cell. Pure.
 */
export function renderOperatorResources(
  cell: Cell,
  entry: CalicoVersion,
  opts: RenderOptions = {},
): RenderedResources {
  if (cell.bgp === 'Disabled' && !entry.operatorBgpDisabledAllows.includes(cell.encapsulation)) {
    throw new ConfigError(
      'bgp',
      cell.bgp,
      `allowed with encapsulation ${cell.encapsulation} on the operator path of ${entry.version}: Enabled ` +
        `(operator ${entry.operatorVersion} accepts BGP Disabled only with ${entry.operatorBgpDisabledAllows.join(', ')})`,
    );
  }
  if (opts.goldmaneWhisker === true && !entry.goldmaneWhisker) {
    throw new UsageError(
      `--goldmane-whisker: Goldmane and Whisker exist from Calico v3.30; ${entry.version} has no such CRDs`,
      'goldmane-whisker',
    );
  }
  const goldmaneWhisker = opts.goldmaneWhisker ?? entry.goldmaneWhisker;
  const pool: Record<string, unknown> = {
    ...(entry.ipPoolNameSupported ? { name: 'default-ipv4-ippool' } : {}),
    cidr: cell.ipPoolCIDR,
    blockSize: cell.blockSize,
    encapsulation: cell.encapsulation,
    natOutgoing: cell.natOutgoing ? 'Enabled' : 'Disabled',
    nodeSelector: 'all()',
  };
  const calicoNetwork: Record<string, unknown> = { bgp: cell.bgp };
  // v3.32+ operators accept IPIP (master also None) without BGP only when Felix programs the routes
  // (operator pkg/controller/installation/validation.go)
  if (cell.bgp === 'Disabled' && entry.operatorFelixRoutingFor.includes(cell.encapsulation)) {
    calicoNetwork.clusterRoutingMode = 'Felix';
  }
  calicoNetwork.ipPools = [pool];
  const cidrs = autodetectionCidrs(cell);
  if (cidrs) calicoNetwork.nodeAddressAutodetectionV4 = { cidrs };
  const installationSpec: Record<string, unknown> = { calicoNetwork };
  // the Installation's registry must end with "/" (installations CRD: `<registry><imagePath>/<image>`)
  if (cell.imageRegistry) installationSpec.registry = `${cell.imageRegistry.replace(/\/+$/, '')}/`;

  const documents: Record<string, unknown>[] = entry.customResources
    .filter((kind) => goldmaneWhisker || (kind !== 'Goldmane' && kind !== 'Whisker'))
    .map((kind) => cr(kind, kind === 'Installation' ? installationSpec : {}));
  const header = [
    `# Calico ${entry.version} operator custom resources for cell ${cell.id}`,
    '# rendered by calico-conformance (harness/calico/render.ts) from the cell; shape as upstream custom-resources.yaml',
  ].join('\n');
  const content = `${header}\n${documents.map((d) => new Document(d).toString({ lineWidth: 0 })).join('---\n')}`;
  return {
    name: 'custom-resources.yaml',
    content,
    documents,
    objects: documents.map((d) => ({
      kind: String(d.kind),
      apiVersion: String(d.apiVersion),
      name: 'default',
    })),
    tigeraStatuses: [...entry.tigeraStatuses, ...(goldmaneWhisker ? entry.goldmaneWhiskerStatuses : [])],
  };
}

function cr(kind: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'operator.tigera.io/v1', kind, metadata: { name: 'default' }, spec };
}

/** tigera-operator.yaml as upstream wrote it, with the operator image moved to the cell's registry. */
export function renderTigeraOperator(
  cell: Cell,
  upstream: string | YamlStream,
  entry: CalicoVersion,
): { content: string; documents: unknown[]; objects: ObjectRef[] } {
  const file = `${entry.version}/tigera-operator.yaml`;
  const stream = typeof upstream === 'string' ? parseStream(upstream, file) : upstream;
  const index = findDoc(stream, 'Deployment', 'tigera-operator');
  const values = stream.docs.map((d) => d.value);
  const replacements = new Map<number, string>();
  if (cell.imageRegistry) {
    const ed = editorFor(stream, index);
    const c = container(ed.doc, 'containers', 'tigera-operator', file);
    const img = c.get('image', true);
    if (!isScalar(img) || typeof img.value !== 'string' || !isCalicoImage(img.value)) {
      throw new ManifestError(`${file}: the tigera-operator container has no tigera/operator image`, file);
    }
    ed.setScalar(img, rewriteImage(img.value, cell.imageRegistry));
    replacements.set(
      index,
      ed.toString((doc) => stringifyDoc(doc, stream.docs[index]!.range, stream.text)),
    );
    values[index] = ed.doc.toJS();
  }
  return {
    content: replacements.size ? spliceDocuments(stream, replacements) : stream.text,
    documents: values.filter((v) => v !== null && v !== undefined),
    objects: objectsOf(stream),
  };
}

// ---------------------------------------------------------------------------------------------------------
// One cell, from a manifest source

/** Renders, validates and plans one cell. Throws RenderValidationError when a rendered object is invalid. */
export async function renderCell(
  cell: Cell,
  source: ManifestSource,
  opts: RenderOptions = {},
): Promise<RenderedCell> {
  const entry = getVersion(cell.calicoVersion);
  const read = async (file: CalicoFile) =>
    parseStream(await source.read(entry.version, file), `${entry.version}/${file}`);

  if (cell.install === 'manifest') {
    const m = renderManifest(cell, await read('calico.yaml'), entry);
    fail(`${entry.version}/calico.yaml for ${cell.id}`, checkBuiltins(m.documents));
    return {
      files: [{ name: m.name, content: m.content }],
      // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
      applyPlan: [{ file: 'calico.yaml', serverSide: true, then: 'calico-node-ready' }],
      // deletion order: the workloads and their RBAC first, the CRDs (and with them every Calico resource
      // made at runtime: IPPools, IPAM blocks, FelixConfiguration) last
      objects: [
        ...m.objects.filter((o) => o.kind !== 'CustomResourceDefinition'),
        ...m.objects.filter((o) => o.kind === 'CustomResourceDefinition'),
      ],
    };
  }

  const crds = entry.operatorCrdsSeparate ? await read('operator-crds.yaml') : undefined;
  const operatorStream = await read('tigera-operator.yaml');
  const operator = renderTigeraOperator(cell, operatorStream, entry);
  const resources = renderOperatorResources(cell, entry, opts);
  const schemas = crdSchemas(crds ? [crds] : [operatorStream]);
  fail(`custom-resources.yaml for ${cell.id}`, validateCustomResources(resources.documents, schemas));
  fail(`${entry.version}/tigera-operator.yaml for ${cell.id}`, checkBuiltins(operator.documents));

  const crdObjects = crds ? objectsOf(crds) : [];
  const files = [
    ...(crds ? [{ name: 'operator-crds.yaml', content: crds.text }] : []),
    { name: 'tigera-operator.yaml', content: operator.content },
    { name: resources.name, content: resources.content },
  ];
  const operatorCrdNames = (crds ? crdObjects : operator.objects)
    .filter((o) => o.kind === 'CustomResourceDefinition' && o.name.endsWith('.operator.tigera.io'))
    .map((o) => o.name);
  const applyPlan: ApplyStep[] = [
    ...(crds
      ? [
          {
            file: 'operator-crds.yaml',
            serverSide: true,
            // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
            then: 'crds-established' as const,
            crds: operatorCrdNames,
          },
        ]
      : []),
    // installations.operator.tigera.io is 336–666 KB of JSON, over the 262144-byte last-applied annotation
    // limit of client-side apply, so the operator file goes server-side
    {
      file: 'tigera-operator.yaml',
      serverSide: true,
      // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
      then: 'operator-available',
      // ≤ v3.29 the operator CRDs come inline in this file: a flow can wait for them to be Established too
      ...(crds ? {} : { crds: operatorCrdNames }),
    },
    {
      file: resources.name,
      serverSide: true,
      // biome-ignore lint/suspicious/noThenProperty: `then` is ApplyStep's agreed public field name
      then: 'tigerastatus-available',
      tigeraStatuses: resources.tigeraStatuses,
    },
  ];
  // deletion order (operator finalizers; docs/calico-facts.md, "Uninstall order"): the custom resources first
  // so the operator can remove what it made, then the operator, then the CRDs (which also removes the
  // IPPools)
  const objects = [
    ...resources.objects,
    ...operator.objects.filter((o) => o.kind !== 'CustomResourceDefinition'),
    ...operator.objects.filter((o) => o.kind === 'CustomResourceDefinition'),
    ...crdObjects,
  ];
  return { files, applyPlan, objects };
}

function fail(what: string, problems: Problem[]): void {
  if (problems.length > 0) throw new RenderValidationError(what, problems);
}
