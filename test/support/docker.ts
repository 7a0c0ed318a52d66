/**
 * The docker-backed test bed: "node" containers from the locally built image (test/image/build.sh) on
 * user-defined docker networks whose subnets the test chose, reached through the same NodeShell the
 * harness uses for kind nodes. Everything a bed creates is removed by dispose(), also when a test fails.
 *
 * Docker-backed suites skip with a clear message where Docker is absent, and fail where REQUIRE_DOCKER=1.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';
import { DockerNodeShell } from '../../harness/cluster/node-shell.js';
import { defaultRunner, runChecked } from '../../harness/exec/process.js';

export const TEST_IMAGE = process.env.TEST_NODE_IMAGE ?? 'calico-conformance-testnode:latest';
export const TEST_LABEL = 'calico-conformance.test';

let availability: { ok: boolean; reason: string } | undefined;

/** Whether docker answers and the test image exists; computed once per worker. */
export function dockerAvailability(): { ok: boolean; reason: string } {
  if (availability) return availability;
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 15_000 });
  } catch {
    availability = {
      ok: false,
      reason:
        'no Docker daemon answers `docker info` (install docker.io and start dockerd; .ci/run does both)',
    };
    return availability;
  }
  try {
    execFileSync('docker', ['image', 'inspect', TEST_IMAGE], { stdio: 'pipe', timeout: 15_000 });
  } catch {
    availability = {
      ok: false,
      reason: `the test node image ${TEST_IMAGE} is missing (build it: npm run build:test-image)`,
    };
    return availability;
  }
  availability = { ok: true, reason: '' };
  return availability;
}

/**
 * describe() for docker-backed tests: runs where Docker is usable; elsewhere skips with the reason, unless
 * REQUIRE_DOCKER=1, where the missing Docker is itself a failing test.
 */
export function describeDocker(name: string, fn: () => void): void {
  const { ok, reason } = dockerAvailability();
  if (ok) {
    describe(name, fn);
  } else if (process.env.REQUIRE_DOCKER === '1') {
    describe(name, () => {
      it('needs Docker (REQUIRE_DOCKER=1)', () => {
        throw new Error(`REQUIRE_DOCKER=1 but ${reason}`);
      });
    });
  } else {
    describe.skipIf(true)(`${name} [skipped: ${reason}]`, fn);
  }
}

export interface NetworkHandle {
  name: string;
  subnet: string;
  /** the network's /24 prefix, e.g. "10.213.17" — address i of the subnet is `${prefix}.${i}` */
  prefix: string;
  gateway: string;
}

export interface NodeOptions {
  /** networks to attach, with optional fixed addresses (the first is attached at `docker run`) */
  networks?: { network: NetworkHandle; ip?: string }[];
  /** no network at all (`--network none`) */
  isolated?: boolean;
  /** extra capabilities beyond NET_ADMIN, NET_RAW, SYS_ADMIN */
  capAdd?: string[];
  /** run this command instead of `sleep infinity` */
  command?: string[];
}

export interface TestNode {
  name: string;
  container: string;
  shell: DockerNodeShell;
  /** the container's address on a network */
  ip(network: NetworkHandle): Promise<string>;
  /** runs argv and returns stdout; throws with the command and output when it fails */
  sh(argv: string[], timeoutMs?: number): Promise<string>;
}

export class DockerTestBed {
  readonly id = randomBytes(3).toString('hex');
  private readonly containers: string[] = [];
  private readonly networks: string[] = [];

