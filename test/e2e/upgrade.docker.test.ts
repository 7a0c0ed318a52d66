/**
 * End-to-end test of `calico-conformance upgrade` on run's pipeline: the kind CLI and the Kubernetes/Calico
 * side are doubles, the nodes are real docker containers on a docker network this test created, the
 * cluster comes from the real KindProvider (private kubeconfig, teardown registry, state file), the
 * continuous traffic is real TCP between the node containers. An upgrade that passes; then SIGINT and
 * SIGTERM while the upgrade waits for B, in a child with the real signal handlers: the cluster is deleted,
 * the temporary kubeconfig removed, nothing is left in the state file, the partial results say
 * interrupted, and the exit code is 130 / 143 — as for `run` (run.docker.test.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { upgradeCommand } from '../../harness/cli/commands/upgrade.js';
import { memoryIO } from '../../harness/cli/io.js';
import { KIND_CLUSTER_LABEL } from '../../harness/cluster/kind-nodes.js';
import { defaultRunner } from '../../harness/exec/process.js';
import { type CellResult, PHASES, type RunResults } from '../../harness/model/results.js';
import { silentProgress } from '../../harness/pipeline/deps.js';
import { PROJECT_ROOT } from '../../harness/pipeline/suites.js';
import { readRuns } from '../../harness/state/run-state.js';
import { killIfRunning, running } from '../support/children.js';
import { DockerTestBed, describeDocker, type NetworkHandle } from '../support/docker.js';
import { bedPreflight } from './support/docker-doubles.js';
import { bedUpgradeDeps, bedUpgradePipeline } from './support/upgrade-doubles.js';

const root = mkdtempSync(join(tmpdir(), 'cc-e2e-upgrade-'));
const readResults = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResults;
const outcomes = (c: CellResult) => Object.fromEntries(c.phases.map((p) => [p.name, p.outcome]));
const ARGS = ['--from', 'v3.31.7', '--to', 'v3.32.1', '--install', 'manifest', '--encapsulation', 'VXLAN'];

/** children this file started: a failing test must not leave one hung */
const children: ChildProcess[] = [];

