/**
 * The command line: parse, call, print (DESIGN.md contract). Commands load lazily so that `plan` and
 * `policy expect` start fast and need neither Docker nor a cluster.
 */
import { ExitCode, exitCodeOf, UsageError } from '../errors.js';
import { type CliIO, processIO } from './io.js';

type Command = (argv: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  plan: {
    summary: 'expand and validate the matrix (no Docker needed)',
    load: async () => (await import('./commands/plan.js')).planCommand,
  },
  render: {
    summary: 'write the kind config and Calico manifests of one cell',
    load: async () => (await import('./commands/render.js')).renderCommand,
  },
  run: {
    summary: 'run the whole pipeline for every cell',
    load: async () => (await import('./commands/run.js')).runCommand,
  },
  upgrade: {
    summary: 'upgrade Calico A → B under continuous traffic, then run the suites',
    load: async () => (await import('./commands/upgrade.js')).upgradeCommand,
  },
  collect: {
    summary: 'write a node dump of a live kind cluster',
    load: async () => (await import('./commands/collect.js')).collectCommand,
  },
  audit: {
    summary: 'audit a cluster or a node dump for Calico leftovers',
    load: async () => (await import('./commands/audit.js')).auditCommand,
  },
  policy: {
    summary: 'policy expect: print the expected NetworkPolicy truth table',
    load: async () => (await import('./commands/policy.js')).policyCommand,
  },
  report: {
    summary: 'merge result directories and render every report format',
    load: async () => (await import('./commands/report.js')).reportCommand,
  },
  cleanup: {
    summary: 'remove clusters and containers this harness left behind',
    load: async () => (await import('./commands/cleanup.js')).cleanupCommand,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: calico-conformance <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'cell options (plan, render, run, upgrade; comma-separated lists form a matrix):',
    '  --calico-version V  --install manifest|operator',
    '  --encapsulation IPIP|VXLAN|IPIPCrossSubnet|VXLANCrossSubnet|None',
    '  --pod-cidr CIDR  --service-cidr CIDR  --ip-pool-cidr CIDR  --block-size N  --nat-outgoing true|false',
    '  --workers N  --node-image IMAGE  --topology flat|split-subnet  --image-registry REGISTRY  --bgp Enabled|Disabled',
    '  --config FILE (YAML; flags override)',
    '',
    'exit codes: 0 passed/clean, 1 tests failed or leftovers found, 2 bad usage or config, 3 environment not usable',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // asked for: stdout, exit 0; no command at all is a usage error: stderr, exit 2
    if (name) io.out(usage());
    else io.err(usage());
    return name ? ExitCode.Ok : ExitCode.Usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(
      `unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')}\n\n${usage()}`,
    );
    return ExitCode.Usage;
  }
  try {
    const run = await command.load();
    return await run(rest, io);
  } catch (err) {
    const code = exitCodeOf(err);
    const label =
      code === ExitCode.Usage ? 'error' : code === ExitCode.Environment ? 'environment not usable' : 'failed';
    io.err(`calico-conformance ${name}: ${label}: ${(err as Error).message}`);
    if (code === ExitCode.Failed && !(err instanceof UsageError) && io.env.CALICO_CONFORMANCE_DEBUG) {
      io.err((err as Error).stack ?? '');
    }
    return code;
  }
}
