/**
 * Mode verification on the live cell: the requested encapsulation must be what the dataplane does.
 * Node dumps come from `docker exec` on the kind node containers (the audit's collector), IPPools, block
 * affinities, pods and node addresses from the API, BIRD's sessions from `birdcl show protocols` in each
 * node's calico-node pod. The checks are harness/verify/mode.ts; every result goes to the pipeline on the
 * file's task metadata, and what they read is kept in the cell's `verify-dump/` (harness/verify/evidence.ts)
 * so that a real run's state can be verified again offline.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, Exec, KubeConfig, type V1Status } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectNodeDump } from '../harness/audit/collect.js';
import { DockerNodeShell } from '../harness/cluster/node-shell.js';
import { orderNodesForSplitSubnet, planSplitSubnet, verifySplitSubnet } from '../harness/cluster/topology.js';
import type { CheckResult } from '../harness/model/results.js';
import type { NodeDump } from '../harness/node-state/dump.js';
import { VERIFY_DUMP_DIR, writeVerifyEvidence } from '../harness/verify/evidence.js';
import {
  type BirdObservation,
  type BlockAffinityObject,
  type IPPoolObject,
  type PodInfo,
  verifyMode,
} from '../harness/verify/mode.js';
import { record, suiteContext } from './context.js';

const ctx = suiteContext();
const kc = new KubeConfig();
kc.loadFromFile(ctx.kubeconfigPath);

const BIRD_SOCKET = '/var/run/calico/bird.ctl';

/** Runs argv in a pod's container; resolves with the exit status and output (never rejects). */
function podExec(
  namespace: string,
  pod: string,
  container: string,
  argv: string[],
  timeoutMs = 20_000,
): Promise<{ ok: boolean; stdout: string; detail: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, stdout, detail: `no exit status within ${timeoutMs}ms` }),
      timeoutMs,
    );
    new Exec(kc)
      .exec(
        namespace,
        pod,
        container,
        argv,
        sink((s) => {
          stdout += s;
        }),
        sink((s) => {
          stderr += s;
        }),
        null,
        false,
        (st: V1Status) => {
          clearTimeout(timer);
          resolve({
            ok: st.status === 'Success',
            stdout,
            detail: `${st.message ?? st.status ?? ''} ${stderr}`.trim(),
          });
        },
      )
      .catch((err: Error) => {
        clearTimeout(timer);
        resolve({ ok: false, stdout, detail: err.message });
      });
  });
}

let results: CheckResult[] = [];

// vitest hands a hook its fixtures first (none here) and the file it runs for second: the verification
// results go on the file's metadata
// biome-ignore lint/correctness/noEmptyPattern: vitest requires the fixtures argument to be a destructuring pattern
beforeAll(async ({}, file) => {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const listCrd = async <T>(plural: string): Promise<T[]> =>
    (
      (await custom.listClusterCustomObject({ group: 'crd.projectcalico.org', version: 'v1', plural })) as {
        items: T[];
      }
    ).items;
  const [pools, blockAffinities, podList, nodeList] = await Promise.all([
    listCrd<IPPoolObject>('ippools'),
    listCrd<BlockAffinityObject>('blockaffinities'),
    core.listPodForAllNamespaces(),
    core.listNode(),
  ]);
  const pods: PodInfo[] = podList.items.map((p) => ({
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    ...(p.status?.podIP ? { podIP: p.status.podIP } : {}),
    hostNetwork: Boolean(p.spec?.hostNetwork),
    ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    ...(p.status?.phase ? { phase: p.status.phase } : {}),
  }));
  const calicoNodePods = podList.items.filter((p) => p.metadata?.labels?.['k8s-app'] === 'calico-node');

  const dumps: NodeDump[] = [];
  const nodes = [];
  for (const n of ctx.nodes) {
    const dump = await collectNodeDump(new DockerNodeShell(n.container, n.name));
    dumps.push(dump);
    const k8sNode = nodeList.items.find((x) => x.metadata?.name === n.name);
    const annotations = k8sNode?.metadata?.annotations ?? {};
    const calicoAddress = annotations['projectcalico.org/IPv4Address'];
    // the tunnel addresses calico-node allocated (libcalico-go k8s node annotations): a block must hold them
    const tunnelAddresses = [
      annotations['projectcalico.org/IPv4IPIPTunnelAddr'],
      annotations['projectcalico.org/IPv4VXLANTunnelAddr'],
    ].filter((a): a is string => typeof a === 'string' && a !== '');
    const cn = calicoNodePods.find((p) => p.spec?.nodeName === n.name);
    let bird: BirdObservation;
    if (!cn) bird = { kind: 'unreachable', detail: `no calico-node pod on ${n.name}` };
    else {
      const r = await podExec(cn.metadata?.namespace ?? '', cn.metadata?.name ?? '', 'calico-node', [
        'birdcl',
        '-s',
        BIRD_SOCKET,
        'show',
        'protocols',
      ]);
      bird = r.ok
        ? { kind: 'protocols', output: r.stdout }
        : { kind: 'unreachable', detail: r.detail || r.stdout };
    }
    nodes.push({
      name: n.name,
      internalIP: n.internalIP,
      ...(calicoAddress ? { calicoAddress } : {}),
      tunnelAddresses,
      dump,
      bird,
    });
  }
  const input = { pools, blockAffinities, pods, nodes };
  // what was verified stays with the results (verify-dump/): a real run's state can be verified again offline
  writeVerifyEvidence(join(ctx.cellDir, VERIFY_DUMP_DIR), input);
  results = verifyMode(ctx.cell, input);
  if (ctx.cell.topology === 'split-subnet') {
    // the same order the pipeline applied the plan in: control plane first, then workers by name
    const ordered = orderNodesForSplitSubnet(ctx.nodes);
    results.push(...verifySplitSubnet(planSplitSubnet(ordered.map((n) => n.name)), dumps));
  }
  record(file, { checks: results });
}, 180_000);

function expectPassed(prefix: string | RegExp): void {
  const picked = results.filter((r) =>
    typeof prefix === 'string' ? r.name.startsWith(prefix) : prefix.test(r.name),
  );
  expect(picked.length, `no verification result matched ${String(prefix)}`).toBeGreaterThan(0);
  const bad = picked.filter((r) => r.outcome !== 'passed');
  expect(bad.map((r) => `${r.name}: ${r.outcome}: ${r.details ?? r.message ?? ''}`)).toEqual([]);
}

describe(`mode ${ctx.cell.encapsulation} took effect (${ctx.cell.id})`, () => {
  it('the IPPool equals the cell (cidr, ipipMode, vxlanMode, blockSize, natOutgoing)', () =>
    expectPassed('IPPool matches the cell'));
  it('block affinities are /blockSize blocks inside the pool on every node that holds a pool address', () =>
    expectPassed('block affinities'));
  it('every pod-network pod has an address in the pool', () => expectPassed('pod IPs'));
  it('tunl0 is configured exactly in IPIP modes', () => expectPassed(/^tunl0 /));
  it('vxlan.calico is up with an address exactly in VXLAN modes', () => expectPassed(/^vxlan\.calico /));
  it('routes to every remote block use the mode’s device; own blocks are blackholes', () =>
    expectPassed('routes on '));
  it(ctx.cell.bgp === 'Enabled' ? 'BGP is established with every other node' : 'no BIRD runs', () =>
    expectPassed(/^(BGP established|no BIRD)/),
  );
  it.runIf(ctx.cell.topology === 'split-subnet')(
    'split-subnet addresses and on-link routes are in place',
    () => expectPassed('split-subnet'),
  );
});
