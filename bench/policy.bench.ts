/**
 * bench:policy (on the lab) — the full NetworkPolicy catalogue on one VXLAN cell, one scenario at a time
 * and K at a time, on the same cluster in the same run, with the verdicts compared.
 *
 *   1. `run --lab --install manifest --encapsulation VXLAN --workers 1 --until verify`: a real cluster with
 *      real Calico, kept;
 *   2. the policy suite against it with `--policy-concurrency 1`, then with `--policy-concurrency K`
 *      (`--skip-install --tests NetworkPolicy`, the lab's calicoctl so the Calico scenarios run too);
 *   3. the cluster is deleted (also on SIGINT/SIGTERM).
 *
 * Each run's time is its policy phase (pods made once, control round, every scenario, namespaces gone).
 * Exit 1 when the two runs disagree on any scenario's verdict or a scenario did not pass.
 * Env: K (default: the suite's default for 2 nodes, at least 2), SELECT (a --policy-select regex; default all).
 * Last line: `scenarios=N serial_s=X concurrent_s=Y speedup=Z`.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { labEnvironment } from '../harness/lab/env.js';
import { labCalicoctl, labPaths, readLabLock } from '../harness/lab/lock.js';
import { labStatus } from '../harness/lab/status.js';
import type { PolicyScenarioResult, RunResults } from '../harness/model/results.js';
import { defaultPolicyConcurrency } from '../harness/policy/model.js';
import { deleteKindCluster, log, runBench, withCleanup } from './support.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'calico-conformance.js');

async function cli(args: string[], env: Record<string, string>): Promise<RunResults> {
  const dir = args[args.indexOf('--report-dir') + 1]!;
  const r = await execa(process.execPath, [BIN, ...args], {
    reject: false,
    env: { ...env, CI: 'true' },
    all: true,
    timeout: 60 * 60_000,
  });
  const file = join(dir, 'results.json');
  if (!existsSync(file))
    throw new Error(
      `calico-conformance ${args[0]} wrote no results (exit ${r.exitCode}):\n${r.all?.slice(-3000)}`,
    );
  return JSON.parse(readFileSync(file, 'utf8')) as RunResults;
}

function policyOf(r: RunResults): { seconds: number; scenarios: PolicyScenarioResult[] } {
  const cell = r.cells[0];
  const phase = cell?.phases.find((p) => p.name === 'policy');
  if (!cell || !phase || phase.outcome === 'not-run')
    throw new Error(
      `no policy phase ran: ${JSON.stringify(cell?.phases.map((p) => [p.name, p.outcome, p.reason]))}`,
    );
  return { seconds: phase.durationMs / 1000, scenarios: cell.policy ?? [] };
}

async function main(): Promise<number> {
  const status = await labStatus();
  if (!status.complete) throw new Error('the lab is not complete: npm run lab:build');
  const lock = readLabLock();
  const paths = labPaths();
  const env = { ...(process.env as Record<string, string>), ...labEnvironment(lock) };
  // at least 2: with one set there is no concurrency to measure
  const k = Number(process.env.K ?? Math.max(2, defaultPolicyConcurrency(2)));
  const select = process.env.SELECT;
  const out = mkdtempSync(join(tmpdir(), 'cc-bench-policy-'));
  log(`results under ${out}`);

  const t0 = performance.now();
  const setup = await cli(
    [
      'run',
      '--lab',
      '--install',
      'manifest',
      '--encapsulation',
      'VXLAN',
      '--workers',
      '1',
      '--until',
      'verify',
      '--report-dir',
      join(out, 'setup'),
    ],
    env,
  );
  const cluster = setup.cells[0]?.clusterName;
  const kept = setup.cells[0]?.phases.find((p) => p.name === 'teardown')?.evidence.join(' ') ?? '';
  const kubeconfig = /kubeconfig (\S+)/.exec(kept)?.[1];
  const deleteCluster = async () => {
    if (cluster) await deleteKindCluster(paths.kind, cluster, env);
  };
  return withCleanup(deleteCluster, async () => {
    if (!cluster || !kubeconfig || setup.cells[0]?.outcome !== 'passed')
      throw new Error(
        `the cell did not come up: ${JSON.stringify(setup.cells[0]?.phases.map((p) => [p.name, p.outcome, p.reason]))}`,
      );
    log(
      `cluster ${cluster} up in ${((performance.now() - t0) / 1000).toFixed(0)} s; kubeconfig ${kubeconfig}`,
    );
    const suite = (concurrency: number, dir: string) =>
      cli(
        [
          'run',
          '--kubeconfig',
          kubeconfig,
          '--skip-install',
          '--calico-version',
          lock.calico.version,
          '--manifests-dir',
          paths.manifests,
          '--install',
          'manifest',
          '--encapsulation',
          'VXLAN',
          '--workers',
          '1',
          '--tests',
          'NetworkPolicy',
          '--calicoctl',
          labCalicoctl(paths),
          '--policy-concurrency',
          String(concurrency),
          ...(select ? ['--policy-select', select] : []),
          '--report-dir',
          join(out, dir),
        ],
        env,
      );
    const serial = policyOf(await suite(1, 'serial'));
    log(`serial: ${serial.seconds.toFixed(0)} s`);
    const concurrent = policyOf(await suite(k, `concurrent-${k}`));
    log(`concurrent (K=${k}): ${concurrent.seconds.toFixed(0)} s`);

    const verdict = (rs: PolicyScenarioResult[]) => new Map(rs.map((r) => [r.name, r.outcome]));
    const a = verdict(serial.scenarios);
    const b = verdict(concurrent.scenarios);
    const differ = [...new Set([...a.keys(), ...b.keys()])].filter((n) => a.get(n) !== b.get(n));
    const notPassed = [...a].filter(([, o]) => o !== 'passed');
    for (const n of differ) log(`verdicts differ: ${n}: serial ${a.get(n)}, concurrent ${b.get(n)}`);
    for (const [n, o] of notPassed) log(`serial: ${n} ${o}`);
    for (const r of concurrent.scenarios)
      log(
        `  ${r.name.padEnd(40)} set ${r.namespaceSet ?? '-'} enforce ${r.timeToEnforceMs ?? '-'} ms restore ${r.timeToRestoreMs ?? '-'} ms wall ${r.durationMs ?? '-'} ms${r.ranAlone ? ' (alone)' : ''}`,
      );
    console.log(
      `scenarios=${a.size} serial_s=${serial.seconds.toFixed(1)} concurrent_s=${concurrent.seconds.toFixed(1)} ` +
        `speedup=${(serial.seconds / concurrent.seconds).toFixed(2)} k=${k} same_verdicts=${differ.length === 0}`,
    );
    return differ.length === 0 && notPassed.length === 0 ? 0 : 1;
  });
}

runBench('bench:policy', main);
