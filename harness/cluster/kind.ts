/**
 * The kind driver: `kind create cluster` from the rendered config, with a unique name, a private kubeconfig,
 * and every created thing recorded (state file + teardown) before it exists, so an interrupted run still
 * removes it. All commands go through a ProcessRunner with argument arrays.
 *
 * CLI facts (kubernetes-sigs/kind pkg/cmd/kind/**, common/namer.go, docker/constants.go): `--wait` defaults
 * to 0s; deleting a missing cluster is not an error; node containers are named `<cluster>-<role>[N]` and
 * carry `io.x-k8s.kind.cluster=<cluster>`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError, formatDuration, UsageError } from '../errors.js';
import { CommandError, defaultRunner, type ProcessRunner, type RunResult } from '../exec/process.js';
import { kindDelete } from '../state/remove.js';
import type { Teardown, Tracked } from '../state/teardown.js';
import { attachCluster } from './attach.js';
import { listKindNodes } from './kind-nodes.js';
import { DockerNodeShell, type NodeShell } from './node-shell.js';
import type { ClusterHandle, ClusterNode, ClusterProvider, ClusterSpec } from './provider.js';

/** Every cluster this harness names starts with this; `cleanup` looks for it. */
export const CLUSTER_PREFIX = 'cc-';

/**
 * kind's node containers are `<cluster>-control-plane`, `<cluster>-worker12`…, which are also hostnames and
 * Kubernetes node names, so the cluster name must be a DNS label and short enough that the longest node name
 * stays within 63 characters. This rule is stricter than kind's own, on purpose.
 */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const CLUSTER_NAME_MAX = 40;

export function validateClusterName(name: string, field = 'cluster name'): string {
  if (!CLUSTER_NAME_PATTERN.test(name) || name.length > CLUSTER_NAME_MAX)
    throw new UsageError(
      `${field}: ${JSON.stringify(name)} is not allowed; use lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${CLUSTER_NAME_MAX} characters`,
      field,
    );
  return name;
}

/** `cc-<cell id, slugged and shortened>-<6 hex>`: unique per call, readable, and a valid kind name. */
export function clusterNameFor(
  cellId: string,
  random: () => string = () => randomBytes(3).toString('hex'),
): string {
  const suffix = random();
  const room = CLUSTER_NAME_MAX - CLUSTER_PREFIX.length - suffix.length - 1;
  const slug = cellId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, room)
    .replace(/-+$/, '');
  return validateClusterName(`${CLUSTER_PREFIX}${slug ? `${slug}-` : ''}${suffix}`);
}

export type ListKindNodes = (clusterName: string, runner: ProcessRunner) => Promise<ClusterNode[]>;

export interface KindProviderOptions {
  runner?: ProcessRunner;
  kindCommand?: string;
  dockerCommand?: string;
  /** registers every cluster and temp dir so an interruption removes them (and records them in the state file) */
  teardown?: Teardown;
  /** where the private temp dirs go (default: the OS temp dir) */
  tmpRoot?: string;
  listNodes?: ListKindNodes;
  log?: (line: string) => void;
}

export const KIND_CREATE_TIMEOUT_MS = 10 * 60_000;
/** A create that failed at the node-boot wait is tried once more only when this much of its time is left. */
export const KIND_RETRY_MIN_MS = 60_000;

export class KindProvider implements ClusterProvider {
  private readonly runner: ProcessRunner;
  private readonly kind: string;

  constructor(private readonly opts: KindProviderOptions = {}) {
    this.runner = opts.runner ?? defaultRunner;
    this.kind = opts.kindCommand ?? 'kind';
  }

