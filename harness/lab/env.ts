/**
 * `run --lab` / `upgrade --lab`: the harness unchanged in shape, on the lab's parts. Entering the lab
 * checks that it is complete (exit 3 otherwise), makes sure kind's docker network exists on the subnet the
 * lab chose, and puts the lab's kind and its docker shim first on PATH for every subprocess of this run, so
 * each `kind` call (create, load, delete, cleanup) is the lab's and reaches only networks the lab made.
 */
import { delimiter, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { defaultRunner, type ProcessRunner } from '../exec/process.js';
import {
  agnhostImage,
  LAB_SOURCE_DIR,
  type LabLock,
  labCalicoctl,
  labNodeImage,
  labPaths,
  readLabLock,
} from './lock.js';
import { requireLab, unavailablePaths } from './status.js';

/** kind's docker network in the lab, created by the lab on a subnet clear of every default pod, service and test range. */
export const LAB_NETWORK = 'cc-lab';
export const LAB_SUBNET = '10.242.7.0/24';
export const LAB_GATEWAY = '10.242.7.1';

export interface Lab {
  lock: LabLock;
  calicoVersion: string;
  nodeImage: string;
  manifestsDir: string;
  /** images a cell needs besides Calico's, loaded into every node (the probe pods' agnhost) */
  extraImages: string[];
  agnhostImage: string;
  /** what was changed in this process's environment (for the run's evidence) */
  env: Record<string, string>;
  /** install paths this lab cannot run, with the reason (their cells are skipped) */
  unavailablePaths: { operator?: string };
  /** the lab's calicoctl (the Calico policy scenarios on the manifest path use it unless --calicoctl is given) */
  calicoctl: string;
}

export async function ensureLabNetwork(runner: ProcessRunner = defaultRunner): Promise<string> {
  const inspect = await runner.run(
    'docker',
    ['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', LAB_NETWORK],
    {
      timeoutMs: 30_000,
    },
  );
  if (inspect.exitCode === 0) {
    const subnets = inspect.stdout.trim().split(/\s+/).filter(Boolean);
    if (!subnets.includes(LAB_SUBNET))
      throw new EnvironmentError(
        `--lab: docker network ${LAB_NETWORK} exists with subnet(s) ${subnets.join(', ') || 'none'}, not the lab's ${LAB_SUBNET}; remove it (docker network rm ${LAB_NETWORK}) and run again`,
        ['lab network'],
      );
    return `docker network ${LAB_NETWORK} (${LAB_SUBNET}) present`;
  }
  const create = await runner.run(
    'docker',
    [
      'network',
      'create',
      '--driver',
      'bridge',
      '--subnet',
      LAB_SUBNET,
      '--gateway',
      LAB_GATEWAY,
      '--label',
      'calico-conformance.lab=true',
      '-o',
      'com.docker.network.driver.mtu=1500',
      LAB_NETWORK,
    ],
    { timeoutMs: 30_000 },
  );
  if (create.exitCode !== 0)
    throw new EnvironmentError(
      `--lab: could not create docker network ${LAB_NETWORK}: ${create.stderr.trim()}`,
      ['lab network'],
    );
  return `created docker network ${LAB_NETWORK} (${LAB_SUBNET})`;
}

/** The PATH and variables of a lab run (pure: `enterLab` applies them). */
export function labEnvironment(lock: LabLock, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const paths = labPaths();
  return {
    PATH: [join(LAB_SOURCE_DIR, 'shim'), paths.bin, base.PATH ?? ''].join(delimiter),
    KIND_EXPERIMENTAL_DOCKER_NETWORK: LAB_NETWORK,
    // testcontainers' reaper image cannot be pulled here; the harness removes its own containers
    TESTCONTAINERS_RYUK_DISABLED: 'true',
    CALICO_CONFORMANCE_AGNHOST_IMAGE: agnhostImage(lock),
  };
}

export async function enterLab(
  opts: { runner?: ProcessRunner; log?: (line: string) => void; cells?: readonly { install: string }[] } = {},
): Promise<Lab> {
  const lock = readLabLock();
  const status = await requireLab();
  const paths = unavailablePaths(status, opts.cells ?? []);
  // nothing the run asked for can run here: the environment (exit 3); otherwise the operator cells are
  // skipped with the reason, as IPIP cells are on a kernel without ipip
  if (paths.all)
    throw new EnvironmentError(
      `--lab: operator cells need parts this lab does not have: ${paths.missing.join('; ')}. Run the manifest path (--install manifest)`,
      ['lab operator'],
    );
  const env = labEnvironment(lock);
  Object.assign(process.env, env);
  opts.log?.(await ensureLabNetwork(opts.runner ?? defaultRunner));
  return {
    lock,
    calicoVersion: lock.calico.version,
    nodeImage: labNodeImage(lock),
    manifestsDir: labPaths().manifests,
    extraImages: [agnhostImage(lock)],
    agnhostImage: agnhostImage(lock),
    env,
    unavailablePaths: paths.operator ? { operator: paths.operator } : {},
    calicoctl: labCalicoctl(),
  };
}
