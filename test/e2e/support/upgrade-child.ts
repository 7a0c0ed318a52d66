/**
 * The upgrade interrupt tests' child: `calico-conformance upgrade` on the bed (upgrade-doubles.ts) in its
 * own process with the real signal handlers, the real teardown registry and state file
 * (CALICO_CONFORMANCE_STATE_DIR) and the real KindProvider over the kind CLI double. The upgrade hangs
 * waiting for the components to reach B; the test signals the child once the hang marker exists.
 * argv: the upgrade command's flags. env: E2E_NETWORK, E2E_BED_ID, E2E_HANG_MARKER (file),
 * FAKE_KIND_NETWORK, FAKE_KIND_TAG, CALICO_CONFORMANCE_STATE_DIR.
 */
import { upgradeCommand } from '../../../harness/cli/commands/upgrade.js';
import { processIO } from '../../../harness/cli/io.js';
import { bedPreflight } from './docker-doubles.js';
import { bedUpgradeDeps, bedUpgradePipeline } from './upgrade-doubles.js';

const network = process.env.E2E_NETWORK;
const bedId = process.env.E2E_BED_ID;
if (!network || !bedId) {
  process.stderr.write('upgrade-child: E2E_NETWORK and E2E_BED_ID are required\n');
  process.exit(2);
}
process.exitCode = await upgradeCommand(process.argv.slice(2), processIO, {
  deps: (teardown) => bedUpgradePipeline(network, bedId, teardown),
  upgradeDeps: bedUpgradeDeps({
    hang: true,
    ...(process.env.E2E_HANG_MARKER ? { hangMarker: process.env.E2E_HANG_MARKER } : {}),
  }),
  preflight: async () => bedPreflight(),
  handleSignals: true,
});
