/**
 * realDeps(): the pipeline's interfaces bound to the live modules — kind (harness/cluster), the renderer and
 * the install/uninstall flows (harness/calico), @kubernetes/client-node (harness/kube), the node
 * dump and leftover rules (harness/audit), and the suites through vitest (suites/).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { clientNodeStateReader, readClusterState, writeClusterState } from '../audit/cluster-state.js';
import { collectBaseline, collectNodeDump } from '../audit/collect.js';
import { completeUninstallCluster } from '../audit/complete-uninstall.js';
import { auditReport } from '../audit/rules.js';
import type { FlowContext, FlowEvent } from '../calico/flows/context.js';
import { installCalico } from '../calico/flows/install.js';
import { uninstallCalico } from '../calico/flows/uninstall.js';
import { type RenderedCell, renderCell } from '../calico/render.js';
import {
  defaultCacheDir,
  HttpsCacheSource,
  LocalDirSource,
  loadLock,
  type ManifestSource,
} from '../calico/source.js';
import { imagesForCell, preloadImages } from '../cluster/images.js';
import { clusterNameFor, KindProvider } from '../cluster/kind.js';
import { renderKindConfig } from '../cluster/kind-config.js';
import { prepareSplitSubnet } from '../cluster/topology.js';
import { getVersion } from '../config/catalogue.js';
import type { Cell } from '../config/cell.js';
import { clientNodeDiagnosticsKube, collectDiagnostics } from '../diagnostics/index.js';
import { defaultRunner, type ProcessRunner } from '../exec/process.js';
import { ClientNodeKube } from '../kube/client.js';
import { writeNodeDump } from '../node-state/dump.js';
import type { Teardown } from '../state/teardown.js';
import type { PipelineDeps, RenderedFiles, StepContext, SuiteName } from './deps.js';
import { PROJECT_ROOT, runVitestSuite } from './suites.js';

export interface RealDepsOptions {
  runner?: ProcessRunner;
  teardown?: Teardown;
  manifestsDir?: string;
  allowUnpinned?: boolean;
  warn?: (line: string) => void;
  /** kind's own output lines (debug) */
  log?: (line: string) => void;
  /** vitest's own output on the terminal */
  verbose?: boolean;
  /** a test name pattern for every suite run (vitest -t) */
  testNamePattern?: string;
  /** `kind load` the cell's Calico images from the host's docker before installing (offline runs) */
  preloadImages?: boolean;
  /** images loaded into every cluster besides the cell's Calico images (the lab's agnhost) */
  extraImages?: string[];
  /** audit allow-list (rule ids, `by-design`, finding names) */
  auditAllow?: string[];
  /**
   * The Goldmane and Whisker CRs of operator cells (v3.30+): unset renders what upstream's
   * custom-resources.yaml creates (both), false leaves them out (`run --no-goldmane-whisker`)
   */
  goldmaneWhisker?: boolean;
}

export function suiteFile(name: SuiteName): string {
  return `suites/${name}.test.ts`;
}