  /**
   * A user-defined bridge network on a /24 the test picks (retried when docker reports an overlap).
   * 10.200–10.239 stays clear of the pod (10.244/16), service (10.96/12) and split-subnet (10.250/16)
   * ranges the beds use. Not `--internal`: docker then drops forwarded packets whose addresses lie outside
   * the bridge subnet, which is exactly the pod traffic the beds route between "nodes".
   */
  async network(label = 'net'): Promise<NetworkHandle> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const a = 200 + Math.floor(Math.random() * 40);
      const b = Math.floor(Math.random() * 250) + 1;
      const prefix = `10.${a}.${b}`;
      const subnet = `${prefix}.0/24`;
      const name = `cc-test-${this.id}-${label}`;
      const r = await defaultRunner.run(
        'docker',
        [
          'network',
          'create',
          '--driver',
          'bridge',
          '--subnet',
          subnet,
          '--gateway',
          `${prefix}.1`,
          '--label',
          `${TEST_LABEL}=${this.id}`,
          name,
        ],
        { timeoutMs: 30_000 },
      );
      if (r.exitCode === 0) {
        this.networks.push(name);
        return { name, subnet, prefix, gateway: `${prefix}.1` };
      }
      if (!/overlap|already/i.test(r.stderr))
        throw new Error(`docker network create ${name} failed: ${r.stderr.trim()}`);
    }
    throw new Error('could not find a free /24 for a test network after 20 tries');
  }

  async node(name: string, opts: NodeOptions = {}): Promise<TestNode> {
    const container = `cc-test-${this.id}-${name}`;
    const [first, ...more] = opts.networks ?? [];
    const caps = ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', ...(opts.capAdd ?? [])].flatMap((c) => [
      '--cap-add',
      c,
    ]);
    const net = opts.isolated
      ? ['--network', 'none']
      : first
        ? ['--network', first.network.name, ...(first.ip ? ['--ip', first.ip] : [])]
        : [];
    this.containers.push(container);
    await runChecked(
      defaultRunner,
      `starting test node ${container}`,
      'docker',
      [
        'run',
        '-d',
        '--name',
        container,
        '--hostname',
        name,
        '--label',
        `${TEST_LABEL}=${this.id}`,
        ...caps,
        ...net,
        '--sysctl',
        'net.ipv4.ip_forward=1',
        TEST_IMAGE,
        ...(opts.command ?? ['sleep', 'infinity']),
      ],
      { timeoutMs: 60_000 },
    );
    for (const extra of more) {
      await runChecked(
        defaultRunner,
        `attaching ${container} to ${extra.network.name}`,
        'docker',
        ['network', 'connect', ...(extra.ip ? ['--ip', extra.ip] : []), extra.network.name, container],
        { timeoutMs: 30_000 },
      );
    }
    const shell = new DockerNodeShell(container, name);
    return {
      name,
      container,
      shell,
      async ip(network) {
        const r = await runChecked(defaultRunner, `reading ${container}'s address`, 'docker', [
          'inspect',
          '-f',
          `{{(index .NetworkSettings.Networks "${network.name}").IPAddress}}`,
          container,
        ]);
        return r.stdout.trim();
      },
      async sh(argv, timeoutMs = 30_000) {
        const r = await shell.exec(argv, { timeoutMs });
        if (r.exitCode !== 0) {
          throw new Error(
            `in ${name}: \`${argv.join(' ')}\` exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`,
          );
        }
        return r.stdout;
      },
    };
  }

  /** Removes every container and network this bed created; returns what it could not remove. */
  async dispose(): Promise<string[]> {
    if (this.containers.length > 0) {
      await defaultRunner.run('docker', ['rm', '-f', '-v', ...this.containers], { timeoutMs: 60_000 });
      this.containers.length = 0;
    }
    for (const n of this.networks.splice(0)) {
      await defaultRunner.run('docker', ['network', 'rm', n], { timeoutMs: 30_000 });
    }
    // what is still there, asked of docker rather than inferred from exit codes and stderr
    return this.remaining();
  }

  /** Names of containers and networks still present with this bed's label (tests assert it is empty). */
  async remaining(): Promise<string[]> {
    const c = await defaultRunner.run('docker', [
      'ps',
      '-a',
      '--filter',
      `label=${TEST_LABEL}=${this.id}`,
      '--format',
      '{{.Names}}',
    ]);
    const n = await defaultRunner.run('docker', [
      'network',
      'ls',
      '--filter',
      `label=${TEST_LABEL}=${this.id}`,
      '--format',
      '{{.Name}}',
    ]);
    return [...c.stdout.split('\n'), ...n.stdout.split('\n')].map((s) => s.trim()).filter(Boolean);
  }
}

/**
 * `ip link add NAME type vxlan id VNI dstport 4789 dev eth0 [extra…]`: how Felix's VXLAN device looks
 * (VNI 4096 for vxlan.calico, port 4789, on the node's interface), for tests that plant one.
 */
export function vxlanAddArgv(name: string, vni: number, extra: string[] = []): string[] {
  return [
    'ip',
    'link',
    'add',
    name,
    'type',
    'vxlan',
    'id',
    String(vni),
    'dstport',
    '4789',
    'dev',
    'eth0',
    ...extra,
  ];
}
