/**
 * The external target: a container outside the cluster, on the kind docker network, started with
 * testcontainers, that answers with its name and tells the prober which source IP it saw (agnhost netexec
 * `/clientip`). With natOutgoing on, Calico masquerades pod traffic leaving the IP pools, so it must see the
 * node's IP; with it off it sees the pod IP, and the reply needs a route back to the pod CIDR through a
 * node — as Calico's own CI "external node" on the kind network (calico hack/test/kind/external-node.sh,
 * kind-clientnode-testcontainers.md §4).
 */
import { HARNESS_LABEL, harnessLabelValue } from '../state/cleanup.js';
import { AGNHOST_IMAGE } from './workloads.js';

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
  /** routes back to pod CIDRs (natOutgoing off): `ip route add <cidr> via <via>` inside the target */
  routes?: { cidr: string; via: string }[];
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
