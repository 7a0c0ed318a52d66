/**
 * The command line: find the command, answer `--help` and `--version` the same way for every command, call
 * it, print its error with the exit code it maps to. Commands load lazily so that `plan` and `policy expect`
 * start fast and need neither Docker nor a cluster.
 */
import { ExitCode, exitCodeOf, UsageError } from '../errors.js';
import { type CliIO, processIO } from './io.js';
import { toolVersion } from './version.js';

type Command = (argv: string[], io: CliIO) => Promise<number>;

interface CommandEntry {
  summary: string;
  /** takes the shared cell options: its help ends with their list */
  cellOptions?: boolean;
  load: () => Promise<{ run: Command; help: string }>;
}

const COMMANDS: Record<string, CommandEntry> = {
  plan: {
    summary: 'expand and validate the matrix (no Docker needed)',
    cellOptions: true,
    load: async () => {
      const m = await import('./commands/plan.js');
      return { run: m.planCommand, help: m.planHelp };
    },
  },
  render: {
    summary: 'write the kind config and Calico manifests of one cell',
    cellOptions: true,
    load: async () => {
      const m = await import('./commands/render.js');
      return { run: m.renderCommand, help: m.renderHelp };
    },
  },
  run: {
    summary: 'run the whole pipeline for every cell',
    cellOptions: true,
    load: async () => {
      const m = await import('./commands/run.js');
      return { run: m.runCommand, help: m.runHelp };
    },
  },
  upgrade: {
    summary: 'upgrade Calico A → B under continuous traffic, then run the suites',
    load: async () => {
      const m = await import('./commands/upgrade.js');
      return { run: m.upgradeCommand, help: m.upgradeHelp };
    },
  },
  collect: {
    summary: 'write a node dump of a live kind cluster',
    load: async () => {
      const m = await import('./commands/collect.js');
      return { run: m.collectCommand, help: m.collectHelp };
    },
  },
  audit: {
    summary: 'audit a cluster or a node dump for Calico leftovers',
    load: async () => {
      const m = await import('./commands/audit.js');
      return { run: m.auditCommand, help: m.auditHelp };
    },
  },
  policy: {
    summary: 'policy expect: print the expected NetworkPolicy truth table',
    load: async () => {
      const m = await import('./commands/policy.js');
      return { run: m.policyCommand, help: m.policyHelp };
    },
  },
  report: {
    summary: 'merge result directories and render every report format',
    load: async () => {
      const m = await import('./commands/report.js');
      return { run: m.reportCommand, help: m.reportHelp };
    },
  },
  cleanup: {
    summary: 'remove clusters and containers this harness left behind',
    load: async () => {
      const m = await import('./commands/cleanup.js');
      return { run: m.cleanupCommand, help: m.cleanupHelp };
    },
  },
};

/** Every command's name, in the order `--help` lists them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

const CELL_OPTIONS_HELP = [
  'cell options (comma-separated lists form a matrix):',
  '  --calico-version V  --install manifest|operator',
  '  --encapsulation IPIP|VXLAN|IPIPCrossSubnet|VXLANCrossSubnet|None',
  '  --pod-cidr CIDR  --service-cidr CIDR  --ip-pool-cidr CIDR  --block-size N  --nat-outgoing true|false',
  '  --workers N  --node-image IMAGE  --topology flat|split-subnet  --image-registry REGISTRY  --bgp Enabled|Disabled',
  '  --config FILE (YAML; flags override)',
];

/** `--help` or `-h` anywhere before a `--` (after it everything is an argument). */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: calico-conformance <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    `cell options (plan, render, run, upgrade)${CELL_OPTIONS_HELP[0]!.slice('cell options'.length)}`,
    ...CELL_OPTIONS_HELP.slice(1),
    '',
    '`calico-conformance <command> --help` prints the options of a command; --version the version.',
    'exit codes: 0 passed/clean, 1 tests failed or leftovers found, 2 bad usage or config, 3 environment not usable',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version') {
    io.out(`calico-conformance ${toolVersion()}`);
    return ExitCode.Ok;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // asked for: stdout, exit 0; no command at all is a usage error: stderr, exit 2
    if (name) io.out(usage());
    else io.err(usage());
    return name ? ExitCode.Ok : ExitCode.Usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    const problem = name.startsWith('-')
      ? `Unknown option '${name}' before the command; valid options: --help, --version`
      : `unknown command ${JSON.stringify(name)}`;
    io.err(`${problem}; commands: ${Object.keys(COMMANDS).join(', ')}\n\n${usage()}`);
    return ExitCode.Usage;
  }
  try {
    const { run, help } = await command.load();
    if (wantsHelp(rest)) {
      io.out(command.cellOptions ? `${help}\n\n${CELL_OPTIONS_HELP.join('\n')}` : help);
      return ExitCode.Ok;
    }
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