  async create(spec: ClusterSpec): Promise<ClusterHandle> {
    validateClusterName(spec.name);
    if (!spec.nodeImage) throw new UsageError('nodeImage: empty; give a kindest/node image', 'nodeImage');
    if (!spec.kindConfigYaml.trim())
      throw new UsageError('kindConfigYaml: empty kind config', 'kindConfigYaml');

    // Private dir (0700) and kubeconfig (0600): the kubeconfig holds the cluster-admin client key.
    const dir = mkdtempSync(join(this.opts.tmpRoot ?? tmpdir(), `${spec.name}-`));
    chmodSync(dir, 0o700);
    const releaseDir = this.opts.teardown?.track(
      'temp-path',
      dir,
      `kind config and kubeconfig of ${spec.name}`,
    );
    const configPath = join(dir, 'kind-config.yaml');
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(configPath, spec.kindConfigYaml, { mode: 0o600 });
    writeFileSync(kubeconfigPath, '', { mode: 0o600 });
    // Recorded before `kind create` runs: a SIGKILL mid-create must still leave a record for `cleanup`.
    const releaseCluster = this.opts.teardown?.track('kind-cluster', spec.name, 'kind cluster');

    const args = [
      'create',
      'cluster',
      '--name',
      spec.name,
      '--config',
      configPath,
      '--image',
      spec.nodeImage,
      '--wait',
      '0s',
      '--kubeconfig',
      kubeconfigPath,
      // a failed create keeps its nodes, so their logs can say why; the harness deletes them right after
      '--retain',
    ];
    const log = [this.opts.log, spec.log].filter((l) => l !== undefined);
    const say = (line: string) => {
      for (const f of log) f(line);
    };
    // one deadline for the create, the retry included: a second attempt gets what the first left of it
    const timeoutMs = spec.timeoutMs ?? KIND_CREATE_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.opts.log?.(`creating kind cluster ${spec.name}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
      const result = await this.runner.run(this.kind, args, {
        timeoutMs: attempt === 1 ? timeoutMs : Math.max(1, deadline - Date.now()),
        ...(spec.signal ? { signal: spec.signal } : {}),
        ...(log.length > 0 ? { onLine: (l: string) => say(`  kind: ${l}`) } : {}),
      });
      if (result.exitCode === 0 && !result.timedOut) break;
      // kind leaves the nodes (--retain), and a timeout or a kill stops it anyway: what the nodes said is
      // read, then the cluster deleted, then what failed reported. Never when kind refused because a cluster
      // of that name already exists: that cluster is not ours to read or delete.
      const out = `${result.stderr}\n${result.stdout}`;
      const notOurs = /already exist/i.test(out);
      // an interrupted create goes straight to the delete: nothing is read first
      const nodes =
        result.exitCode === 127 || notOurs || spec.signal?.aborted ? [] : await this.nodeLogs(spec.name);
      const cleanup =
        result.exitCode === 127 || notOurs
          ? undefined
          : await kindDelete(this.runner, this.kind, spec.name, kubeconfigPath);
      const cleaned = cleanup === undefined || cleanup.exitCode === 0;
      // kind gives up on a node whose container ended before its log said it had booted: on the lab a node
      // container exited seconds after its start when other kind clusters held the host's inotify instances
      // (the preflight warns of that). Once more, in case the pressure has passed, with what the nodes said
      // kept in the log and the error.
      const left = deadline - Date.now();
      if (
        cleaned &&
        attempt === 1 &&
        BOOT_WAIT_FAILED.test(out) &&
        !spec.signal?.aborted &&
        left >= KIND_RETRY_MIN_MS
      ) {
        say(
          `kind create of ${spec.name} failed waiting for a node to boot; the nodes then:\n${nodes.join('\n') || '  (none listed)'}\ntrying once more within the ${formatDuration(left)} left of the create's ${formatDuration(timeoutMs)}`,
        );
        writeFileSync(kubeconfigPath, '', { mode: 0o600 });
        continue;
      }
      if (cleaned) releaseCluster?.release();
      rmSync(dir, { recursive: true, force: true });
      releaseDir?.release();
      throw createError(spec, result, cleaned, nodes);
    }
    chmodSync(kubeconfigPath, 0o600);
    return new KindClusterHandle(
      spec.name,
      kubeconfigPath,
      dir,
      this.runner,
      this.kind,
      this.opts,
      releaseCluster,
      releaseDir,
    );
  }

  /** each node container of a cluster kind kept: its state and the last lines of its log (best effort) */
  private async nodeLogs(name: string): Promise<string[]> {
    const docker = this.opts.dockerCommand ?? 'docker';
    const ps = await this.runner.run(
      docker,
      ['ps', '-a', '--filter', `label=io.x-k8s.kind.cluster=${name}`, '--format', '{{.Names}}\t{{.Status}}'],
      { timeoutMs: 30_000 },
    );
    if (ps.exitCode !== 0)
      return [`  (could not list the nodes: ${ps.stderr.trim() || `exit ${ps.exitCode}`})`];
    const out: string[] = [];
    for (const row of ps.stdout.split('\n').filter((l) => l.trim())) {
      const [node = '', status = ''] = row.split('\t');
      const logs = await this.runner.run(docker, ['logs', '--tail', '15', node], { timeoutMs: 30_000 });
      const text = `${logs.stdout}${logs.stderr}`.trimEnd();
      out.push(
        `  ${node} (${status}):`,
        ...(text ? text.split('\n').map((l) => `    ${l}`) : ['    (no log)']),
      );
    }
    return out;
  }

  attach(kubeconfigPath: string, opts: { name?: string } = {}): Promise<ClusterHandle> {
    return attachCluster(kubeconfigPath, this.runner, opts.name, this.opts.dockerCommand ?? 'docker');
  }

  /** idempotent: deleting a cluster that does not exist succeeds */
  async delete(name: string): Promise<void> {
    validateClusterName(name);
    const r = await kindDelete(this.runner, this.kind, name);
    if (r.exitCode === 127) throw kindMissing(r);
    if (r.exitCode !== 0 || r.timedOut) throw new CommandError(`deleting kind cluster ${name}`, r);
  }

  async list(): Promise<string[]> {
    const r = await this.runner.run(this.kind, ['get', 'clusters'], { timeoutMs: 30_000 });
    if (r.exitCode === 127) throw kindMissing(r);
    if (r.exitCode !== 0) throw new CommandError('listing kind clusters', r);
    // kind prints "No kind clusters found." on stderr when there are none; stdout holds one name per line.
    return r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^No kind clusters found/.test(l));
  }
}

