/**
 * Every failed probe of a policy scenario carries the command that repeats it: the runner gives each
 * failed cell of its grids the detail and command of the enforce phase's last round.
 */
import { describe, expect, it } from 'vitest';
import type { ProbeKey, ProbeRecord } from '../../../harness/model/connectivity.js';
import { formatGrid } from '../../../harness/policy/grid-text.js';
import { standardModel } from '../../../harness/policy/model.js';
import { formatScenarioFailure, runScenario } from '../../../harness/policy/runner.js';
import type { Clock } from '../../../harness/time/clock.js';

const clock: Clock & { t: number } = {
  t: 0,
  now() {
    return this.t;
  },
  async sleep(ms: number) {
    this.t += ms;
  },
};

describe('policy runner: failed probes carry their command', () => {
  it('lists each failed cell with the command of its record, in the grids and the failure text', async () => {
    // the dataplane never enforces deny-all-ingress in x: every probe into x connects
    const prober = {
      async probe(keys: ProbeKey[]): Promise<ProbeRecord[]> {
        clock.t += 1000;
        return keys.map((k) => ({
          ...k,
          verdict: 'connected' as const,
          durationMs: 5,
          detail: 'answered',
          command: `kubectl exec -n ${k.from.split('/')[0]} ${k.from.split('/')[1]} -c cont-80 -- nc -v -z -w 1 ${k.to} ${k.port}`,
        }));
      },
    };
    const applier = { async apply() {}, async remove() {} };
    const r = await runScenario(
      {
        name: 'deny-all-ingress',
        tags: [],
        model: standardModel(),
        policies: [
          {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            metadata: { name: 'deny', namespace: 'x' },
            spec: { podSelector: {} },
          },
        ],
      },
      { prober, applier },
      { clock, enforceTimeoutMs: 3000, pollIntervalMs: 0 },
    );
    expect(r.outcome).toBe('failed');
    const tcp80 = r.grids.find((g) => g.protocol === 'TCP' && g.port === 80)!;
    expect(tcp80.failures?.['y/a']?.['x/b']).toEqual({
      detail: 'answered',
      command: 'kubectl exec -n y a -c cont-80 -- nc -v -z -w 1 x/b 80',
    });
    // only failed cells keep anything
    expect(tcp80.failures?.['x/a']?.['y/b']).toBeUndefined();
    expect(formatGrid(tcp80)).toContain(
      '  y/a → x/b: expected denied, observed connected (answered)\n    kubectl exec -n y a -c cont-80 -- nc -v -z -w 1 x/b 80',
    );
    expect(formatScenarioFailure(r)).toContain('    kubectl exec -n y a -c cont-80 -- nc -v -z -w 1 x/b 80');
  });
});
