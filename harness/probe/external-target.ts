/**
 * The external target: a container outside the cluster, on the kind docker network, started with
 * testcontainers, that answers with its name and tells the prober which source IP it saw (agnhost netexec
 * `/clientip`). With natOutgoing on, Calico masquerades pod traffic leaving the IP pools, so it must see the
 * node's IP; with it off it sees the pod IP, and the reply needs a route back to the pod through a node —
 * as Calico's own CI "external node" on the kind network (calico hack/test/kind/external-node.sh).
 *
 * That route must lead to the node that runs the pod (podReturnRoutes). A reply sent through another node
 * reaches it as a SYN-ACK of a connection it never saw; conntrack marks it INVALID and kube-proxy's
 * `KUBE-FORWARD … --ctstate INVALID -j DROP` drops it, so a single pool route via one node fails every pod
 * on the other nodes.
 */
import type { ClusterNode } from '../cluster/provider.js';
import { cidrContainsIp, type Ipv4Cidr, parseIpv4, parseIpv4Cidr } from '../net/cidr.js';
import { HARNESS_LABEL, harnessLabelValue } from '../state/cleanup.js';
import { AGNHOST_IMAGE } from './workloads.js';

/** crd.projectcalico.org/v1 BlockAffinity, the fields read here */
export interface BlockAffinityLike {
  metadata?: { name?: string };
  spec?: { cidr?: string; node?: string; state?: string; deleted?: string | boolean };
}

export interface ReturnRoute {
  cidr: string;
  via: string;
}

/**
 * The routes an external host needs to answer pods directly (natOutgoing off): what a router peered with
 * Calico learns over BGP. Every confirmed, not deleted block affinity of a node of the cell gives its block
 * via that node's IP; a pod whose address is not in a block of its own node (an address borrowed from
 * another node's block) gets a /32 via its own node, as Calico advertises borrowed addresses. Throws when
 * a node of a pod is unknown or when nothing at all could be routed.
 */
export function podReturnRoutes(
  affinities: readonly BlockAffinityLike[],
  nodes: readonly Pick<ClusterNode, 'name' | 'internalIP'>[],
  pods: readonly { ip: string; node: string }[],
): ReturnRoute[] {
  const nodeIp = new Map(nodes.map((n) => [n.name, n.internalIP]));
  const routes: ReturnRoute[] = [];
  const blocks: { node: string; cidr: Ipv4Cidr }[] = [];
  for (const a of affinities) {
    const spec = a.spec ?? {};
    if (spec.deleted === true || spec.deleted === 'true') continue;
    if (spec.state !== undefined && spec.state !== 'confirmed') continue;
    const via = nodeIp.get(spec.node ?? '');
    const cidr = blockCidr(spec.cidr);
    if (!via || !cidr) continue;
    if (routes.some((r) => r.cidr === spec.cidr)) continue;
    routes.push({ cidr: spec.cidr as string, via });
    blocks.push({ node: spec.node as string, cidr });
  }
  for (const p of pods) {
    const via = nodeIp.get(p.node);
    if (!via) throw new Error(`pod ${p.ip} runs on node ${p.node}, which is not a node of this cell`);
    const ip = parseIpv4(p.ip);
    if (ip === undefined) throw new Error(`pod IP ${JSON.stringify(p.ip)} is not an IPv4 address`);
    if (blocks.some((b) => b.node === p.node && cidrContainsIp(b.cidr, ip))) continue;
    if (!routes.some((r) => r.cidr === `${p.ip}/32`)) routes.push({ cidr: `${p.ip}/32`, via });
  }
  if (routes.length === 0)
    throw new Error('no route back to any pod: no confirmed block affinity of a cell node and no pod');
  return routes;
}

function blockCidr(text: string | undefined): Ipv4Cidr | undefined {
  if (!text) return undefined;
  const r = parseIpv4Cidr(text);
  return r.ok ? r.cidr : undefined;
}

export interface ExternalTargetOptions {
  /** docker network to join (kind's is `kind`) */
  network: string;
  name?: string;
  image?: string;
  /** container command; default agnhost netexec on `port` (TCP and UDP) */
  command?: string[];
  port?: number;
  /** log line that says the server is up */
  readyLog?: RegExp;
  /** routes back to the pods (natOutgoing off, see podReturnRoutes): `ip route replace <cidr> via <via>` */
  routes?: ReturnRoute[];
  startupTimeoutMs?: number;
  labels?: Record<string, string>;
}

export interface ExternalTargetHandle {
  name: string;
  ip: string;
  port: number;
  containerId: string;
  stop(): Promise<void>;
}

/**
 * The target's docker labels: its role, the caller's labels, and the harness label with this process as owner,
 * which is how `calico-conformance cleanup` finds the container when the run died before it could stop it.
 */
export function externalTargetLabels(
  extra: Record<string, string> = {},
  pid: number = process.pid,
): Record<string, string> {
  return { 'calico-conformance/role': 'external-target', ...extra, [HARNESS_LABEL]: harnessLabelValue(pid) };
}

export async function startExternalTarget(opts: ExternalTargetOptions): Promise<ExternalTargetHandle> {
  // No registry here and no Ryuk image: the harness removes the container itself (stop()).
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const { GenericContainer, Wait } = await import('testcontainers');
  const port = opts.port ?? 8080;
  const name = opts.name ?? 'external';
  let builder = new GenericContainer(opts.image ?? AGNHOST_IMAGE)
    .withName(`${name}-${Math.random().toString(16).slice(2, 8)}`)
    .withNetworkMode(opts.network)
    // netexec answers /hostname with the container's hostname: make that the target's name
    .withHostname(name)
    .withCommand(opts.command ?? ['netexec', `--http-port=${port}`, `--udp-port=${port}`])
    .withAddedCapabilities('NET_ADMIN')
    .withLabels(externalTargetLabels(opts.labels))
    .withWaitStrategy(Wait.forLogMessage(opts.readyLog ?? /Started (HTTP|UDP) server/))
    .withStartupTimeout(opts.startupTimeoutMs ?? 60_000);
  if (!opts.command) builder = builder.withEntrypoint(['/agnhost']);
  const started = await builder.start();
  const stop = async () => {
    await started.stop({ timeout: 0, remove: true });
  };
  try {
    for (const r of opts.routes ?? []) {
      const res = await started.exec(['ip', 'route', 'replace', r.cidr, 'via', r.via]);
      if (res.exitCode !== 0) {
        throw new Error(
          `external target: ip route replace ${r.cidr} via ${r.via} failed: ${res.output.trim()}`,
        );
      }
    }
    return { name, ip: started.getIpAddress(opts.network), port, containerId: started.getId(), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
