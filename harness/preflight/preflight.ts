/**
 * Preflight: is this machine able to run the requested cells? Docker must answer, kind must be on PATH
 * (unless the cells run against an existing cluster), and IPIP cells need ipip in the host kernel. A
 * missing Docker or kind stops the run before anything is created (EnvironmentError, exit 3) and says how
 * to get it; missing ipip only skips the IPIP cells, with the reason.
 */
import type { Cell } from '../config/cell.js';
import { EnvironmentError } from '../errors.js';
import type { ProcessRunner } from '../exec/process.js';
import { cellRequirements, skipReason } from '../model/requirements.js';
import { defaultKernelPaths, detectIpip, type IpipSupport, type KernelPaths } from './ipip.js';

export interface ToolCheck {
  ok: boolean;
  version?: string;
  /** what is wrong and how to fix it */
  problem?: string;
}

export interface PreflightReport {
  docker: ToolCheck;
  kind: ToolCheck;
  ipip: IpipSupport;
  /** lines for the preflight phase's evidence */
  evidence: string[];
  /**
   * Install paths this environment cannot run, with the reason (the lab without its optional operator
   * part): their cells are skipped with that reason, as the IPIP cells without the kernel module are.
   */
  unavailablePaths?: Partial<Record<Cell['install'], string>>;
}

export interface PreflightOptions {
  runner: ProcessRunner;
  kernelPaths?: KernelPaths;
  /** kind is needed only when the run creates clusters */
  needKind?: boolean;
  /** run IPIP cells even when the kernel check is inconclusive or negative */
  assumeIpip?: boolean;
  dockerCommand?: string;
  kindCommand?: string;
}

export const MIN_KIND_VERSION = '0.20.0';

export async function checkDocker(runner: ProcessRunner, docker = 'docker'): Promise<ToolCheck> {
  const r = await runner.run(docker, ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
  if (r.exitCode === 0 && r.stdout.trim() && !/error/i.test(r.stdout))
    return { ok: true, version: r.stdout.trim() };
  if (r.exitCode === 127)
    return {
      ok: false,
      problem:
        'docker: command not found. Install Docker Engine (https://docs.docker.com/engine/install/) or the ' +
        'docker.io package, then start the daemon',
    };
  const said = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ');
  return {
    ok: false,
    problem:
      `the Docker daemon does not answer \`docker info\`${r.timedOut ? ' (timed out after 20s)' : `: ${said}`}. ` +
      'Start it (`sudo systemctl start docker`) and make sure this user may use it (member of the `docker` group, or DOCKER_HOST set)',
  };
}

export async function checkKind(runner: ProcessRunner, kind = 'kind'): Promise<ToolCheck> {
  const r = await runner.run(kind, ['version'], { timeoutMs: 20_000 });
  const install =
    'Install kind v0.31.0 or newer: `go install sigs.k8s.io/kind@v0.31.0`, or download the binary from ' +
    'https://kind.sigs.k8s.io/docs/user/quick-start/#installation and put it on PATH';
  if (r.exitCode === 127) return { ok: false, problem: `kind: command not found. ${install}` };
  if (r.exitCode !== 0)
    return { ok: false, problem: `\`kind version\` exited ${r.exitCode}: ${r.stderr.trim()}. ${install}` };
  // `kind v0.31.0 go1.25.5 linux/amd64`
  const m = /kind v?(\d+\.\d+\.\d+)/.exec(r.stdout);
  if (!m) return { ok: true, version: r.stdout.trim() };
  const version = m[1]!;
  if (compareVersions(version, MIN_KIND_VERSION) < 0)
    return {
      ok: false,
      version,
      problem: `kind ${version} is older than ${MIN_KIND_VERSION} (the oldest release whose node images and config this harness renders). ${install}`,
    };
  return { ok: true, version };
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export async function runPreflight(opts: PreflightOptions): Promise<PreflightReport> {
  const needKind = opts.needKind ?? true;
  const [docker, kind, ipip] = await Promise.all([
    checkDocker(opts.runner, opts.dockerCommand),
    needKind
      ? checkKind(opts.runner, opts.kindCommand)
      : Promise.resolve<ToolCheck>({ ok: true, version: 'not needed (existing cluster)' }),
    detectIpip(opts.kernelPaths ?? defaultKernelPaths(), opts.runner, opts.assumeIpip ?? false),
  ]);
  const evidence = [
    docker.ok ? `docker: server ${docker.version}` : `docker: ${docker.problem}`,
    kind.ok ? `kind: ${kind.version}` : `kind: ${kind.problem}`,
    `ipip: ${ipip.support}${ipip.available ? '' : ' (IPIP cells will be skipped)'}`,
    ...ipip.evidence.map((e) => `  ${e}`),
  ];
  return { docker, kind, ipip, evidence };
}

/** Throws the EnvironmentError (exit 3) that lists everything missing, or returns. */
export function assertUsable(report: PreflightReport): void {
  const problems: string[] = [];
  const missing: string[] = [];
  if (!report.docker.ok) {
    problems.push(report.docker.problem ?? 'docker is not usable');
    missing.push('docker');
  }
  if (!report.kind.ok) {
    problems.push(report.kind.problem ?? 'kind is not usable');
    missing.push('kind');
  }
  if (problems.length > 0) {
    throw new EnvironmentError(
      `this machine cannot run clusters:\n  - ${problems.join('\n  - ')}\n` +
        '(`calico-conformance plan` and `render` work without them; `run --kubeconfig FILE --skip-create` needs no kind)',
      missing,
    );
  }
}

/**
 * Why a cell cannot run on this host, or undefined: what the cell requires (its install path, and the host's
 * ipip for IPIP and IPIPCrossSubnet on either path) judged by harness/model/requirements.ts against the
 * preflight's findings.
 */
export function cellSkipReason(
  cell: Cell,
  report: Pick<PreflightReport, 'ipip' | 'unavailablePaths'>,
): string | undefined {
  return skipReason(cellRequirements(cell), {
    cell,
    ipip: report.ipip,
    ...(report.unavailablePaths ? { unavailablePaths: report.unavailablePaths } : {}),
  });
}
