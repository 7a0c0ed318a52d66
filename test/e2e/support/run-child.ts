/**
 * The SIGINT test's child: `calico-conformance run` with the e2e doubles on real containers, in its own
 * process with the real signal handlers. One phase hangs (E2E_HANG); the test sends SIGINT once the hang
 * marker file exists and checks what the run left.
 * argv: the run command's flags. env: E2E_NETWORK, E2E_BED_ID, E2E_HANG (phase), E2E_HANG_MARKER (file).
 */
import { runCommand } from '../../../harness/cli/commands/run.js';
import { processIO } from '../../../harness/cli/io.js';
import type { RunPhase } from '../../../harness/model/results.js';
import { bedDeps, bedPreflight } from './docker-doubles.js';

const network = process.env.E2E_NETWORK;
const bedId = process.env.E2E_BED_ID;
if (!network || !bedId) {
  process.stderr.write('run-child: E2E_NETWORK and E2E_BED_ID are required\n');
  process.exit(2);
}
const hang = (process.env.E2E_HANG ?? 'install') as RunPhase;
const deps = bedDeps(
  { network, bedId, ...(process.env.E2E_HANG_MARKER ? { hangMarker: process.env.E2E_HANG_MARKER } : {}) },
  () => ({ [hang]: 'hang' }),
);
process.exitCode = await runCommand(process.argv.slice(2), processIO, {
  deps,
  preflight: async () => bedPreflight(),
  handleSignals: true,
});