async function kindContainers(cluster: string): Promise<string[]> {
  const r = await defaultRunner.run(
    'docker',
    ['ps', '-a', '--filter', `label=${KIND_CLUSTER_LABEL}=${cluster}`, '--format', '{{.Names}}'],
    { timeoutMs: 30_000 },
  );
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

/** What the run's state file records now: the kind cluster and the temp dir of its kubeconfig. */
function recorded(stateDir: string): { cluster?: string; tempDir?: string } {
  const resources = readRuns(stateDir).runs.flatMap((r) => r.run.resources);
  return {
    cluster: resources.find((r) => r.kind === 'kind-cluster')?.name,
    tempDir: resources.find((r) => r.kind === 'temp-path')?.name,
  };
}

describeDocker(
  'upgrade end to end on run’s pipeline (doubled kind CLI and API, real node containers)',
  () => {
    const bed = new DockerTestBed();
    let net: NetworkHandle;
    const saved: Record<string, string | undefined> = {};
    const setEnv = (k: string, v: string) => {
      if (!(k in saved)) saved[k] = process.env[k];
      process.env[k] = v;
    };

    beforeAll(async () => {
      net = await bed.network('e2e-up');
      // fake-kind.sh's network and label (the bed's sweep finds whatever a failing test leaves)
      setEnv('FAKE_KIND_NETWORK', net.name);
      setEnv('FAKE_KIND_TAG', bed.id);
    });
    afterAll(async () => {
      for (const c of children) await killIfRunning(c);
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      expect(await bed.dispose()).toEqual([]);
      expect(await bed.remaining()).toEqual([]);
      rmSync(root, { recursive: true, force: true });
    });

    it('passes: every phase of run plus the upgrade, real traffic measured, suite data merged, cluster and kubeconfig gone', async () => {
      const stateDir = join(root, 'state-pass');
      setEnv('CALICO_CONFORMANCE_STATE_DIR', stateDir);
      const reportDir = join(root, 'pass');
      const upgradeDeps = bedUpgradeDeps();
      let created: { cluster?: string; tempDir?: string } = {};
      const io = memoryIO();
      const code = await upgradeCommand(
        [...ARGS, '--probe-interval', '500ms', '--settle', '2s', '--report-dir', reportDir],
        io,
        {
          deps: (teardown) => {
            const deps = bedUpgradePipeline(net.name, bed.id, teardown);
            const create = deps.provider.create.bind(deps.provider);
            deps.provider.create = async (req) => {
              const h = await create(req);
              created = recorded(stateDir);
              return h;
            };
            return deps;
          },
          upgradeDeps,
          preflight: async () => bedPreflight(),
          progress: silentProgress,
          handleSignals: false,
        },
      );
      const res = readResults(reportDir);
      const cell = res.cells[0]!;
      expect(
        code,
        JSON.stringify(
          cell.phases.filter((p) => p.outcome !== 'passed'),
          null,
          1,
        ),
      ).toBe(0);
      expect(cell.cell.id).toBe('v3.31.7-to-v3.32.1-manifest-vxlan');
      expect(cell.phases.map((p) => p.name)).toEqual([...PHASES]);
      expect(Object.values(outcomes(cell)).every((o) => o === 'passed')).toBe(true);
      expect(upgradeDeps.calls).toEqual([
        'startTraffic v3.31.7',
        'apply apply-manifest v3.32.1',
        'disposeTraffic',
      ]);
      // the real traffic: port 80 stayed reachable, port 81 stayed dropped, through the whole upgrade
      const u = cell.upgrade!;
      expect(u.outcome).toBe('passed');
      expect(u.pairs.map((p) => [p.expect, p.failures, p.failOpenCount])).toEqual([
        ['allowed', 0, 0],
        ['denied', 0, 0],
      ]);
      // run's connectivity phase merged the suite's probe records into the results
      expect(cell.probes.map((p) => p.verdict)).toEqual(['connected', 'connected']);
      expect(cell.policy.map((p) => p.name)).toEqual(['default-deny']);
      // the real audits of the real nodes, on B
      expect(cell.audit?.afterUpstreamUninstall).toMatchObject({ passed: true, report: { findings: [] } });
      expect(cell.audit?.afterCompleteUninstall?.passed).toBe(true);
      // the cluster and its private kubeconfig existed, recorded in the state file, and are gone
      expect(created.cluster).toBe(cell.clusterName);
      expect(created.tempDir).toBeDefined();
      expect(existsSync(created.tempDir!)).toBe(false);
      expect(await kindContainers(cell.clusterName!)).toEqual([]);
      expect(readRuns(stateDir).runs).toEqual([]);
      for (const f of ['probes.jsonl', 'junit.xml', 'summary.md', 'report.html'])
        expect(existsSync(join(reportDir, f)), f).toBe(true);
    }, 180_000);

    for (const [signal, exitCode] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      it(`${signal} during the upgrade: deletes the cluster, removes the temporary kubeconfig, writes partial results, exits ${exitCode}`, async () => {
        const reportDir = join(root, signal);
        const marker = join(root, `hanging-${signal}`);
        const stateDir = join(root, `state-${signal}`);
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            join(PROJECT_ROOT, 'test/e2e/support/upgrade-child.ts'),
            ...ARGS,
            '--probe-interval',
            '500ms',
            '--report-dir',
            reportDir,
            '--quiet',
          ],
          {
            cwd: PROJECT_ROOT,
            env: {
              ...process.env,
              E2E_NETWORK: net.name,
              E2E_BED_ID: bed.id,
              E2E_HANG_MARKER: marker,
              CALICO_CONFORMANCE_STATE_DIR: stateDir,
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        children.push(child);
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        try {
          const deadline = Date.now() + 90_000;
          while (!existsSync(marker)) {
            if (Date.now() > deadline)
              throw new Error(`the child never reached the upgrade's wait:\n${output}`);
            if (!running(child))
              throw new Error(`the child exited ${child.exitCode} before the upgrade's wait:\n${output}`);
            await new Promise((r) => setTimeout(r, 100));
          }
          // mid-upgrade: the cluster and its private kubeconfig exist, and the state file records both
          const { cluster, tempDir } = recorded(stateDir);
          expect(cluster, output).toBeDefined();
          expect(await kindContainers(cluster!)).toEqual([`${cluster}-control-plane`, `${cluster}-worker`]);
          expect(existsSync(join(tempDir!, 'kubeconfig'))).toBe(true);

          child.kill(signal);
          const code = await exited;
          expect(code, output).toBe(exitCode);

          expect(await kindContainers(cluster!)).toEqual([]);
          expect(existsSync(tempDir!)).toBe(false);
          expect(readRuns(stateDir).runs).toEqual([]);
          const res = readResults(reportDir);
          expect(res.interrupted).toBe(signal);
          const cell = res.cells[0]!;
          expect(cell).toMatchObject({ outcome: 'error', reason: `interrupted by ${signal}` });
          expect(cell.phases.find((p) => p.name === 'upgrade')).toMatchObject({
            outcome: 'error',
            reason: `interrupted by ${signal} while waiting for the upgrade v3.31.7 → v3.32.1 (manifest) under continuous traffic, until every component runs v3.32.1`,
          });
          expect(outcomes(cell)).toMatchObject({
            install: 'passed',
            verify: 'not-run',
            uninstall: 'not-run',
            audit: 'not-run',
            teardown: 'passed',
          });
          expect(res.leftBehind).toEqual([]);
          expect(output).toMatch(new RegExp(`${signal}: stopping the current phase`));
        } finally {
          await killIfRunning(child);
        }
      }, 150_000);
    }
  },
);