export async function realDeps(opts: RealDepsOptions = {}): Promise<PipelineDeps> {
  const runner = opts.runner ?? defaultRunner;
  const warn = opts.warn ?? (() => {});
  const provider = new KindProvider({
    runner,
    ...(opts.teardown ? { teardown: opts.teardown } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  let source: ManifestSource | undefined;
  const manifestSource = async (): Promise<ManifestSource> => {
    source ??= opts.manifestsDir
      ? new LocalDirSource(opts.manifestsDir)
      : new HttpsCacheSource({
          cacheDir: defaultCacheDir(),
          lock: await loadLock(),
          allowUnpinned: opts.allowUnpinned ?? false,
          warn,
        });
    return source;
  };

  const renderOpts = opts.goldmaneWhisker !== undefined ? { goldmaneWhisker: opts.goldmaneWhisker } : {};

  const flowContext = async (
    step: StepContext,
    flow: FlowEvent['flow'],
  ): Promise<FlowContext & { lines: string[] }> => {
    const files =
      (step.rendered as RenderedCell | undefined) ??
      (await renderCell(step.cell, await manifestSource(), renderOpts));
    const lines: string[] = [];
    return {
      cell: step.cell,
      kube: ClientNodeKube.fromFile(step.cluster.kubeconfigPath),
      rendered: files,
      version: getVersion(step.cell.calicoVersion),
      signal: step.signal,
      lines,
      status: (e) => {
        const line = `${e.step}: ${e.state}${e.durationMs !== undefined ? ` (${Math.round(e.durationMs)}ms)` : ''}${e.detail ? ` — ${e.detail}` : ''}`;
        if (e.state !== 'start') lines.push(line);
        step.log(`${flow} ${line}`);
      },
    };
  };

  const rendered = new Map<string, Promise<RenderedCell>>();

  const runSuite = async (name: SuiteName, step: StepContext) => {
    const file = suiteFile(name);
    if (!existsSync(join(PROJECT_ROOT, file)))
      throw new Error(`the ${name} suite (${file}) is not in this installation of calico-conformance`);
    step.log(`vitest ${file}`);
    return runVitestSuite({
      files: [file],
      ctx: step.suiteContext,
      outDir: join(step.cellDir, 'vitest'),
      label: name,
      signal: step.signal,
      ...(opts.verbose ? { verbose: true } : {}),
      ...(opts.testNamePattern ? { testNamePattern: opts.testNamePattern } : {}),
    });
  };

  return {
    provider,
    clusterNameFor: (cell: Cell) => clusterNameFor(cell.id),
    kindConfig: (cell, clusterName) => renderKindConfig(cell, { clusterName }),
    // memoised per cell: `run` renders every cell up front (bad input fails before any cluster exists)
    render: async (cell): Promise<RenderedFiles> => {
      let r = rendered.get(cell.id);
      if (!r) {
        r = renderCell(cell, await manifestSource(), renderOpts);
        rendered.set(cell.id, r);
        r.catch(() => rendered.delete(cell.id));
      }
      return r;
    },
    async prepareTopology(step) {
      if (step.cell.topology === 'flat') return [];
      // split-subnet: secondary addresses in two ranges inside the node containers (harness/cluster/topology.ts)
      const { evidence } = await prepareSplitSubnet(
        step.nodes.map((n) => ({ name: n.name, role: n.role, shell: step.cluster.shell(n.name) })),
      );
      return evidence;
    },
    collectBaseline: (shell) => collectBaseline(shell),
    collectNodeDump: (shell, baseline) => collectNodeDump(shell, baseline !== undefined ? { baseline } : {}),
    writeNodeDump: (dir, dump) => void writeNodeDump(dir, dump),
    async install(step) {
      const ctx = await flowContext(step, 'install');
      const preloaded = opts.preloadImages
        ? await loadCellImages(step, runner, step.cell, ctx.rendered, opts.extraImages)
        : [];
      await installCalico(ctx);
      return [...preloaded, ...ctx.lines];
    },
    async uninstall(step) {
      const ctx = await flowContext(step, 'uninstall');
      await uninstallCalico(ctx);
      return ctx.lines;
    },
    completeUninstall: (step, baseline) =>
      completeUninstallCluster({
        kubeconfigPath: step.cluster.kubeconfigPath,
        nodes: step.nodes.map((n) => ({ name: n.name, shell: step.cluster.shell(n.name) })),
        baseline,
        signal: step.signal,
      }),
    verify: (step) => runSuite('mode', step),
    runSuite,
    async audit(step, dumps, dir) {
      const kc = new KubeConfig();
      kc.loadFromFile(step.cluster.kubeconfigPath);
      let cluster: Awaited<ReturnType<typeof readClusterState>> | undefined;
      try {
        cluster = await readClusterState(await clientNodeStateReader(kc));
        writeClusterState(dir, cluster);
      } catch (err) {
        step.log(`API state not readable: ${(err as Error).message}`);
      }
      return auditReport(
        { dumps, ...(cluster ? { cluster } : {}) },
        { nodeImage: step.cell.nodeImage, ...(opts.auditAllow ? { allow: opts.auditAllow } : {}) },
      );
    },
    async collectDiagnostics(step, dir) {
      const kc = new KubeConfig();
      kc.loadFromFile(step.cluster.kubeconfigPath);
      const r = await collectDiagnostics({
        clusterName: step.cluster.name,
        kubeconfigPath: step.cluster.kubeconfigPath,
        outDir: dir,
        runner,
        kube: clientNodeDiagnosticsKube(kc),
        nodeDumps: async (d) => {
          for (const n of step.nodes) writeNodeDump(d, await collectNodeDump(step.cluster.shell(n.name)));
        },
      });
      return `${r.written.length} item(s)${r.failed.length ? `; not collected: ${r.failed.join('; ')}` : ''}`;
    },
  };
}

/**
 * `kind load` of a cell's Calico images (and `extra`) from this host's docker into the step's cluster
 * (offline runs, the lab); evidence lines, one per image that could not be loaded.
 */
export async function loadCellImages(
  step: StepContext,
  runner: ProcessRunner,
  cell: Cell,
  rendered: RenderedFiles,
  extra: readonly string[] = [],
): Promise<string[]> {
  const images = [...imagesForCell(cell, rendered, getVersion(cell.calicoVersion)), ...extra];
  const r = await preloadImages({
    clusterName: step.cluster.name,
    images,
    runner,
    signal: step.signal,
    log: (l) => step.log(l),
  });
  return [
    `preloaded ${r.loaded.length} of ${images.length} image(s) of Calico ${cell.calicoVersion} with kind load`,
    ...r.failed.map((f) => `not preloaded ${f.image}: ${f.reason}`),
  ];
}
