/**
 * A stand-in for a harness run, used by interrupt.docker.test.ts: it records and starts real containers and a
 * temp dir through the state file and the teardown registry, says READY, then sits in a long step until it is
 * signalled (or killed). Environment: STATE_DIR, RUN_TAG (a docker label value the parent filters on).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRunner, runChecked } from '../../../harness/exec/process.js';
import { HARNESS_LABEL, harnessLabelValue } from '../../../harness/state/cleanup.js';
import { RunState } from '../../../harness/state/run-state.js';
import { Teardown } from '../../../harness/state/teardown.js';

const stateDir = process.env.STATE_DIR;
const tag = process.env.RUN_TAG;
const image = process.env.TEST_NODE_IMAGE ?? 'calico-conformance-testnode:latest';
if (!stateDir || !tag) throw new Error('STATE_DIR and RUN_TAG are required');

const state = new RunState(stateDir);
const teardown = new Teardown({ state, log: (l) => process.stderr.write(`${l}\n`) });
teardown.installProcessHandlers();

const dir = mkdtempSync(join(tmpdir(), 'cc-interrupt-'));
teardown.track('temp-path', dir, 'scratch dir');
const containers: string[] = [];
for (const i of [1, 2]) {
  const name = `cc-int-${tag}-${i}`;
  teardown.track('container', name, 'test node');
  await runChecked(
    defaultRunner,
    `starting ${name}`,
    'docker',
    [
      'run',
      '-d',
      '--name',
      name,
      '--label',
      `${HARNESS_LABEL}=${harnessLabelValue()}`,
      '--label',
      `calico-conformance.test=${tag}`,
      '--network',
      'none',
      image,
      'sleep',
      'infinity',
    ],
    { timeoutMs: 60_000 },
  );
  containers.push(name);
}
process.stdout.write(`READY ${JSON.stringify({ containers, dir, stateFile: state.file })}\n`);
// CRASH=1: an exception escapes the run mid-way (a bug, a failed assertion in harness code)
if (process.env.CRASH === '1')
  setTimeout(() => {
    throw new Error('simulated crash mid-way');
  }, 200);
// the long step the run is in when it is interrupted
await new Promise((r) => setTimeout(r, 10 * 60_000));
