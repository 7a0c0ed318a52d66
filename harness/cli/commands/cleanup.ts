import { EnvironmentError, ExitCode } from '../../errors.js';
import type { ProcessRunner } from '../../exec/process.js';
import { cleanupLeftovers, formatCleanupReport } from '../../state/cleanup.js';
import { stateDir } from '../../state/run-state.js';
import { outputFormat, parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';

export const cleanupHelp = `calico-conformance cleanup [--all] [--dry-run] [--output text|json]
  Removes kind clusters, containers and temp files that runs of this harness created and left behind:
  everything recorded in the state directory by runs whose process is gone, kind clusters named cc-…-<hex>,
  and containers labelled calico-conformance.harness. --all also removes what live runs and --keep-cluster kept.
  State directory: $CALICO_CONFORMANCE_STATE_DIR, else $XDG_STATE_HOME/calico-conformance, else
  ~/.local/state/calico-conformance.
  Exit codes: 0 done, 1 something could not be removed, 3 the environment is not usable (docker missing or
  its daemon unreachable, so leftovers could not be searched for).`;

export async function cleanupCommand(
  argv: string[],
  io: CliIO,
  deps: { runner?: ProcessRunner } = {},
): Promise<number> {
  const { values } = parseCommandArgs('cleanup', argv, {
    all: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    output: { type: 'string' },
  });
  const format = outputFormat('cleanup', values.output);
  const dryRun = Boolean(values['dry-run']);
  const report = await cleanupLeftovers({
    all: Boolean(values.all),
    dryRun,
    dir: stateDir(io.env),
    ...(deps.runner ? { runner: deps.runner } : {}),
  });
  if (format === 'json') {
    io.out(
      JSON.stringify(
        {
          removed: report.removed.map((r) => ({ ...r.resource, detail: r.detail })),
          failed: report.failed.map((r) => ({ ...r.resource, detail: r.detail })),
          planned: report.planned,
          skipped: report.skipped.map((s) => ({ ...s.resource, why: s.why })),
          notes: report.notes,
          unusable: report.unusable,
        },
        null,
        2,
      ),
    );
  } else io.out(formatCleanupReport(report, dryRun));
  // What was found is printed above; a search that could not run is no clean bill of health (exit 3).
  if (report.unusable.length > 0) {
    throw new EnvironmentError(
      `could not search for leftovers: ${report.unusable.map((u) => u.problem).join('; ')}`,
      [...new Set(report.unusable.map((u) => u.missing))],
    );
  }
  return report.failed.length > 0 ? ExitCode.Failed : ExitCode.Ok;
}
