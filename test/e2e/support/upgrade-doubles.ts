/**
 * The e2e doubles of `upgrade`: the pipeline is the bed's (docker-doubles.ts: real node containers, a
 * Calico/Kubernetes double acting on them), the cluster comes from the real KindProvider driving the kind
 * CLI double (test/docker/cluster/fake-kind.sh: node containers with kind's labels), so the private
 * kubeconfig, the teardown registry and the state file are the harness's own. The upgrade phase's deps
 * probe for real between the node containers: a TCP server on port 80 (must stay reachable) and one on 81
 * behind a DROP rule (must stay unreachable, as a policy would keep it) in the worker, probed from the
 * control plane with `nc -z`; the workloads double reports Calico's components on B once B is applied
 * (or never, when the test hangs the upgrade).
 *
 * No vitest import here: the interrupt tests run this in a child process (upgrade-child.ts).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KindProvider } from '../../../harness/cluster/kind.js';
import { defaultRunner } from '../../../harness/exec/process.js';
import type { ProbeKey, ProbeRecord } from '../../../harness/model/connectivity.js';
import type { PipelineDeps, StepContext } from '../../../harness/pipeline/deps.js';
import type { Teardown } from '../../../harness/state/teardown.js';
import { systemClock } from '../../../harness/time/clock.js';
import type { UpgradeDeps, WatchedPair, WorkloadSnapshot } from '../../../harness/upgrade/deps.js';
import { workload } from '../../unit/upgrade/workloads.js';
import { bedDeps } from './docker-doubles.js';

export const FAKE_KIND = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'docker',
  'cluster',
  'fake-kind.sh',
);

/**
 * The pipeline's deps for an upgrade on the bed: the bed's Calico double, and clusters from the real
 * KindProvider (kind CLI double) registered with the run's teardown. Environment of fake-kind.sh:
 * FAKE_KIND_NETWORK (the bed's network) and FAKE_KIND_TAG (the bed's id: its sweep finds stragglers).
 */
export function bedUpgradePipeline(network: string, bedId: string, teardown: Teardown): PipelineDeps {
  const bed = bedDeps({ network, bedId });
  return { ...bed, provider: new KindProvider({ runner: defaultRunner, teardown, kindCommand: FAKE_KIND }) };
}

export interface BedUpgradeOptions {
  /** the components never reach B; `hangMarker` is written when the wait for them begins */
  hang?: boolean;
  hangMarker?: string;
}

const LISTEN = (port: number) =>
  `nohup socat TCP-LISTEN:${port},fork,reuseaddr SYSTEM:true >/dev/null 2>&1 &`;

async function run(step: StepContext, node: string, script: string): Promise<string> {
  const r = await step.cluster.shell(node).exec(['sh', '-c', script], { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${node}: ${script} exited ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** calico.yaml's two components in kube-system, every pod ready on `version`. */
function components(version: string): WorkloadSnapshot[] {
  return [
    workload('kube-system', 'DaemonSet', 'calico-node', [`quay.io/calico/node:${version}`], 2),
    workload(
      'kube-system',
      'Deployment',
      'calico-kube-controllers',
      [`quay.io/calico/kube-controllers:${version}`],
      1,
    ),
  ];
}

/** The upgrade phase's deps on the bed (manifest path): real probes between the node containers. */
export function bedUpgradeDeps(o: BedUpgradeOptions = {}): UpgradeDeps & { calls: string[] } {
  const calls: string[] = [];
  let version: string | undefined;
  let target: string | undefined;
  let waiting = false;
  return {
    calls,
    clock: systemClock,
    async startTraffic(step) {
      calls.push(`startTraffic ${step.cell.calicoVersion}`);
      version = step.cell.calicoVersion;
      const client = step.nodes.find((n) => n.role === 'control-plane')!;
      const server = step.nodes.find((n) => n.role === 'worker')!;
      await run(step, server.name, `${LISTEN(80)} ${LISTEN(81)} iptables -A INPUT -p tcp --dport 81 -j DROP`);
      const pair = (port: number, expect: WatchedPair['expect']): WatchedPair => ({
        key: { from: client.name, to: server.name, port, protocol: 'TCP' },
        expect,
      });
      const pairs = [pair(80, 'allowed'), pair(81, 'denied')];
      return {
        pairs,
        async probeOnce(keys: readonly ProbeKey[]): Promise<ProbeRecord[]> {
          const script = keys
            .map((k) => `nc -z -w 1 ${server.internalIP} ${k.port}; echo "${k.port} $?"`)
            .join('; ');
          const r = await step.cluster.shell(client.name).exec(['sh', '-c', script], { timeoutMs: 10_000 });
          const at = new Date().toISOString();
          return keys.map((k) => {
            const m = new RegExp(`^${k.port} (\\d+)$`, 'm').exec(r.stdout);
            return {
              ...k,
              verdict: !m ? 'error' : m[1] === '0' ? 'connected' : 'timeout',
              durationMs: 0,
              at,
            };
          });
        },
        async dispose() {
          calls.push('disposeTraffic');
          await run(step, server.name, 'pkill socat; iptables -D INPUT -p tcp --dport 81 -j DROP; true');
        },
      };
    },
    async applyUpgrade(_step, action) {
      calls.push(`apply ${action.kind} ${action.cell.calicoVersion}`);
      target = action.cell.calicoVersion;
      if (!o.hang) version = target;
    },
    async readWorkloads() {
      if (o.hang && target && !waiting) {
        waiting = true;
        if (o.hangMarker) writeFileSync(o.hangMarker, 'upgrade');
      }
      return components(version ?? 'none');
    },
  };
}

/** The state directory a child or a test gives the harness (CALICO_CONFORMANCE_STATE_DIR). */
export function stateDirUnder(root: string): string {
  return join(root, 'state');
}
