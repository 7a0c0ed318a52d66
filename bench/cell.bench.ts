/**
 * bench:cell (on the lab) — one cell without the policy catalogue, phase by phase, against its floor.
 *
 *   1. the floors, measured here on the same machine just before the cell:
 *      - create: a bare `kind create cluster` of the cell's own kind config with the lab's node image, plus
 *        one `kind load` of the cell's images into it (the lab has no registry: images preloaded is part of
 *        "a cluster that can start Calico"); then that cluster is deleted;
 *      - Calico ready: from the cell's own install evidence, the apply plus the wait until calico-node was
 *        rolled out on every node (an upper bound of "first calico-node Ready after apply");
 *   2. the cell: `run --lab --install manifest --encapsulation VXLAN --workers 1` with every suite test but
 *      the NetworkPolicy catalogue (`--tests '^(?!NetworkPolicy)'`).
 * One line per phase with its time and, where it has one, its floor; phases without a floor count with
 * their own time in floor_s (no cut identified for them). Last line: `cell_s=… floor_s=… ratio=…`.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { imagesForCell } from '../harness/cluster/images.js';
import { renderKindConfig } from '../harness/cluster/kind-config.js';
import { getVersion } from '../harness/config/catalogue.js';
import { buildMatrix } from '../harness/config/matrix.js';
import { labEnvironment } from '../harness/lab/env.js';
import { agnhostImage, labNodeImage, labPaths, readLabLock } from '../harness/lab/lock.js';
import { labStatus } from '../harness/lab/status.js';
import type { RunResults } from '../harness/model/results.js';
import { deleteKindCluster, log, runBench, withCleanup } from './support.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'calico-conformance.js');
const secs = (ms: number) => (ms / 1000).toFixed(1);

async function main(): Promise<number> {
  const status = await labStatus();
  if (!status.complete) throw new Error('the lab is not complete: npm run lab:build');
  const lock = readLabLock();
  const paths = labPaths();
  const env = { ...(process.env as Record<string, string>), ...labEnvironment(lock) };
  const out = mkdtempSync(join(tmpdir(), 'cc-bench-cell-'));
  log(`results under ${out}`);

  // ---- 1. the create floor: bare kind create + one kind load, on the same config
  const [cell] = buildMatrix({
    flags: { calicoVersion: lock.calico.version, install: 'manifest', encapsulation: 'VXLAN', workers: '1' },
  });
  if (!cell) throw new Error('no cell');
  const name = `ccfloor-${process.pid}`;
  const config = join(out, 'kind.yaml');
  writeFileSync(config, renderKindConfig(cell, { clusterName: name }));
  const manifest = readFileSync(join(paths.manifests, lock.calico.version, 'calico.yaml'), 'utf8');
  const images = [
    ...imagesForCell(
      cell,
      { files: [{ name: 'calico.yaml', content: manifest }] },
      getVersion(cell.calicoVersion),
    ),
    agnhostImage(lock),
  ];
  let created = false;
  const deleteFloor = async () => {
    if (created) await deleteKindCluster(paths.kind, name, env);
  };
  const { createFloorMs, loadFloorMs } = await withCleanup(deleteFloor, async () => {
    let t = performance.now();
    created = true;
    await execa(
      paths.kind,
      [
        'create',
        'cluster',
        '--name',
        name,
        '--image',
        labNodeImage(lock),
        '--config',
        config,
        '--kubeconfig',
        join(out, 'floor.kubeconfig'),
      ],
      { env, timeout: 10 * 60_000 },
    );
    const createMs = performance.now() - t;
    t = performance.now();
    await execa(paths.kind, ['load', 'docker-image', ...images, '--name', name], {
      env,
      timeout: 10 * 60_000,
    });
    const loadMs = performance.now() - t;
    log(`floor: kind create ${secs(createMs)} s, kind load of ${images.length} images ${secs(loadMs)} s`);
    return { createFloorMs: createMs, loadFloorMs: loadMs };
  });

  // ---- 2. the cell, without the policy catalogue
  const dir = join(out, 'cell');
  const r = await execa(
    process.execPath,
    [
      BIN,
      'run',
      '--lab',
      '--install',
      'manifest',
      '--encapsulation',
      'VXLAN',
      '--workers',
      '1',
      '--tests',
      '^(?!NetworkPolicy)',
      '--report-dir',
      dir,
    ],
    { env: { ...env, CI: 'true' }, reject: false, all: true, timeout: 60 * 60_000 },
  );
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResults;
  const c = results.cells[0];
  if (!c) throw new Error(`no cell result (exit ${r.exitCode}):\n${r.all?.slice(-3000)}`);
  const install = c.phases.find((p) => p.name === 'install');
  const ms = (re: RegExp) => Number(re.exec(install?.evidence.join('\n') ?? '')?.[1] ?? Number.NaN);
  const applyMs = ms(/apply calico\.yaml .*\((\d+)ms\)/);
  const rolloutMs = ms(/calico-node DaemonSet rolled out: done \((\d+)ms\)/);
  const floors: Record<string, number> = {
    'create-cluster': createFloorMs,
    // the phase loads the images too: its floor is the load plus Calico ready
    install: loadFloorMs + applyMs + rolloutMs,
  };
  let cellMs = 0;
  let floorMs = 0;
  for (const p of c.phases) {
    const f = floors[p.name];
    cellMs += p.durationMs;
    floorMs += Number.isFinite(f) ? f! : p.durationMs;
    console.log(
      `${p.name.padEnd(20)} ${p.outcome.padEnd(8)} ${secs(p.durationMs).padStart(6)} s` +
        (f !== undefined && Number.isFinite(f) ? `   floor ${secs(f)} s` : ''),
    );
  }
  console.log(
    `cell_s=${secs(cellMs)} floor_s=${secs(floorMs)} ratio=${(cellMs / floorMs).toFixed(2)} outcome=${c.outcome}`,
  );
  return c.outcome === 'passed' ? 0 : 1;
}

runBench('bench:cell', main);