class KindClusterHandle implements ClusterHandle {
  private disposed = false;

  constructor(
    readonly name: string,
    readonly kubeconfigPath: string,
    private readonly dir: string,
    private readonly runner: ProcessRunner,
    private readonly kind: string,
    private readonly opts: KindProviderOptions,
    private readonly cluster: Tracked | undefined,
    private readonly tempDir: Tracked | undefined,
  ) {}

  async nodes(): Promise<ClusterNode[]> {
    if (this.opts.listNodes) return this.opts.listNodes(this.name, this.runner);
    return listKindNodes(this.name, this.runner, this.opts.dockerCommand ?? 'docker');
  }

  shell(nodeName: string): NodeShell {
    // kind names the node container after the Kubernetes node (kind
    // pkg/cluster/internal/providers/common/namer.go).
    return new DockerNodeShell(nodeName, nodeName, this.runner, this.opts.dockerCommand ?? 'docker');
  }

  async dispose(opts: { keep?: boolean } = {}): Promise<string[]> {
    if (this.disposed) return [];
    this.disposed = true;
    if (opts.keep) {
      // Kept on purpose: no longer removed at exit, but still in the state file for `cleanup --all`.
      this.cluster?.keep();
      this.tempDir?.keep();
      return [`kind cluster ${this.name}`, `kubeconfig ${this.kubeconfigPath}`];
    }
    const left: string[] = [];
    const r = await kindDelete(this.runner, this.kind, this.name, this.kubeconfigPath);
    if (r.exitCode === 0) this.cluster?.release();
    else left.push(`kind cluster ${this.name}: ${new CommandError('deleting', r).message}`);
    try {
      rmSync(this.dir, { recursive: true, force: true });
      this.tempDir?.release();
    } catch (err) {
      left.push(`${this.dir}: ${(err as Error).message}`);
    }
    return left;
  }
}

function kindMissing(r: RunResult): EnvironmentError {
  return new EnvironmentError(
    `kind is not installed or not on PATH (${r.stderr.trim() || 'command not found'}); install it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation`,
    ['kind'],
  );
}

/** kind's error when a node's log never said it had booted (kind v0.31.0 common.WaitUntilLogRegexpMatches) */
const BOOT_WAIT_FAILED = /could not find a log line that matches/;

function createError(spec: ClusterSpec, r: RunResult, cleaned: boolean, nodes: string[] = []): Error {
  if (r.exitCode === 127) return kindMissing(r);
  const out = `${r.stderr}\n${r.stdout}`;
  const after = cleaned ? '' : `; the cluster may be left behind: kind delete cluster --name ${spec.name}`;
  let hint: string | undefined;
  if (/already exist/i.test(out))
    hint = `a cluster named ${spec.name} already exists: pick another name or delete it`;
  else if (
    /Cannot connect to the Docker daemon|docker.*not running|permission denied.*docker\.sock/i.test(out)
  )
    return new EnvironmentError(`kind could not reach Docker: ${out.trim().split('\n').pop()}`, ['docker']);
  else if (/failed to pull image|pull access denied|manifest unknown/i.test(out))
    hint = `the node image ${spec.nodeImage} could not be pulled: check the name and digest, or pull it first`;
  else if (r.timedOut)
    hint = `kind create did not finish in time; raise the timeout or check \`docker info\``;
  else if (/too many open files|inotify/i.test(out))
    hint = 'raise fs.inotify.max_user_watches / max_user_instances (kind known issue)';
  else if (BOOT_WAIT_FAILED.test(out))
    hint =
      'a node container ended before it had booted; with other kind clusters on this host the usual cause is the ' +
      "inotify instance limit every node shares (fs.inotify.max_user_instances; see the run's preflight line)";
  if (nodes.length > 0)
    hint = [hint, `the nodes when kind gave up:\n${nodes.join('\n')}`].filter(Boolean).join('; ');
  return new CommandError(`creating kind cluster ${spec.name}${after}`, r, hint);
}
