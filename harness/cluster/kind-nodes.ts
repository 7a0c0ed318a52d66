/**
 * kind node containers of a cluster, found by the labels kind's docker provider puts on them
 * (`io.x-k8s.kind.cluster=<name>`, `io.x-k8s.kind.role=<role>`; kind
 * pkg/cluster/internal/providers/docker/constants.go).
 * The container name equals the hostname and the Kubernetes node name.
 */
import { EnvironmentError, UsageError } from '../errors.js';
import { CommandError, type ProcessRunner, type RunOptions, type RunResult } from '../exec/process.js';
import type { ClusterNode } from './provider.js';

export const KIND_CLUSTER_LABEL = 'io.x-k8s.kind.cluster';
export const KIND_ROLE_LABEL = 'io.x-k8s.kind.role';

const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export async function listKindNodes(
  clusterName: string,
  runner: ProcessRunner,
  dockerCommand = 'docker',
): Promise<ClusterNode[]> {
  if (!CLUSTER_NAME.test(clusterName)) {
    throw new UsageError(
      `--cluster: ${JSON.stringify(clusterName)} is not a kind cluster name (lower-case letters, digits and '-')`,
      'cluster',
    );
  }
  const ps = await dockerChecked(
    runner,
    `listing the node containers of kind cluster ${clusterName}`,
    dockerCommand,
    ['ps', '--filter', `label=${KIND_CLUSTER_LABEL}=${clusterName}`, '--format', '{{.Names}}'],
    { timeoutMs: 30_000 },
  );
  const containers = ps.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
  if (containers.length === 0) return [];
  // one inspect for all: name, role label, and every network's IPv4 address
  const inspect = await dockerChecked(
    runner,
    `inspecting the node containers of kind cluster ${clusterName}`,
    dockerCommand,
    [
      'inspect',
      '--format',
      `{{.Name}}\t{{index .Config.Labels "${KIND_ROLE_LABEL}"}}\t{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}`,
      ...containers,
    ],
    { timeoutMs: 30_000 },
  );
  const nodes: ClusterNode[] = [];
  for (const line of inspect.stdout.split('\n')) {
    if (!line.trim()) continue;
    const [rawName, role, ips] = line.split('\t');
    const name = (rawName ?? '').replace(/^\//, '');
    // an HA cluster's external-load-balancer carries the cluster label too, but is no node
    if (role !== 'control-plane' && role !== 'worker') continue;
    const ip = (ips ?? '').trim().split(/\s+/).find(Boolean);
    if (!ip) {
      throw new EnvironmentError(
        `kind node ${name} of cluster ${clusterName} has no IPv4 address on any docker network`,
      );
    }
    nodes.push({ name, container: name, role, internalIP: ip });
  }
  return nodes.sort((a, b) =>
    a.role === b.role
      ? a.name.localeCompare(b.name, 'en', { numeric: true })
      : a.role === 'control-plane'
        ? -1
        : 1,
  );
}

/**
 * Runs a docker CLI command; a docker that is not installed (exit 127) or a daemon it cannot reach is an
 * environment problem (exit 3, with what is missing and how to get it), not a failed command (exit 1).
 */
async function dockerChecked(
  runner: ProcessRunner,
  doing: string,
  dockerCommand: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<RunResult> {
  const r = await runner.run(dockerCommand, args, opts);
  if (r.exitCode === 0 && !r.timedOut) return r;
  const env = dockerEnvironmentError(r, dockerCommand);
  if (env) throw env;
  throw new CommandError(doing, r);
}

export function dockerEnvironmentError(r: RunResult, dockerCommand = 'docker'): EnvironmentError | undefined {
  const out = `${r.stderr}\n${r.stdout}`.trim();
  if (r.exitCode === 127) {
    return new EnvironmentError(
      `\`${dockerCommand}\` was not found on PATH: the kind node containers are read through the Docker CLI. Install Docker (https://docs.docker.com/engine/install/) or put the docker binary on PATH.`,
      ['docker'],
    );
  }
  if (
    /Cannot connect to the Docker daemon|Is the docker daemon running|permission denied while trying to connect to the Docker daemon/i.test(
      out,
    )
  ) {
    return new EnvironmentError(
      `the Docker daemon is not reachable (${out.split('\n').pop()}): start it (e.g. \`sudo systemctl start docker\`), or check DOCKER_HOST and that your user may use the Docker socket (the docker group).`,
      ['docker daemon'],
    );
  }
  return undefined;
}
