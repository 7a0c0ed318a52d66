/**
 * `render --out DIR [--manifests-dir DIR] [--allow-unpinned]` + cell options (docs/contracts.md, "Command
 * line"): writes kind-config.yaml and the Calico files of one cell, validated, and prints what it wrote.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { renderCell } from '../../calico/render.js';
import {
  defaultCacheDir,
  HttpsCacheSource,
  LocalDirSource,
  loadLock,
  type ManifestSource,
} from '../../calico/source.js';
import { imagesForCell } from '../../cluster/images.js';
import { clusterNameFor as harnessClusterName } from '../../cluster/kind.js';
import { mirrorHostsToml, renderKindConfig } from '../../cluster/kind-config.js';
import { getVersion } from '../../config/catalogue.js';
import type { Cell } from '../../config/cell.js';
import { parseImage } from '../../config/image.js';
import { ExitCode, UsageError } from '../../errors.js';
import { shellWord } from '../../exec/process.js';
import { CELL_OPTIONS, goldmaneWhiskerOption, parseCommandArgs, singleCell } from '../args.js';
import type { CliIO } from '../io.js';

export const renderHelp = `calico-conformance render --out DIR [--manifests-dir DIR] [--allow-unpinned] [cell options]
  Writes kind-config.yaml and, for --install manifest: calico.yaml; for operator: operator-crds.yaml
  (v3.30+), tigera-operator.yaml, custom-resources.yaml.
  --manifests-dir DIR   read upstream files from DIR/<version>/<file> instead of downloading
  --allow-unpinned      accept files the sha256 lock does not pin (master) or that differ from it
  --no-goldmane-whisker leave out the Goldmane and Whisker CRs that upstream's custom-resources.yaml
                        creates from v3.30 (rendered by default, as upstream does)
  --goldmane-whisker    insist on them (a usage error before v3.30)
  --cluster-name NAME   kind cluster name in kind-config.yaml (default: derived from the cell)
  --registry-mirror H   pull the cell's images through the mirror H (host[:port], plain HTTP): the kind
                        config makes containerd read /etc/containerd/certs.d, and certs.d/<registry>/
                        hosts.toml is written for each registry the cell's images come from, with the
                        commands that copy them into the nodes once the cluster exists`;

const OPTIONS = {
  ...CELL_OPTIONS,
  out: { type: 'string' as const },
  'manifests-dir': { type: 'string' as const },
  'allow-unpinned': { type: 'boolean' as const },
  'goldmane-whisker': { type: 'boolean' as const },
  'no-goldmane-whisker': { type: 'boolean' as const },
  'cluster-name': { type: 'string' as const },
  'registry-mirror': { type: 'string' as const },
  help: { type: 'boolean' as const },
};

/**
 * The kind cluster name written into kind-config.yaml: the harness's `cc-<cell>-<6 hex>` form (so `cleanup`
 * recognises a cluster made from it), with the hex taken from the cell id to keep `render` reproducible.
 */
export function clusterNameFor(cell: Cell): string {
  return harnessClusterName(cell.id, () => createHash('sha256').update(cell.id).digest('hex').slice(0, 6));
}

export async function renderCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('render', argv, OPTIONS);
  if (values.help) {
    io.out(renderHelp);
    return ExitCode.Ok;
  }
  if (typeof values.out !== 'string' || values.out === '') {
    throw new UsageError('render: --out DIR is required (the folder the files are written to)', 'out');
  }
  const cell = singleCell('render', values);
  const allowUnpinned = values['allow-unpinned'] === true;
  let source: ManifestSource;
  if (typeof values['manifests-dir'] === 'string') {
    source = new LocalDirSource(resolve(io.cwd, values['manifests-dir']));
  } else {
    source = new HttpsCacheSource({
      cacheDir: defaultCacheDir(io.env),
      lock: await loadLock(),
      allowUnpinned,
      warn: (m) => io.err(`render: warning: ${m}`),
    });
  }
  const rendered = await renderCell(cell, source, goldmaneWhiskerOption('render', values));
  const clusterName =
    typeof values['cluster-name'] === 'string' ? values['cluster-name'] : clusterNameFor(cell);
  const kindConfig = renderKindConfig(cell, {
    clusterName,
    ...(typeof values['registry-mirror'] === 'string' ? { registryMirror: values['registry-mirror'] } : {}),
  });

  const out = resolve(io.cwd, values.out);
  await mkdir(out, { recursive: true });
  const files = [{ name: 'kind-config.yaml', content: kindConfig }, ...rendered.files];
  io.out(
    `cell ${cell.id} (Calico ${cell.calicoVersion}, ${cell.install}, ${cell.encapsulation}); upstream from ${source.describe}`,
  );
  for (const f of files) {
    const path = join(out, f.name);
    await writeFile(path, f.content, 'utf8');
    io.out(`  wrote ${path} (${Buffer.byteLength(f.content, 'utf8')} bytes)`);
  }
  if (typeof values['registry-mirror'] === 'string') {
    const mirror = values['registry-mirror'];
    const registries = [
      ...new Set(
        imagesForCell(cell, rendered, getVersion(cell.calicoVersion)).map(
          (i) => parseImage(i).registry ?? 'docker.io',
        ),
      ),
    ];
    for (const registry of registries) {
      const { path, content } = mirrorHostsToml(registry, mirror);
      const local = join(out, 'certs.d', registry, 'hosts.toml');
      await mkdir(dirname(local), { recursive: true });
      await writeFile(local, content, 'utf8');
      io.out(`  wrote ${local} (for ${path} on every node: ${registry} through ${mirror})`);
    }
    io.out('once the cluster exists, before installing Calico, put them on every node:');
    io.out(
      `  for n in $(kind get nodes --name ${shellWord(clusterName)}); do docker cp ${shellWord(join(out, 'certs.d'))}/. "$n":/etc/containerd/certs.d/; done`,
    );
  }
  io.out('apply plan:');
  rendered.applyPlan.forEach((s, i) => {
    const wait = s.then
      ? `, then wait for ${s.then}${s.tigeraStatuses ? ` (${s.tigeraStatuses.join(', ')})` : ''}`
      : '';
    io.out(`  ${i + 1}. ${s.file} (${s.serverSide ? 'server-side apply' : 'apply'}${wait})`);
  });
  return ExitCode.Ok;
}
